import type { CommandAction, CommandState, DeviceKind } from '@citytel/contract';

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

/**
 * A carsharing booking: one car, for one member of one operator, over [start, end). A cancelled booking
 * keeps its record (commands point at it) and no longer blocks the car.
 */
export interface Booking {
  id: string;
  /** The operator the car belongs to; only it (or an admin) sees and changes the booking. */
  operatorId: string;
  vehicleId: string;
  /** The member, as the operator identifies them; the platform keeps no other personal data. */
  memberId: string;
  start: Date;
  end: Date;
  createdAt: Date;
  cancelledAt: Date | null;
  /** When the member returned the car before the booked end; `end` is then this time. */
  returnedAt: Date | null;
  /** The member's own operator (roaming): the car's operator when the member is its own. */
  homeOperatorId: string;
  /** The car's odometer at the first unlock and at the end of the booking, when the api saw them. */
  odometerStartKm: number | null;
  odometerEndKm: number | null;
  /** Hex SHA-256 of the member's card id or phone key, for offline unlock (never the id itself). */
  credentialHash: string | null;
}

export interface NewBooking {
  operatorId: string;
  /** The member's operator, when not the car's (roaming). */
  homeOperatorId?: string | undefined;
  credentialHash?: string | null | undefined;
  vehicleId: string;
  memberId: string;
  start: Date;
  end: Date;
}

export interface BookingFilter {
  operatorId?: string | undefined;
  /** Bookings this operator may see: of its cars, or of its members (roaming). */
  visibleTo?: string | undefined;
  vehicleId?: string | undefined;
  memberId?: string | undefined;
  /** Only bookings with start <= at < end, not cancelled: who has each car now. */
  activeAt?: Date | undefined;
  /** Only bookings that overlap [from, to). */
  from?: Date | undefined;
  to?: Date | undefined;
  includeCancelled?: boolean | undefined;
  /** Only bookings whose end is in [endedFrom, endedTo) (the auto-lock job's question). */
  endedFrom?: Date | undefined;
  endedTo?: Date | undefined;
  /** Default 100. */
  limit?: number | undefined;
  offset?: number | undefined;
}

export interface BookingRepo {
  /**
   * Creates a booking with a fresh `bk_` id. Throws BookingConflictError when a booking of the same car
   * that is not cancelled overlaps it, however many requests race for the car.
   */
  create(input: NewBooking): Promise<Booking>;
  get(id: string): Promise<Booking | undefined>;
  /** Cancels once: a second cancel returns the booking with its first cancellation time. */
  cancel(id: string, at?: Date): Promise<Booking | undefined>;
  /**
   * Ends a running booking at `at` (the member returned the car): `end` becomes `at` and `returnedAt` is
   * set, only if it is not cancelled and `start <= at < end`. Undefined when it was not running.
   */
  returnEarly(id: string, at?: Date): Promise<Booking | undefined>;
  /** Latest start first, then id. */
  list(filter?: BookingFilter): Promise<Booking[]>;
  /** Records the odometer at the booking's first unlock (kept if already set). */
  setOdometerStart(id: string, km: number): Promise<void>;
  /** Records the odometer at the booking's end (kept if already set). */
  setOdometerEnd(id: string, km: number): Promise<void>;
  /** Per car, the start of its latest booking (not cancelled) that has started by `at`: its trip counter. */
  latestStarts(at: Date): Promise<Map<string, Date>>;
  /** Per car, the start of its first booking (not cancelled) starting in (from, to). */
  nextStarts(from: Date, to: Date): Promise<Map<string, Date>>;
}

/** One state a command entered, and when (CONTRACT §3). */
export interface CommandEvent {
  state: CommandState;
  at: Date;
  /** Why it ended so: the car's reason for `rejected`, `vehicle_offline` for `failed`... */
  reason: string | null;
}

export interface Command {
  /** `cmd_` + ULID: sorts by creation. */
  id: string;
  vehicleId: string;
  /** The operator the car belongs to. */
  operatorId: string;
  /** The operator whose token asked (the owner, or an admin). */
  requestedBy: string;
  /** The member on whose behalf the operator asked, when it said so. */
  memberId: string | null;
  bookingId: string;
  /** The booking member's operator (roaming): the car's operator for its own members. */
  homeOperatorId: string;
  action: CommandAction;
  state: CommandState;
  reason: string | null;
  issuedAt: Date;
  expiresAt: Date;
  updatedAt: Date;
  idempotencyKey: string;
  /** Digest of the request the key was first used with: the same key with another body is refused. */
  requestHash: string;
  /** Oldest first, starting with `pending`. */
  history: CommandEvent[];
}

export interface NewCommand {
  vehicleId: string;
  operatorId: string;
  requestedBy: string;
  memberId?: string | null | undefined;
  bookingId: string;
  homeOperatorId?: string | undefined;
  action: CommandAction;
  issuedAt: Date;
  expiresAt: Date;
  idempotencyKey: string;
  requestHash: string;
}

export interface CommandFilter {
  vehicleId?: string | undefined;
  bookingId?: string | undefined;
  operatorId?: string | undefined;
  /** Commands this operator may see: to its cars, or within its members' bookings (roaming). */
  visibleTo?: string | undefined;
  /** Cursor: only commands older than this id. */
  before?: string | undefined;
  /** Default 50. */
  limit?: number | undefined;
}

export interface CommandRepo {
  /**
   * Stores a new command in `pending`, unless `requestedBy` already used `idempotencyKey`: then nothing is
   * written and the first command is returned with `created: false`, also when two requests race.
   */
  create(input: NewCommand): Promise<{ command: Command; created: boolean }>;
  get(id: string): Promise<Command | undefined>;
  /** The command `requestedBy` created with this idempotency key, if any. */
  findByIdempotencyKey(requestedBy: string, key: string): Promise<Command | undefined>;
  /**
   * Compare-and-set: moves the command to `to` only if it is in one of `from`, and records the move.
   * Undefined when it was not (unknown id, or another path or api instance moved it first), or when
   * `only.vehicleId` is given and the command is not that car's.
   */
  transition(
    id: string,
    from: readonly CommandState[],
    to: CommandState,
    at: Date,
    reason?: string | null,
    only?: { vehicleId?: string },
  ): Promise<Command | undefined>;
  /**
   * Moves the open (`pending`, `sent`) commands of bookings that were cancelled or have ended by `now` to
   * `cancelled` (reason `booking_cancelled` or `booking_ended`), those issued before that moment only (a
   * lock asked after the end is the operator closing the car, not part of the booking). Returns them.
   */
  cancelForEndedBookings(now: Date, limit?: number): Promise<Command[]>;
  /** Moves every command still `pending` or `sent` whose expiresAt <= now to `expired`; returns those it moved. */
  expireDue(now: Date, limit?: number): Promise<Command[]>;
  /** Newest first, with their histories. */
  list(filter?: CommandFilter): Promise<Command[]>;
}

/** A carsharing station of one operator (GBFS station_information). */
export interface Station {
  id: string;
  operatorId: string;
  name: string;
  lat: number;
  lon: number;
  address: string | null;
  /** GBFS parking_type: parking_lot, street_parking, underground_parking, sidewalk_parking, other. */
  parkingType: string | null;
  /** Places for the operator's cars. */
  capacity: number | null;
  charging: boolean;
  updatedAt: Date;
}
export type NewStation = Omit<Station, 'updatedAt'>;

/** A kind of car of one operator (GBFS vehicle_types, form factor car). */
export interface VehicleType {
  operatorId: string;
  id: string;
  /** GBFS propulsion_type: combustion, combustion_diesel, electric, hybrid, plug_in_hybrid, hydrogen_fuel_cell. */
  propulsion: string;
  make: string;
  model: string;
  /** Range on a full tank or charge, metres. */
  maxRangeM: number;
  gCo2Km: number | null;
  riderCapacity: number | null;
  updatedAt: Date;
}
export type NewVehicleType = Omit<VehicleType, 'updatedAt'>;

/** A car's type and home station. */
export interface VehiclePlacement {
  vehicleId: string;
  vehicleTypeId: string;
  stationId: string | null;
  updatedAt: Date;
}

/** An operator's GBFS system settings, as JSON validated by the api. */
export interface GbfsSystem {
  operatorId: string;
  info: unknown;
  pricingPlans: unknown[] | null;
  updatedAt: Date;
}

/** Stations, vehicle types, placements and GBFS systems: the fleet as the public sees it (GBFS). */
export interface FleetRegistryRepo {
  putStation(s: NewStation): Promise<Station>;
  getStation(id: string): Promise<Station | undefined>;
  listStations(filter?: { operatorId?: string | undefined }): Promise<Station[]>;
  putVehicleType(t: NewVehicleType): Promise<VehicleType>;
  listVehicleTypes(filter?: { operatorId?: string | undefined }): Promise<VehicleType[]>;
  placeVehicle(p: Omit<VehiclePlacement, 'updatedAt'>): Promise<VehiclePlacement>;
  listPlacements(): Promise<VehiclePlacement[]>;
  putSystem(s: Omit<GbfsSystem, 'updatedAt'>): Promise<GbfsSystem>;
  getSystem(operatorId: string): Promise<GbfsSystem | undefined>;
  listSystems(): Promise<GbfsSystem[]>;
  /** The installation's secret for GBFS vehicle ids (random, made once, the same for every api instance). */
  idKey(): Promise<Buffer>;
  /** A value kept once for the installation: the first `make()` stored wins for every instance. */
  installValue(key: string, make: () => string): Promise<string>;
}

/** Whose members an operator's cars accept: `'*'` (the whole network) or a list of operators. */
export type RoamingAccepts = '*' | string[];

export interface RoamingRepo {
  /** The operator's policy; none when it never set one (its cars stay its own members' until it opts in). */
  accepts(operatorId: string): Promise<RoamingAccepts>;
  setAccepts(operatorId: string, accepts: RoamingAccepts): Promise<void>;
}

/** One thing a car did with no network (offline unlock), as the car recorded it. */
export interface OfflineEvent {
  vehicleId: string;
  /** The car's own sequence number: an event uploaded twice is stored once. */
  seq: number;
  /** The car's time. */
  at: Date;
  event: 'opened' | 'refused';
  bookingId: string | null;
  reason: string | null;
  receivedAt: Date;
}

export interface OfflineEventRepo {
  /** Stores the events not stored yet; returns how many were new. */
  add(events: OfflineEvent[]): Promise<number>;
  /** Newest first. */
  list(filter: {
    vehicleId?: string | undefined;
    bookingId?: string | undefined;
    limit?: number;
  }): Promise<OfflineEvent[]>;
}

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
