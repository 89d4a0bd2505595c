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
  createdAt: Date;
  lastSeenAt: Date | null;
  /** Last `hello` / `info` of an SCK kit, or the airrohr software version. */
  firmware: string | null;
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
  /** BOOTSTRAP_ADMIN_TOKEN: creates the `admin` operator with this token unless a token already matches. */
  ensureBootstrapAdmin(token: string): Promise<Operator>;
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

export interface Store {
  readonly dialect: 'sqlite' | 'postgres';
  devices: DeviceRepo;
  operators: OperatorRepo;
  rejections: RejectionRepo;
  /** Coalesced last-seen updates: one statement for many devices. */
  touchMany(seen: Array<{ id: string; at: Date; firmware?: string }>): Promise<void>;
  /** A cheap round trip, for /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export class StoreConflictError extends Error {
  override name = 'StoreConflictError';
}
