import type { ColumnType } from 'kysely';

/**
 * Row types as the two drivers hand them back. Times are written as ISO-8601 strings (text in SQLite,
 * timestamptz in PostgreSQL, which parses them) and read as a string or a Date; booleans are written as
 * 0/1 (an integer in SQLite; PostgreSQL parses '1'/'0' as boolean input) and read as a number or a
 * boolean. `mapping.ts` is the one place that turns them into domain values.
 */
export type Time = ColumnType<Date | string, string, string>;
export type NullableTime = ColumnType<Date | string | null, string | null | undefined, string | null>;
export type Bool = ColumnType<boolean | number, number, number>;

export interface DevicesTable {
  id: string;
  kind: string;
  operator_id: string | null;
  name: string | null;
  lat: number | null;
  lon: number | null;
  mobile: Bool;
  indoor: Bool;
  public_track: Bool;
  secret_hash: string | null;
  token_hash: string | null;
  created_at: Time;
  last_seen_at: NullableTime;
  firmware: string | null;
  disabled: ColumnType<boolean | number, number | undefined, number>;
}

export interface OperatorsTable {
  id: string;
  name: string;
  admin: Bool;
  token_hash: string;
  created_at: Time;
  revoked_at: NullableTime;
}

export interface RejectionsTable {
  id: ColumnType<number | string, never, never>;
  device_id: string;
  at: Time;
  topic: string;
  reason: string;
  detail: string;
  sample: string | null;
}

export interface MetaTable {
  key: string;
  value: string;
}

export interface BookingsTable {
  id: string;
  operator_id: string;
  vehicle_id: string;
  member_id: string;
  start_at: Time;
  end_at: Time;
  created_at: Time;
  cancelled_at: NullableTime;
  /** Migration 010: when the member returned the car before the booked end (end_at moved to it). */
  returned_at: NullableTime;
  /** Migration 014: the member's operator when it is not the car's (roaming). */
  home_operator_id: string | null;
  odometer_start_km: number | null;
  odometer_end_km: number | null;
  credential_hash: string | null;
}

export interface CommandsTable {
  id: string;
  vehicle_id: string;
  operator_id: string;
  requested_by: string;
  member_id: string | null;
  booking_id: string;
  action: string;
  state: string;
  reason: string | null;
  issued_at: Time;
  expires_at: Time;
  updated_at: Time;
  idempotency_key: string;
  request_hash: string;
  /** Migration 014: the member's operator when it is not the car's. */
  home_operator_id: string | null;
}

export interface CommandEventsTable {
  id: ColumnType<number | string, never, never>;
  command_id: string;
  state: string;
  at: Time;
  reason: string | null;
}

export interface AuditTable {
  id: ColumnType<number | string, never, never>;
  at: Time;
  actor: string;
  action: string;
  target: string;
  detail: string | null;
}

/** Migration 011. */
export interface StationsTable {
  id: string;
  operator_id: string;
  name: string;
  lat: number;
  lon: number;
  address: string | null;
  parking_type: string | null;
  capacity: number | null;
  charging: Bool;
  updated_at: Time;
}

/** Migration 012. */
export interface VehicleTypesTable {
  operator_id: string;
  id: string;
  propulsion: string;
  make: string;
  model: string;
  max_range_m: number;
  g_co2_km: number | null;
  rider_capacity: number | null;
  updated_at: Time;
}

export interface VehiclePlacementsTable {
  vehicle_id: string;
  vehicle_type_id: string;
  station_id: string | null;
  updated_at: Time;
}

/** Migration 013: JSON the api validates. */
export interface GbfsSystemsTable {
  operator_id: string;
  info: string;
  pricing_plans: string | null;
  updated_at: Time;
}

/** Migration 014: `accepts` is `"*"` or a JSON array of operator ids. */
export interface RoamingPoliciesTable {
  operator_id: string;
  accepts: string;
  updated_at: Time;
}

/** Migration 014: what a car did without network, as it recorded it. */
export interface OfflineEventsTable {
  vehicle_id: string;
  seq: number | string;
  at: Time;
  event: string;
  booking_id: string | null;
  reason: string | null;
  received_at: Time;
}

export interface Database {
  devices: DevicesTable;
  operators: OperatorsTable;
  rejections: RejectionsTable;
  meta: MetaTable;
  bookings: BookingsTable;
  commands: CommandsTable;
  command_events: CommandEventsTable;
  audit: AuditTable;
  stations: StationsTable;
  vehicle_types: VehicleTypesTable;
  vehicle_placements: VehiclePlacementsTable;
  gbfs_systems: GbfsSystemsTable;
  roaming_policies: RoamingPoliciesTable;
  offline_events: OfflineEventsTable;
}
