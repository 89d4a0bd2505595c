import {
  decodeVehicleTelemetry,
  parseJson,
  parseTopic,
  unstamp,
  type VehicleNumericField,
  vehicleStatusSchema,
} from '@citytel/contract';
import type { FastifyBaseLogger as Logger } from 'fastify';

/** What the api knows of one car right now, from its retained status and its latest telemetry. */
export interface VehicleLive {
  id: string;
  /** From `vehicles/{id}/status`: the car's own word, or its last will `{"online":false}`. */
  online: boolean;
  /** When the api received that status (undefined: never heard from since the api started). */
  statusAt: Date | undefined;
  /** The latest lock state reported, by status or telemetry, whichever came last. */
  locked: boolean | undefined;
  /** Time of the latest telemetry: the car's own `ts`, else the broker's receive time. */
  telemetryAt: Date | undefined;
  position: { lat: number; lon: number } | undefined;
  numbers: Partial<Record<VehicleNumericField, number>>;
  ignition: boolean | undefined;
  doorsClosed: boolean | undefined;
}

/** The MQTT the fleet needs: the api's shared connection (mqtt.ts ApiMqtt) fits. */
export interface FleetMqtt {
  subscribe(
    filter: string,
    handler: (topic: string, payload: Buffer) => void,
    opts?: { qos?: 0 | 1 },
  ): () => void;
}

export const FLEET_SUBSCRIPTIONS = ['vehicles/+/status', 'vehicles/+/telemetry'] as const;

/**
 * The latest state of every car, kept in memory from MQTT rather than in a `vehicle_state` table. History
 * is ingest's job (InfluxDB); here only "now" matters, and MQTT already delivers it: the broker hands every
 * subscriber each car's retained status (or its last will) at once, so an api that starts, restarts, or
 * runs as several instances knows at once which cars are online, and each instance keeps its own copy with
 * no coordination. A table would add a write per telemetry message (1000 cars, every few seconds) to the
 * store that bookings and commands need, for a state that is stale the moment the car moves. What the
 * memory lacks after a restart is only the telemetry of parked cars until their next report (a few
 * minutes at most); their online and lock state come with the retained status.
 */
export class Fleet {
  private readonly cars = new Map<string, VehicleLive>();
  private readonly unsubscribe: Array<() => void> = [];

  constructor(
    private readonly mqtt: FleetMqtt | undefined,
    private readonly log: Logger,
  ) {}

  start(): void {
    if (!this.mqtt) return;
    this.unsubscribe.push(
      this.mqtt.subscribe(FLEET_SUBSCRIPTIONS[0], (t, p) => this.onStatus(t, p), { qos: 1 }),
      this.mqtt.subscribe(FLEET_SUBSCRIPTIONS[1], (t, p) => this.onTelemetry(t, p)),
    );
  }

  stop(): void {
    for (const off of this.unsubscribe.splice(0)) off();
  }

  get(id: string): VehicleLive | undefined {
    return this.cars.get(id);
  }

  /** True only when the car's latest status says online. */
  isOnline(id: string): boolean {
    return this.cars.get(id)?.online === true;
  }

  private car(id: string): VehicleLive {
    let c = this.cars.get(id);
    if (!c) {
      c = {
        id,
        online: false,
        statusAt: undefined,
        locked: undefined,
        telemetryAt: undefined,
        position: undefined,
        numbers: {},
        ignition: undefined,
        doorsClosed: undefined,
      };
      this.cars.set(id, c);
    }
    return c;
  }

  /** Exposed for the tests that feed messages without a broker. */
  onStatus(topic: string, payload: Buffer): void {
    const t = parseTopic(topic);
    if (t?.kind !== 'vehicle-status') return;
    const json = parseJson(unstamp(payload).payload.toString());
    const status = json.ok ? vehicleStatusSchema.safeParse(json.value) : undefined;
    if (!status?.success) {
      this.log.debug({ vehicle: t.owner }, 'unreadable vehicle status ignored');
      return;
    }
    const c = this.car(t.owner);
    c.online = status.data.online;
    c.statusAt = new Date();
    if (status.data.locked !== undefined) c.locked = status.data.locked;
  }

  onTelemetry(topic: string, payload: Buffer): void {
    const t = parseTopic(topic);
    if (t?.kind !== 'vehicle-telemetry') return;
    const { receivedAt, payload: body } = unstamp(payload);
    const decoded = decodeVehicleTelemetry(body.toString());
    if (!decoded.ok) return;
    const v = decoded.vehicle;
    const at = v.ts ?? receivedAt ?? new Date();
    const c = this.car(t.owner);
    // A QoS 1 message redelivered late must not set an older state over a newer one.
    if (c.telemetryAt && at < c.telemetryAt) return;
    c.telemetryAt = at;
    if (v.position) c.position = { lat: v.position.lat, lon: v.position.lon };
    c.numbers = { ...c.numbers, ...v.numbers };
    if (v.flags.locked !== undefined) c.locked = v.flags.locked;
    if (v.flags.ignition !== undefined) c.ignition = v.flags.ignition;
    if (v.flags.doors_closed !== undefined) c.doorsClosed = v.flags.doors_closed;
  }
}
