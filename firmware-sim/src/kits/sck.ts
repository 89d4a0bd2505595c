import { encodeSckJson, encodeSckRaw, type Metric, SCK_ID_FOR_METRIC, topics } from '@citytel/contract';
import type { IClientOptions } from 'mqtt';
import { missingSensors, presentValues, type SensorValues } from '../model.ts';
import { hash32 } from '../rng.ts';
import { MqttKit } from './base.ts';

/**
 * A stock Smart Citizen kit: client id = its token, no user name or password, QoS 0; says
 * `{token}:Hello` and publishes its info when it connects, then a reading every period in the format its
 * firmware is set to (raw on `readings/raw`, JSON on `readings`). A sensor that gave nothing is sent as
 * `null`, as the firmware does.
 */
export class SckKit extends MqttKit {
  private get token(): string {
    return this.creds.token ?? '';
  }

  protected connectOptions(): IClientOptions {
    return { clientId: this.token, clean: true, queueQoSZero: true };
  }

  protected onConnect(): void {
    void this.publish(topics.sckHello(this.token), `${this.token}:Hello`, 0);
    void this.publish(topics.sckInfo(this.token), JSON.stringify(this.info()), 0);
  }

  /** What SCK firmware publishes on `info`: versions, build dates, MAC. */
  info(): Record<string, string> {
    const h = hash32(this.deps.seed, this.spec.id, 'mac').toString(16).padStart(8, '0').toUpperCase();
    return {
      time: new Date(this.deps.clock.now()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      hw_ver: '2.1',
      id: `${h}${h.split('').reverse().join('')}`.slice(0, 16),
      sam_ver: '0.9.8-3a5e4b2',
      sam_bd: '2022-03-04T11:02:57Z',
      mac: `BC:DD:C2:${h.slice(0, 2)}:${h.slice(2, 4)}:${h.slice(4, 6)}`,
      esp_ver: '0.9.8-3a5e4b2',
      esp_bd: '2022-03-04T11:03:21Z',
    };
  }

  /** The payload the kit would send now, and its topic. */
  measure(): { topic: string; payload: string } | undefined {
    const { clock, model } = this.deps;
    const v = model.reading(
      { id: this.spec.id, position: this.spec.position, indoor: this.spec.indoor },
      clock.sim(),
      this.spec.sensors,
    );
    const ts = new Date(Math.floor(clock.now() / 1000) * 1000);
    if (Object.keys(presentValues(v)).length === 0) return undefined;
    if (this.spec.sckFormat === 'json') return { topic: topics.sckJson(this.token), payload: sckJson(ts, v) };
    return { topic: topics.sckRaw(this.token), payload: sckRaw(ts, v) };
  }

  async report(): Promise<void> {
    const m = this.measure();
    if (!m || !this.client) return;
    await this.publish(m.topic, m.payload, 0);
    this.sent++;
  }
}

const nullIds = (v: SensorValues) =>
  missingSensors(v)
    .map((m: Metric) => SCK_ID_FOR_METRIC[m])
    .filter((id): id is number => id !== undefined);

/** The raw format, through the contract's encoder, with `id:null` for sensors that gave nothing. */
export function sckRaw(ts: Date, v: SensorValues): string {
  const body = encodeSckRaw(ts, presentValues(v));
  const nulls = nullIds(v).map((id) => `,${id}:null`);
  return `${body.slice(0, -1)}${nulls.join('')}}`;
}

/** The JSON format, through the contract's encoder, with `{"id":..,"value":null}` for silent sensors. */
export function sckJson(ts: Date, v: SensorValues): string {
  const nulls = nullIds(v);
  const text = encodeSckJson(ts, presentValues(v));
  if (nulls.length === 0) return text;
  const doc = JSON.parse(text) as { data: { sensors: { id: number; value: number | null }[] }[] };
  doc.data[0]!.sensors.push(...nulls.map((id) => ({ id, value: null })));
  return JSON.stringify(doc);
}
