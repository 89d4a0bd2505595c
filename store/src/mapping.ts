import type { DeviceKind } from '@citytel/contract';
import type { Selectable } from 'kysely';
import type { AuditTable, DevicesTable, OperatorsTable, RejectionsTable } from './schema.ts';
import type { AuditAction, AuditEntry, Device, Operator, Rejection } from './types.ts';

/** The one write-side conversion of times: ISO-8601, which sorts as text and parses as timestamptz. */
export const iso = (d: Date): string => d.toISOString();
/** The one write-side conversion of booleans (see schema.ts). */
export const bit = (b: boolean | undefined): number => (b ? 1 : 0);

const toDate = (v: Date | string): Date => (v instanceof Date ? v : new Date(v));
const toDateOrNull = (v: Date | string | null): Date | null => (v === null ? null : toDate(v));

export function toDevice(row: Selectable<DevicesTable>): Device {
  return {
    id: row.id,
    kind: row.kind as DeviceKind,
    operatorId: row.operator_id,
    name: row.name,
    lat: row.lat,
    lon: row.lon,
    mobile: Boolean(row.mobile),
    indoor: Boolean(row.indoor),
    publicTrack: Boolean(row.public_track),
    createdAt: toDate(row.created_at),
    lastSeenAt: toDateOrNull(row.last_seen_at),
    firmware: row.firmware,
    disabled: Boolean(row.disabled),
  };
}

export function toOperator(row: Selectable<OperatorsTable>): Operator {
  return {
    id: row.id,
    name: row.name,
    admin: Boolean(row.admin),
    createdAt: toDate(row.created_at),
    revokedAt: toDateOrNull(row.revoked_at),
  };
}

export function toRejection(row: Selectable<RejectionsTable>): Rejection {
  return {
    deviceId: row.device_id,
    at: toDate(row.at),
    topic: row.topic,
    reason: row.reason,
    detail: row.detail,
    sample: row.sample,
  };
}

export function toAuditEntry(row: Selectable<AuditTable>): AuditEntry {
  return {
    id: Number(row.id),
    at: toDate(row.at),
    actor: row.actor,
    action: row.action as AuditAction,
    target: row.target,
    detail: row.detail,
  };
}
