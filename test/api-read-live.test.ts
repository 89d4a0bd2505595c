import ngeohash from 'ngeohash';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ReadStack, sseClient, startReadStack } from './helpers/api-read.ts';
import { brokerClient } from './helpers/broker.ts';

const THROTTLE_MS = 300;
let stack: ReadStack;
const secrets: Record<string, string> = {};
let sckToken = '';

beforeAll(async () => {
  stack = await startReadStack({ broker: true, stream: { throttleMs: THROTTLE_MS, heartbeatMs: 200 } });
  const kits = [
    { id: 'kit-live', kind: 'native' as const, lat: 48.1113, lon: -1.68 },
    { id: 'kit-fast', kind: 'native' as const, lat: 48.112, lon: -1.679 },
    { id: 'kit-home', kind: 'native' as const, lat: 48.1195, lon: -1.6655, indoor: true },
    { id: 'car-live', kind: 'vehicle' as const },
  ];
  for (const k of kits) secrets[k.id] = (await stack.store.devices.create(k)).secret!;
  sckToken = (await stack.store.devices.create({ id: 'sck-1', kind: 'sck', lat: 48.11, lon: -1.67 })).token!;
});
afterAll(async () => {
  await stack?.close();
});

const stream = (headers: Record<string, string> = {}) => sseClient(`${stack.baseUrl}/api/v1/stream`, headers);

async function publishAs(id: string, topic: string, payload: string, opts: { retain?: boolean } = {}) {
  const client = await brokerClient(stack.broker!.url, {
    username: id,
    password: secrets[id]!,
    clientId: `${id}/${Math.random()}`,
  });
  await client.publishAsync(topic, payload, { qos: 1, retain: opts.retain ?? false });
  await client.endAsync();
}

const data = (e: { data: string }) => JSON.parse(e.data) as Record<string, unknown>;

describe('live stream', () => {
  it('answers text/event-stream and keeps idle streams alive with comments', async () => {
    const s = await stream();
    try {
      expect(s.response.status).toBe(200);
      expect(s.response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
      await new Promise((r) => setTimeout(r, 500));
      expect(s.comments).toBeGreaterThan(0);
    } finally {
      await s.close();
    }
  });

  it('delivers a reading published over MQTT', async () => {
    const s = await stream();
    try {
      const before = Date.now();
      await publishAs('kit-live', 'sensors/kit-live/readings', '{"pm25":8.2,"noise_laeq":58.4}');
      const e = await s.next((x) => x.event === 'reading' && data(x).device === 'kit-live');
      expect(data(e)).toMatchObject({
        device: 'kit-live',
        kind: 'native',
        lat: 48.1113,
        lon: -1.68,
        values: { pm25: 8.2, noise_laeq: 58.4 },
        bands: {
          pm25: { level: 2, label: 'fair', color: '#50ccaa' },
          noise_laeq: { level: 5, label: '55–59', color: '#fecc5c' },
        },
      });
      // No time in the payload: the broker's receive stamp.
      const t = Date.parse(data(e).t as string);
      expect(t).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
      expect(t).toBeLessThanOrEqual(Date.now());
      expect(Number(e.id)).toBeGreaterThan(0);
    } finally {
      await s.close();
    }
  });

  it('throttles each device: the first reading at once, the rest merged into one after the interval', async () => {
    const s = await stream();
    try {
      for (let i = 1; i <= 5; i++) await publishAs('kit-fast', 'sensors/kit-fast/readings', `{"pm25":${i}}`);
      await publishAs('kit-fast', 'sensors/kit-fast/readings', '{"noise_laeq":61}');
      await new Promise((r) => setTimeout(r, THROTTLE_MS * 3));
      const mine = s.events
        .filter((e) => e.event === 'reading' && data(e).device === 'kit-fast')
        .map((e) => data(e).values);
      expect(mine[0]).toEqual({ pm25: 1 });
      expect(mine.at(-1)).toEqual({ pm25: 5, noise_laeq: 61 });
      expect(mine.length).toBeLessThanOrEqual(3);
    } finally {
      await s.close();
    }
  });

  it('replays what a client missed when it reconnects with Last-Event-ID', async () => {
    const first = await stream();
    await publishAs('kit-live', 'sensors/kit-live/readings', '{"pm25":11}');
    const seen = await first.next(
      (x) => x.event === 'reading' && (data(x).values as { pm25?: number }).pm25 === 11,
    );
    await first.close();
    await new Promise((r) => setTimeout(r, THROTTLE_MS + 50));
    await publishAs('kit-live', 'sensors/kit-live/readings', '{"pm25":12}');
    await publishAs('car-live', 'vehicles/car-live/status', '{"online":true,"locked":true}', {
      retain: true,
    });
    await new Promise((r) => setTimeout(r, 200));
    const again = await stream({ 'Last-Event-ID': seen.id! });
    try {
      const missed = await again.next(
        (x) => x.event === 'reading' && (data(x).values as { pm25?: number }).pm25 === 12,
        1000,
      );
      expect(Number(missed.id)).toBeGreaterThan(Number(seen.id));
      await again.next((x) => x.event === 'vehicle' && data(x).vehicle === 'car-live', 1000);
      expect(again.events.every((e) => Number(e.id) > Number(seen.id))).toBe(true);
    } finally {
      await again.close();
    }
  });

  it('resolves Smart Citizen kits by the token in their topic', async () => {
    const s = await stream();
    // A device time of the last hour: one older than 7 days would be replaced by the broker's (CONTRACT §2).
    const t = new Date(Math.floor(Date.now() / 60_000) * 60_000 - 3_600_000)
      .toISOString()
      .replace('.000Z', 'Z');
    try {
      const kit = await brokerClient(stack.broker!.url, { clientId: sckToken });
      await kit.publishAsync(`device/sck/${sckToken}/readings/raw`, `{t:${t},87:8.2,53:58.4}`, { qos: 0 });
      await kit.endAsync();
      const e = await s.next((x) => x.event === 'reading' && data(x).device === 'sck-1');
      expect(data(e)).toMatchObject({
        kind: 'sck',
        t,
        values: { pm25: 8.2, noise_laeq: 58.4 },
      });
    } finally {
      await s.close();
    }
  });

  it('places indoor kits at their 7-cell centre', async () => {
    const s = await stream();
    try {
      await publishAs('kit-home', 'sensors/kit-home/readings', '{"pm25":3}');
      const e = await s.next((x) => x.event === 'reading' && data(x).device === 'kit-home');
      const c = ngeohash.decode(ngeohash.encode(48.1195, -1.6655, 7));
      expect([data(e).lat, data(e).lon]).toEqual([
        Math.round(c.latitude * 1e6) / 1e6,
        Math.round(c.longitude * 1e6) / 1e6,
      ]);
    } finally {
      await s.close();
    }
  });

  it("never sends a car's telemetry, position, air reading or lock; only when it goes on or off line", async () => {
    const s = await stream();
    try {
      const telemetry = {
        lat: 48.12,
        lon: -1.66,
        speed_kmh: 32.5,
        fuel_pct: 62,
        locked: false,
        air: { pm25: 9.1 },
      };
      await publishAs('car-live', 'vehicles/car-live/telemetry', JSON.stringify(telemetry));
      await publishAs('car-live', 'vehicles/car-live/status', '{"online":false,"locked":false}', {
        retain: true,
      });
      await publishAs('car-live', 'vehicles/car-live/status', '{"online":false,"locked":true}', {
        retain: true,
      });
      // A kit's reading published after them: once it is here, whatever the car's would have sent is too.
      await new Promise((r) => setTimeout(r, THROTTLE_MS + 50));
      await publishAs('kit-live', 'sensors/kit-live/readings', '{"pm25":77.7}');
      await s.next((x) => x.event === 'reading' && (data(x).values as { pm25?: number }).pm25 === 77.7);
      await new Promise((r) => setTimeout(r, 200));
      const car = s.events.filter((e) => e.data.includes('car-live'));
      expect(car.map((e) => [e.event, data(e)])).toEqual([
        ['vehicle', { vehicle: 'car-live', t: expect.any(String), online: false }],
      ]);
      for (const e of s.events) {
        expect(e.data).not.toMatch(/48\.12\b|-1\.66\b|locked|speed_kmh|fuel_pct|9\.1\b/);
      }
    } finally {
      await s.close();
    }
  });
});
