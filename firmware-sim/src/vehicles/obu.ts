import { type CommandAck, topics, vehicleTelemetrySchema } from '@citytel/contract';
import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import type { City } from '../city.ts';
import { type Clock, Ticker } from '../clock.ts';
import { isAuthRefusal } from '../kits/base.ts';
import type { Model } from '../model.ts';
import type { VehicleSpec } from '../plan.ts';
import type { Credentials } from '../provision.ts';
import { hashUnit } from '../rng.ts';
import type { Counters } from '../stats.ts';
import { Car } from './car.ts';
import { ack, applyAction, CommandBook } from './commands.ts';
import { cardCredential, OfflineBook, type TapDecision } from './offline.ts';
import type { RoadGraph } from './routes.ts';
import { uplinkChange, type Whereabouts } from './underground.ts';

export interface VehicleDeps {
  clock: Clock;
  counters: Counters;
  log: Logger;
  model: Model;
  city: City;
  graph: RoadGraph;
  seed: number;
  mqttUrl: string;
  /** Telemetry period while driving, in simulated seconds; parked cars report every PARKED_EVERY periods. */
  vehicleIntervalS: number;
  autoTrips: boolean;
  /** A trip that ends at an underground station cuts the uplink until the car drives out (underground.ts). */
  underground?: boolean;
  /** Called once the car reported itself parked underground, before its uplink goes (a member books it). */
  onParkedUnderground?(v: Vehicle): Promise<void>;
  onAuthFailure(v: Vehicle, reason: string): void;
}

/** A parked unit sleeps to spare the 12 V battery: one report every this many periods. */
const PARKED_EVERY = 6;
const KEPT_ACKS = 100;

/**
 * A car's on-board unit: logs in with its id and secret in a persistent session (so commands sent
 * while it is out of coverage arrive when it is back), leaves `{"online":false}` as its retained will,
 * says `{"online":true,...}` when it connects and whenever its locks change, reports telemetry at QoS 1,
 * and obeys `vehicles/{id}/commands` as CONTRACT §3 says.
 *
 * Test hooks: `setFailing(reason)` rejects every command, `setSilent(true)` ignores them (no action, no
 * ack), `goOffline()` drops the connection without a DISCONNECT so the broker fires the will, and
 * `comeBack()` reconnects. With `underground` on, a trip ending at an underground station does the same by
 * itself, and leaving it comes back (underground.ts).
 */
export class Vehicle {
  readonly car: Car;
  readonly book = new CommandBook();
  /** Its signed booking list and its offline log (offline unlock). */
  readonly passes: OfflineBook;
  private flushing = false;
  /** Last acks sent, newest last. */
  readonly acks: CommandAck[] = [];
  private client: MqttClient | undefined;
  private creds: Credentials;
  private readonly log: Logger;
  private readonly ticker: Ticker;
  private ticks = 0;
  private failing: string | undefined;
  private silent = false;
  private offline = false;
  private where: Whereabouts;

  constructor(
    readonly spec: VehicleSpec,
    creds: Credentials,
    private readonly deps: VehicleDeps,
  ) {
    this.creds = creds;
    this.passes = new OfflineBook(creds.id);
    this.log = deps.log.child({ component: 'vehicle', vehicle: creds.id });
    this.car = new Car(spec, deps.city, deps.graph, deps.seed, deps.clock.sim());
    this.car.autoTrips = deps.autoTrips;
    this.where = { phase: this.car.state.phase, station: this.car.state.station };
    this.ticker = new Ticker(
      () => (deps.vehicleIntervalS * 1000) / deps.clock.speedup,
      () => this.tick(),
      (e) => {
        deps.counters.errors++;
        this.log.warn({ err: e }, 'tick failed');
      },
    );
  }

  get id(): string {
    return this.creds.id;
  }

  get online(): boolean {
    return this.client?.connected ?? false;
  }

  get locked(): boolean {
    return this.car.state.locked;
  }

  setCredentials(c: Credentials): void {
    this.creds = c;
  }

  /** Rejects every command with this reason from now on; `false` heals the unit. */
  setFailing(reason: string | false = 'unit_fault'): void {
    this.failing = reason === false ? undefined : reason;
  }

  /** Ignores commands (no action, no ack) while true. */
  setSilent(silent: boolean): void {
    this.silent = silent;
  }

  setAutoTrips(on: boolean): void {
    this.car.autoTrips = on;
  }

  /** The platform's public key, which signs the booking lists (GET /api/v1/carsharing/signing-key). */
  trustPlatformKey(publicKeyPem: string): void {
    this.passes.trust(publicKeyPem);
  }

  /**
   * A member taps a card on the reader: the unit decides alone, from its signed booking list, network or
   * not, opens on a match, and logs the tap with its own time; the log goes up when it is online.
   */
  async tapCard(cardId: string): Promise<TapDecision> {
    const d = this.passes.tap(cardCredential(cardId), this.deps.clock.now());
    if (d.open && this.car.state.locked) {
      this.car.state.locked = false;
      await this.publishStatus();
    }
    this.log.info(
      { open: d.open, booking: d.bookingId, reason: d.open ? undefined : d.reason },
      'card tapped',
    );
    await this.flushLog();
    return d;
  }

  /** Uploads the offline log (QoS 1); what the broker acknowledged is dropped, the rest waits. */
  async flushLog(): Promise<void> {
    const c = this.client;
    if (this.flushing || !c?.connected || this.passes.pending.length === 0) return;
    this.flushing = true;
    try {
      const events = this.passes.pending.slice(0, 500);
      await c.publishAsync(topics.vehicleLog(this.id), JSON.stringify({ events }), { qos: 1 });
      this.passes.uploaded(events.length);
    } catch (e) {
      this.log.debug({ err: (e as Error).message }, 'offline log upload failed; retried on reconnect');
    } finally {
      this.flushing = false;
    }
    if (this.passes.pending.length > 0 && this.client?.connected) await this.flushLog();
  }

  /** A member leaves a door open (or shuts it): the unit reports it at once, as real units do on a door switch. */
  async setDoorsClosed(closed: boolean): Promise<void> {
    this.car.state.doorsClosed = closed;
    await this.publishTelemetry();
  }

  /** Sends the car to a station now, as a member with a badge would. */
  driveTo(stationId: string): void {
    const before = this.car.state.locked;
    this.car.startTrip(stationId, this.deps.clock.sim());
    if (this.uplink() === 'restore') this.comeBack();
    if (this.car.state.locked !== before) void this.publishStatus();
    void this.publishTelemetry();
  }

  start(firstDelayMs = 0): void {
    this.offline = false;
    this.connect();
    this.ticker.start(firstDelayMs);
  }

  /** Ctrl-C: a real unit just loses power; the broker's will says it is offline. */
  async stop(): Promise<void> {
    this.ticker.stop();
    this.drop();
  }

  /** Ends the connection abruptly (no DISCONNECT), so the broker publishes the will. */
  goOffline(): void {
    this.offline = true;
    this.drop();
  }

  /** Back in coverage: reconnects in the same session and receives what was queued. */
  comeBack(): void {
    if (!this.offline) return;
    this.offline = false;
    this.connect();
  }

  private drop(): void {
    const c = this.client;
    this.client = undefined;
    c?.end(true);
  }

  private connect(): void {
    const statusTopic = topics.vehicleStatus(this.id);
    const client = mqtt.connect(this.deps.mqttUrl, {
      clientId: this.id,
      username: this.id,
      password: this.creds.secret ?? '',
      clean: false,
      keepalive: 30,
      reconnectPeriod: 3000,
      // As a kit's firmware does: a busy or slowed-down broker (CONNACK 3) is tried again later; only a refused
      // credential (4, 5) stops the device (the error handler).
      reconnectOnConnackError: true,
      connectTimeout: 10_000,
      will: { topic: statusTopic, payload: Buffer.from('{"online":false}'), qos: 1, retain: true },
    });
    this.client = client;
    client.on('connect', () => {
      void this.publishStatus();
      const subscribed = (what: string) => (err: Error | null) => {
        if (!err) return;
        this.deps.counters.errors++;
        this.log.warn({ err: err.message, topic: what }, 'subscribe refused');
      };
      // Commands first and alone: the booking list (offline unlock) is an extra a broker may not offer.
      client.subscribe(topics.vehicleCommands(this.id), { qos: 1 }, (err) => {
        subscribed('commands')(err);
        if (!err) client.subscribe(topics.vehicleBookings(this.id), { qos: 1 }, subscribed('bookings'));
      });
      void this.publishTelemetry();
      void this.flushLog();
    });
    client.on('message', (topic, payload) => {
      if (topic === topics.vehicleCommands(this.id)) void this.onCommand(payload);
      else if (topic === topics.vehicleBookings(this.id)) {
        const outcome = this.passes.accept(payload.toString());
        this.log.debug({ outcome, seq: this.passes.listSeq }, 'booking list');
      }
    });
    client.on('error', (e) => {
      if (isAuthRefusal(e)) {
        this.ticker.stop();
        this.drop();
        this.deps.counters.errors++;
        this.deps.onAuthFailure(this, e.message);
        return;
      }
      this.log.debug({ err: e.message }, 'mqtt error');
    });
  }

  /** Whether the car's last move takes it under or out of a car park with no network (underground.ts). */
  private uplink(): 'cut' | 'restore' | undefined {
    const before = this.where;
    this.where = { phase: this.car.state.phase, station: this.car.state.station };
    const change = this.deps.underground ? uplinkChange(this.deps.city, before, this.where) : undefined;
    if (change) this.log.info({ station: this.where.station, uplink: change }, 'underground car park');
    return change;
  }

  private async tick(): Promise<void> {
    const lockChanged = this.car.advance(this.deps.clock.sim());
    const change = this.uplink();
    // Out of the car park: the connect handler reports status and telemetry and uploads the log.
    if (change === 'restore') this.comeBack();
    if (lockChanged || change) await this.publishStatus();
    this.ticks++;
    if (lockChanged || change || this.car.state.phase === 'driving' || this.ticks % PARKED_EVERY === 0)
      await this.publishTelemetry();
    // Parked and reported while still in coverage at the ramp; then down into the car park.
    if (change === 'cut') {
      await this.deps.onParkedUnderground?.(this);
      this.goOffline();
    }
  }

  async publishStatus(): Promise<void> {
    const status = {
      online: true,
      locked: this.car.state.locked,
      ts: new Date(this.deps.clock.now()).toISOString(),
    };
    await this.publish(topics.vehicleStatus(this.id), JSON.stringify(status), true);
  }

  async publishTelemetry(): Promise<void> {
    const t = this.car.telemetry(this.deps.clock.now(), this.deps.clock.sim(), this.deps.model);
    const checked = vehicleTelemetrySchema.safeParse(t);
    if (!checked.success) {
      this.deps.counters.errors++;
      this.log.error({ issues: checked.error.issues }, 'simulated telemetry does not fit the contract');
      return;
    }
    await this.publish(topics.vehicleTelemetry(this.id), JSON.stringify(t), false);
  }

  private async publish(topic: string, payload: string, retain: boolean): Promise<void> {
    const c = this.client;
    if (!c?.connected) return;
    try {
      await c.publishAsync(topic, payload, { qos: 1, retain });
      this.deps.counters.messages++;
    } catch (e) {
      this.deps.counters.errors++;
      this.log.debug({ err: (e as Error).message, topic }, 'publish failed');
    }
  }

  private async sendAck(a: CommandAck): Promise<void> {
    this.acks.push(a);
    if (this.acks.length > KEPT_ACKS) this.acks.shift();
    await this.publish(topics.vehicleAck(this.id), JSON.stringify(a), false);
    this.deps.counters.acks++;
  }

  /** One command message, as CONTRACT §3 asks a unit to treat it. */
  async onCommand(payload: Buffer | string): Promise<void> {
    if (this.silent) return;
    this.deps.counters.commands++;
    const now = this.deps.clock.now();
    const d = this.book.decide(payload, now);
    switch (d.kind) {
      case 'invalid': {
        this.deps.counters.errors++;
        this.log.warn({ reason: d.reason, id: d.id }, 'invalid command');
        if (d.id) {
          const a = ack(d.id, 'rejected', now, d.reason);
          this.book.finish(d.id, a);
          await this.sendAck(a);
        }
        return;
      }
      case 'replay':
        // Never run twice: answer again with the first result, or wait for the first run to answer.
        if (d.ack) await this.sendAck(d.ack);
        return;
      case 'expired': {
        const a = ack(d.id, 'rejected', now, 'expired');
        this.book.finish(d.id, a);
        await this.sendAck(a);
        return;
      }
      case 'execute': {
        const { command } = d;
        this.book.begin(command.id);
        // Real units take a moment: wake the CAN bus, drive the lock actuators, read the door switches.
        const delay = 100 + 700 * hashUnit(this.deps.seed, this.spec.id, command.id);
        await new Promise((r) => setTimeout(r, delay));
        let a: CommandAck;
        if (this.failing) a = ack(command.id, 'rejected', this.deps.clock.now(), this.failing);
        else {
          const s = this.car.state;
          const result = applyAction(
            { locked: s.locked, ignition: s.ignition, doorsClosed: s.doorsClosed },
            command.action,
          );
          if (result.ok) {
            const changed = s.locked !== result.locked;
            s.locked = result.locked;
            a = ack(command.id, 'done', this.deps.clock.now());
            this.book.finish(command.id, a);
            // Status first: whoever sees the ack finds the retained status already changed.
            if (changed) await this.publishStatus();
            await this.sendAck(a);
            await this.publishTelemetry();
            return;
          }
          a = ack(command.id, 'rejected', this.deps.clock.now(), result.reason);
        }
        this.book.finish(command.id, a);
        await this.sendAck(a);
        return;
      }
    }
  }
}
