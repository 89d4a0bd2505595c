import type { CommandAction, CommandState } from '@citytel/contract';

// The carsharing part of the store's interface (bookings, commands and their audit trail, the fleet registry
// behind GBFS, roaming between operators, what cars did offline); types.ts has the rest and the Store.

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
