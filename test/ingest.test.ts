import {
  encodeAirrohr,
  encodeSckJson,
  encodeSckRaw,
  geohash,
  STATS_SUBSCRIPTIONS,
  statsTopic,
  topics,
} from '@citytel/contract';
import type { IngestStats } from '@citytel/ingest';
import { deriveServiceSecret } from '@citytel/store';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { brokerClient } from './helpers/broker.ts';
import { eventually, type IngestStack, startIngestStack } from './helpers/ingest.ts';

const RENNES = { lat: 48.1113, lon: -1.68 };
const GH = geohash(RENNES);
// Device times within the last 7 days: older ones are replaced by the broker time (CONTRACT §2).
const T = Math.floor(Date.now() / 60_000) * 60_000 - 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();

let stack: IngestStack;
let kit: MqttClient;
let sck: MqttClient;
let sckToken: string;
let airrohr: MqttClient;
let car: MqttClient;

/** Rows of `SELECT <columns> FROM <measurement> WHERE <where>` as objects, once there are `n` of them. */
async function rows(measurement: string, columns: string[], where: string, n = 1) {
  return eventually(`${n} row(s) of ${measurement} where ${where}`, async () => {
    const [s] = await stack.query(`SELECT ${columns.join(',')} FROM ${measurement} WHERE ${where}`);
    if (!s || s.values.length < n) return undefined;
    return s.values.map((v) => Object.fromEntries(s.columns.map((c, i) => [c, v[i]])));
  });
}

beforeAll(async () => {
  stack = await startIngestStack({ env: { INGEST_DEVICE_TTL_MS: '200' } });
  kit = await stack.device({ id: 'kit-1', kind: 'native', ...RENNES });
  airrohr = await stack.device({ id: 'air-1', kind: 'airrohr', ...RENNES });
  car = await stack.device({ id: 'car-1', kind: 'vehicle' });
  const p = await stack.tb.store.devices.create({ id: 'sck-1', kind: 'sck', ...RENNES });
  sckToken = p.token!;
  sck = await brokerClient(stack.tb.url, { clientId: sckToken });
});

afterAll(async () => {
  await sck?.endAsync(true);
  await stack?.stop();
});

describe('ingest, end to end through the broker into InfluxDB', () => {
  it('writes a native reading with its values, tags, position and device time', async () => {
    await kit.publishAsync(
      topics.sensorReadings('kit-1'),
      JSON.stringify({ ts: iso(T), pm25: 8.2, pm10: 14, noise_laeq: 58.4, temperature: 11.2 }),
      { qos: 1 },
    );
    const [row] = await rows(
      'readings',
      ['pm25', 'pm10', 'noise_laeq', 'temperature', 'lat', 'lon', 'tsrc', 'gh', 'kind', 'loc'],
      `device='kit-1'`,
    );
    expect(row).toEqual({
      time: T,
      pm25: 8.2,
      pm10: 14,
      noise_laeq: 58.4,
      temperature: 11.2,
      lat: RENNES.lat,
      lon: RENNES.lon,
      tsrc: 'device',
      gh: GH,
      kind: 'native',
      loc: 'fixed',
    });
  });

  it('writes the Smart Citizen raw format (QoS 0, kPa to hPa) and the JSON format', async () => {
    await sck.publishAsync(
      topics.sckRaw(sckToken),
      encodeSckRaw(new Date(T), { pm25: 8.2, pressure: 1012.3 }),
      { qos: 0 },
    );
    await sck.publishAsync(
      topics.sckJson(sckToken),
      encodeSckJson(new Date(T + 60_000), { pm25: 9, humidity: 71 }),
      { qos: 0 },
    );
    const got = await rows('readings', ['pm25', 'pressure', 'humidity', 'tsrc', 'kind'], `device='sck-1'`, 2);
    expect(got).toEqual([
      { time: T, pm25: 8.2, pressure: 1012.3, humidity: null, tsrc: 'device', kind: 'sck' },
      { time: T + 60_000, pm25: 9, pressure: null, humidity: 71, tsrc: 'device', kind: 'sck' },
    ]);
  });

  it('writes an airrohr body (string values, no time) at the broker receive time', async () => {
    const before = Date.now();
    const body = encodeAirrohr('13463245', {
      pm10: 14,
      pm25: 8.2,
      temperature: 11.2,
      humidity: 71,
      pressure: 1012.3,
    });
    await airrohr.publishAsync(topics.sensorAirrohr('air-1'), JSON.stringify(body), { qos: 1 });
    const [row] = await rows(
      'readings',
      ['pm25', 'pm10', 'temperature', 'humidity', 'pressure', 'tsrc'],
      `device='air-1'`,
    );
    expect(row).toMatchObject({
      pm25: 8.2,
      pm10: 14,
      temperature: 11.2,
      humidity: 71,
      pressure: 1012.3,
      tsrc: 'broker',
    });
    expect(row!.time).toBeGreaterThanOrEqual(before);
    expect(row!.time).toBeLessThanOrEqual(Date.now());
    // the body names its firmware (`software_version`), kept as the box's
    const d = await eventually('firmware stored', async () => {
      const d = await stack.tb.store.devices.get('air-1');
      return d?.firmware ? d : undefined;
    });
    expect(d.firmware).toBe(body.software_version);
  });

  it('writes vehicle telemetry, and its air block as a mobile reading at the car', async () => {
    const where = { lat: 48.12, lon: -1.7 };
    await car.publishAsync(
      topics.vehicleTelemetry('car-1'),
      JSON.stringify({
        ts: iso(T),
        ...where,
        speed_kmh: 32.5,
        fuel_pct: 62,
        ignition: true,
        locked: false,
        air: { pm25: 9.1 },
      }),
      { qos: 1 },
    );
    const [v] = await rows(
      'vehicles',
      ['speed_kmh', 'fuel_pct', 'ignition', 'locked', 'lat', 'lon', 'gh'],
      `vehicle='car-1'`,
    );
    expect(v).toEqual({
      time: T,
      speed_kmh: 32.5,
      fuel_pct: 62,
      ignition: true,
      locked: false,
      ...where,
      gh: geohash(where),
    });
    const [r] = await rows('readings', ['pm25', 'lat', 'lon', 'kind', 'loc', 'gh'], `device='car-1'`);
    expect(r).toEqual({ time: T, pm25: 9.1, ...where, kind: 'vehicle', loc: 'mobile', gh: geohash(where) });
  });

  it('keeps the other fields of a message with one bad field, and keeps the rejection for the api', async () => {
    await kit.publishAsync(
      topics.sensorReadings('kit-1'),
      JSON.stringify({ ts: iso(T + 1000), pm25: -5, pm10: 20 }),
      { qos: 1 },
    );
    const [row] = await rows('readings', ['pm25', 'pm10'], `device='kit-1' AND time = ${T + 1000}ms`);
    expect(row).toEqual({ time: T + 1000, pm25: null, pm10: 20 });
    const rejections = await eventually('stored rejection', async () => {
      const list = await stack.tb.store.rejections.list('kit-1');
      return list.length ? list : undefined;
    });
    expect(rejections[0]).toMatchObject({
      deviceId: 'kit-1',
      topic: topics.sensorReadings('kit-1'),
      reason: 'out_of_range',
      sample: JSON.stringify({ ts: iso(T + 1000), pm25: -5, pm10: 20 }),
    });
  });

  it('counts garbage bytes by reason and goes on with the next message', async () => {
    const before = stack.ingest!.stats().rejected_messages;
    await kit.publishAsync(topics.sensorReadings('kit-1'), Buffer.from([0xff, 0x00, 0xfe, 0x81]), { qos: 1 });
    await kit.publishAsync(topics.sensorReadings('kit-1'), '{"pm25":', { qos: 1 });
    await kit.publishAsync(topics.sensorReadings('kit-1'), JSON.stringify({ ts: iso(T + 2000), pm25: 3 }), {
      qos: 1,
    });
    await rows('readings', ['pm25'], `device='kit-1' AND time = ${T + 2000}ms`);
    const after = await eventually('rejections counted', () => {
      const s = stack.ingest!.stats().rejected_messages;
      return (s.malformed ?? 0) > (before.malformed ?? 0) && (s.not_json ?? 0) > (before.not_json ?? 0)
        ? s
        : undefined;
    });
    expect(after.malformed).toBe((before.malformed ?? 0) + 1);
    expect(after.not_json).toBe((before.not_json ?? 0) + 1);
  });

  it('takes SCK hello and info as signs of life (and firmware), storing no reading', async () => {
    await sck.publishAsync(topics.sckHello(sckToken), `${sckToken}:Hello`, { qos: 0 });
    await sck.publishAsync(
      topics.sckInfo(sckToken),
      JSON.stringify({ hw_ver: '2.1', sam_ver: '0.9.8', esp_ver: '0.9.7' }),
      {
        qos: 0,
      },
    );
    const d = await eventually('firmware stored', async () => {
      const d = await stack.tb.store.devices.get('sck-1');
      return d?.firmware ? d : undefined;
    });
    expect(d.firmware).toBe('sam 0.9.8 / esp 0.9.7 / hw 2.1');
    expect(d.lastSeenAt).not.toBeNull();
  });

  it('refuses readings of a device no longer in the registry as unknown_device', async () => {
    const before = stack.ingest!.stats().rejected_messages.unknown_device ?? 0;
    await stack.tb.store.devices.remove('air-1');
    // The broker still holds the connection it authenticated; ingest's cache forgets within its TTL.
    await new Promise((r) => setTimeout(r, 300));
    await airrohr.publishAsync(
      topics.sensorAirrohr('air-1'),
      JSON.stringify(encodeAirrohr('1', { pm25: 1 })),
      { qos: 1 },
    );
    await eventually(
      'counted',
      () => (stack.ingest!.stats().rejected_messages.unknown_device ?? 0) === before + 1,
    );
  });

  it('publishes its figures, retained, on its stats topic', async () => {
    const api = await brokerClient(stack.tb.url, {
      username: 'svc:api',
      password: deriveServiceSecret(stack.tb.serviceSecret, 'svc:api'),
    });
    try {
      const got = new Promise<IngestStats>((resolve) =>
        api.on('message', (topic, payload, packet) => {
          if (topic === statsTopic('ingest', stack.config.INGEST_ID) && packet.retain)
            resolve(JSON.parse(payload.toString()));
        }),
      );
      await api.subscribeAsync(STATS_SUBSCRIPTIONS, { qos: 0 });
      const stats = await got;
      expect(stats.id).toBe(stack.config.INGEST_ID);
      expect(stats.received).toBeGreaterThan(5);
      expect(stats.points_written).toBeGreaterThan(5);
      expect(stats.mqtt_connected).toBe(1);
      expect(stats.write_ms.p50).toBeGreaterThan(0);
      // cumulative buckets since start, for the histogram of its /metrics
      expect(stats.write_ms.buckets.at(-1)).toBeLessThanOrEqual(stats.write_ms.count);
      expect(stats.write_ms.le.length).toBe(stats.write_ms.buckets.length);
    } finally {
      await api.endAsync(true);
    }
  });

  it('holds each PUBACK until its write without serializing the stream', async () => {
    // Were the PUBACK held through MQTT.js's handleMessage callback, each message would wait for its own
    // write (a flush of INGEST_FLUSH_MS plus the HTTP round trip): 2 000 messages, 40 s or more.
    const n = 2000;
    const t0 = Date.now();
    for (let i = 0; i < n; i++) {
      kit.publish(
        topics.sensorReadings('kit-1'),
        JSON.stringify({ ts: iso(T + 10_000 + i), pm25: i % 100 }),
        { qos: 1 },
      );
    }
    await eventually(
      'all written',
      async () => (await stack.count('pm25', 'readings', `device='kit-1' AND time >= ${T + 10_000}ms`)) === n,
      20_000,
    );
    expect(Date.now() - t0).toBeLessThan(10_000);
    await eventually('all acknowledged', () => stack.ingest!.stats().backlog_messages === 0);
  });
});
