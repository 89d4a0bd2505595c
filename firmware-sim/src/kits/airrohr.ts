import { type AirrohrBody, encodeAirrohr } from '@citytel/contract';
import { presentValues } from '../model.ts';
import { hash32 } from '../rng.ts';
import { PeriodicKit } from './base.ts';

/**
 * A stock sensor.community (airrohr) box with "send to own API" set: no MQTT, an HTTP POST of its
 * body every period (values as strings, no time), `X-Sensor: esp8266-{chipid}`, Basic auth with the
 * device id and secret (CONTRACT §2.3). A silent sensor is simply left out, as the firmware does.
 */
export class AirrohrKit extends PeriodicKit {
  private lastOk = false;
  private running = false;

  get online(): boolean {
    return this.running && this.lastOk;
  }

  start(firstDelayMs = 0): void {
    this.running = true;
    this.ticker.start(firstDelayMs);
  }

  async stop(): Promise<void> {
    this.running = false;
    this.ticker.stop();
  }

  private get chipId(): string {
    return this.spec.chipId ?? String(hash32(this.deps.seed, this.spec.id) % 16_000_000);
  }

  /** The body and headers the firmware would POST now. */
  measure(): { body: AirrohrBody; headers: Record<string, string> } {
    const { clock, model } = this.deps;
    const v = model.reading(
      { id: this.spec.id, position: this.spec.position, indoor: this.spec.indoor },
      clock.sim(),
      this.spec.sensors,
    );
    const mac = hash32(this.deps.seed, this.spec.id, 'mac').toString(16).padStart(12, '0');
    return {
      body: encodeAirrohr(this.chipId, presentValues(v)),
      headers: {
        'content-type': 'application/json',
        'x-sensor': `esp8266-${this.chipId}`,
        'x-mac-id': `esp8266-${mac}`,
        authorization: `Basic ${Buffer.from(`${this.creds.id}:${this.creds.secret ?? ''}`).toString('base64')}`,
      },
    };
  }

  async report(): Promise<void> {
    const { body, headers } = this.measure();
    let status: number;
    try {
      const res = await this.deps.fetch(`${this.deps.apiUrl}/api/v1/ingest/airrohr`, {
        method: 'POST',
        headers,
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(10_000),
      });
      status = res.status;
      await res.arrayBuffer().catch(() => undefined);
    } catch (e) {
      this.lastOk = false;
      this.deps.counters.errors++;
      this.log.debug({ err: (e as Error).message }, 'post failed');
      return;
    }
    this.lastOk = status >= 200 && status < 300;
    if (this.lastOk) {
      this.deps.counters.httpPosts++;
      this.sent++;
      return;
    }
    this.deps.counters.errors++;
    if (status === 401 || status === 403) {
      await this.stop();
      this.deps.onAuthFailure(this, `api answered ${status}`);
      return;
    }
    this.log.debug({ status }, 'post refused');
  }
}
