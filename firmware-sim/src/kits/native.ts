import { type NativeReading, nativeReadingSchema, type Position, topics } from '@citytel/contract';
import type { IClientOptions, MqttClient } from 'mqtt';
import { round6 } from '../geo.ts';
import { presentValues } from '../model.ts';
import type { KitSpec } from '../plan.ts';
import type { Credentials } from '../provision.ts';
import { firmwareTime, type KitDeps, MqttKit } from './base.ts';
import { Walker } from './mobility.ts';

/** Readings a native kit keeps while offline and sends as one batch when it is back (CONTRACT §2.1). */
const OFFLINE_BUFFER = 60;

/**
 * A native citytel kit: logs in with its id and secret, publishes a native reading at QoS 1 on
 * `sensors/{id}/readings`; a mobile one adds its GPS position. Offline, it buffers and then sends a batch.
 */
export class NativeKit extends MqttKit {
  private readonly walker: Walker | undefined;
  private readonly buffer: NativeReading[] = [];
  private where: Position;

  constructor(spec: KitSpec, creds: Credentials, deps: KitDeps) {
    super(spec, creds, deps);
    this.where = spec.position;
    if (spec.mobile) {
      this.walker = new Walker(deps.city, deps.graph, deps.seed, spec.id, spec.position, spec.speedKmh ?? 5);
      this.where = this.walker.at(deps.clock.sim());
    }
  }

  override position(): Position {
    return this.where;
  }

  protected connectOptions(): IClientOptions {
    return {
      clientId: this.creds.id,
      username: this.creds.id,
      password: this.creds.secret ?? '',
      clean: true,
    };
  }

  protected onConnect(): void {
    if (this.buffer.length === 0) return;
    const readings = this.buffer.splice(0);
    void this.publish(topics.sensorReadings(this.id), JSON.stringify({ readings }), 1);
  }

  /** The reading a kit would send now. */
  measure(): NativeReading {
    const { clock, model } = this.deps;
    const sim = clock.sim();
    if (this.walker) this.where = this.walker.at(sim);
    const values = presentValues(
      model.reading(
        { id: this.spec.id, position: this.where, indoor: this.spec.indoor },
        sim,
        this.spec.sensors,
      ),
    );
    const r: NativeReading = { ts: firmwareTime(clock.now()) };
    if (this.spec.mobile) {
      r.lat = round6(this.where.lat);
      r.lon = round6(this.where.lon);
    }
    return { ...r, ...values };
  }

  async report(): Promise<void> {
    const reading = this.measure();
    if (Object.keys(reading).length <= (this.spec.mobile ? 3 : 1)) return; // every sensor silent this time
    const checked = nativeReadingSchema.safeParse(reading);
    if (!checked.success) {
      this.deps.counters.errors++;
      this.log.error({ issues: checked.error.issues }, 'simulated reading does not fit the contract');
      return;
    }
    const client: MqttClient | undefined = this.client;
    if (!client?.connected) {
      if (this.buffer.length >= OFFLINE_BUFFER) this.buffer.shift();
      this.buffer.push(reading);
      return;
    }
    await this.publish(topics.sensorReadings(this.id), JSON.stringify(reading), 1);
    this.sent++;
  }
}
