import type { DeviceKind } from '@citytel/contract';

/**
 * The durable store's interface. Two backends implement it through one Kysely code path: the embedded
 * SQLite file under DATA_DIR (default; WAL mode so broker, ingest and api share it) and PostgreSQL
 * (DATABASE_URL=postgres://...).
 */

export interface Device {
  id: string;
  kind: DeviceKind;
  /** Operator that registered the device (vehicles belong to their operator). */
  operatorId: string | null;
  name: string | null;
  /** Registered position of a fixed kit. */
  lat: number | null;
  lon: number | null;
  mobile: boolean;
  /** Home / indoor kits: their exact position is never served publicly. */
  indoor: boolean;
  /** A mobile kit whose owner opted in to a public exact track; otherwise its readings are shown at their cell. */
  publicTrack: boolean;
  createdAt: Date;
  lastSeenAt: Date | null;
  /** Last `hello` / `info` of an SCK kit, or the airrohr software version. */
  firmware: string | null;
  /** Disabled by its operator: every login refused, record and history kept. */
  disabled?: boolean;
}

export interface NewDevice {
  id: string;
  kind: DeviceKind;
  operatorId?: string | null;
  name?: string | null;
  lat?: number | null;
  lon?: number | null;
  mobile?: boolean;
  indoor?: boolean;
  publicTrack?: boolean;
}

/** Returned once at creation: the only time the clear secret (or SCK token) exists outside the device. */
export interface ProvisionedDevice {
  device: Device;
  /** MQTT / Basic-auth password for native, airrohr and vehicle devices. */
  secret?: string;
  /** For `sck` kits: the 6-character token used as MQTT client id and in topics. */
  token?: string;
}

export interface Operator {
  id: string;
  name: string;
  admin: boolean;
  createdAt: Date;
  /** When its token was revoked: no token works until one is issued again (rotation). */
  revokedAt?: Date | null;
}

export interface DeviceRepo {
  /** Creates a device with a fresh secret (or SCK token); throws StoreConflictError if the id exists. */
  create(input: NewDevice): Promise<ProvisionedDevice>;
  get(id: string): Promise<Device | undefined>;
  list(filter?: { kind?: DeviceKind; operatorId?: string }): Promise<Device[]>;
  /** The device whose id and secret match, or undefined. Slow by design (scrypt). */
  verifySecret(id: string, secret: string): Promise<Device | undefined>;
  /** The `sck` device registered under this token, or undefined. Slow by design (scrypt). */
  findBySckToken(token: string): Promise<Device | undefined>;
  /** Records that a device was heard from; `firmware` when it said which. */
  touch(id: string, at: Date, firmware?: string): Promise<void>;
  remove(id: string): Promise<boolean>;
  /** Disables or enables a device; undefined when there is none. */
  setDisabled(id: string, disabled: boolean): Promise<Device | undefined>;
  /**
   * A new secret (or, for an `sck` kit, a new token) replaces the old one, which no login accepts from
   * then on; returned this once, as at creation. Undefined when there is no such device.
   */
  rotateCredentials(id: string): Promise<ProvisionedDevice | undefined>;
  /**
   * A short tag of the device's current credential, or undefined when it is gone or disabled: a cache of
   * verified logins compares it (one indexed read, no hashing) to learn that a credential was revoked.
   */
  loginTag(id: string): Promise<string | undefined>;
}

export interface OperatorRepo {
  /** Creates an operator and its bearer token (random 32 bytes unless given); returns the clear token once. */
  create(input: {
    id: string;
    name: string;
    admin?: boolean;
    token?: string;
  }): Promise<{ operator: Operator; token: string }>;
  get(id: string): Promise<Operator | undefined>;
  /** The operator owning this bearer token, or undefined. */
  verifyToken(token: string): Promise<Operator | undefined>;
  /**
   * BOOTSTRAP_ADMIN_TOKEN: creates the `admin` operator with this token unless a token already matches. A
   * changed variable replaces the admin's token (the installation's recovery key); the same value after its
   * token was rotated or revoked through the api does not bring it back (undefined, with a warning).
   */
  ensureBootstrapAdmin(token: string): Promise<Operator | undefined>;
  /** A new token for the operator, the old one refused from now on; undefined when there is no such operator. */
  rotateToken(id: string): Promise<{ operator: Operator; token: string } | undefined>;
  /** Revokes the operator's token: none works until rotateToken issues one. */
  revokeToken(id: string): Promise<Operator | undefined>;
  list(): Promise<Operator[]>;
}

/** Audit actions on credentials; those in REVOKING_ACTIONS end a device's logins and connections. */
export const AUDIT_ACTIONS = [
  'device.create',
  'device.delete',
  'device.disable',
  'device.enable',
  'device.rotate_secret',
  'operator.create',
  'operator.rotate_token',
  'operator.revoke_token',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];
export const REVOKING_ACTIONS: ReadonlySet<AuditAction> = new Set([
  'device.delete',
  'device.disable',
  'device.rotate_secret',
]);

/** One audited act: who (an operator id, or `cli` for the provisioning CLI), what, on which id. */
export interface AuditEntry {
  id: number;
  at: Date;
  actor: string;
  action: AuditAction;
  target: string;
  detail: string | null;
}

export interface AuditRepo {
  add(entry: {
    actor: string;
    action: AuditAction;
    target: string;
    detail?: string | null;
  }): Promise<AuditEntry>;
  /** Newest first; `before` is an entry id (cursor). */
  list(filter?: { target?: string; actor?: string; before?: number; limit?: number }): Promise<AuditEntry[]>;
  /** Oldest first: entries after `id`, for the brokers' revocation watch. */
  after(id: number, limit?: number): Promise<AuditEntry[]>;
  /** The newest entry's id, 0 when there is none. */
  latestId(): Promise<number>;
}

/** A message (or field) that ingest refused, kept for `GET /api/v1/devices/{id}/rejections`. */
export interface Rejection {
  deviceId: string;
  at: Date;
  topic: string;
  reason: string;
  detail: string;
  /** The start of the refused payload, for the kit's owner to debug (at most 512 characters). */
  sample: string | null;
}

export interface RejectionRepo {
  /** Appends rejections; each device keeps only its newest `keep` (default 100). */
  add(rows: Rejection[], keep?: number): Promise<void>;
  /** Newest first. */
  list(deviceId: string, limit?: number): Promise<Rejection[]>;
}

import type {
  BookingRepo,
  CommandRepo,
  FleetRegistryRepo,
  OfflineEventRepo,
  RoamingRepo,
} from './types-carsharing.ts';

export * from './types-carsharing.ts';

export interface Store {
  readonly dialect: 'sqlite' | 'postgres';
  devices: DeviceRepo;
  operators: OperatorRepo;
  rejections: RejectionRepo;
  bookings: BookingRepo;
  commands: CommandRepo;
  audit: AuditRepo;
  fleet: FleetRegistryRepo;
  roaming: RoamingRepo;
  offlineEvents: OfflineEventRepo;
  /** Coalesced last-seen updates: one statement for many devices. */
  touchMany(seen: Array<{ id: string; at: Date; firmware?: string }>): Promise<void>;
  /** A cheap round trip, for /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export class StoreConflictError extends Error {
  override name = 'StoreConflictError';
}

/** Another booking of the same car overlaps the one asked for. */
export class BookingConflictError extends StoreConflictError {
  override name = 'BookingConflictError';
  constructor(
    message: string,
    /** The booking in the way, when it could be read. */
    readonly conflictingId?: string,
  ) {
    super(message);
  }
}
