import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ReadStack, startReadStack, type TestReading } from './helpers/api-read.ts';

/**
 * GET /api/v1/city/series and /api/v1/devices/{id}/profile against a real influxd: the city's median of
 * the kits' means per bucket (indoor kits left out), and a kit's average day in the city's time zone.
 */

const H = 3_600_000;
const AT = { lat: 48.11, lon: -1.68 };
const DEVICES = [
  { id: 'kp-a', kind: 'native' as const, ...AT },
  { id: 'kp-b', kind: 'native' as const, ...AT },
  { id: 'kp-c', kind: 'native' as const, ...AT },
  { id: 'kp-home', kind: 'native' as const, ...AT, indoor: true },
];
/** An hour 40 days ago for the city series: outside every profile's 30 days. */
const T0 = Math.floor((Date.now() - 40 * 86_400_000) / H) * H;
const isoAt = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
const NOW_HOUR = Math.floor(Date.now() / H) * H;

const r = (device: string, t: number, pm25: number, loc: TestReading['loc'] = 'fixed'): TestReading => ({
  device,
  kind: 'native',
  loc,
  t,
  ...AT,
  values: { pm25 },
});

let stack: ReadStack;
beforeAll(async () => {
  stack = await startReadStack({ devices: DEVICES });
  await stack.write([
    // First hour: kit means 15, 30, 40 and an indoor 1000 → median 30 of 3 kits.
    r('kp-a', T0 + 60_000, 10),
    r('kp-a', T0 + 120_000, 20),
    r('kp-b', T0 + 300_000, 30),
    r('kp-c', T0 + 600_000, 40),
    r('kp-home', T0 + 60_000, 1000, 'indoor'),
    // Second hour: 5 and 7 → median 6 of 2 kits. Third: nothing.
    r('kp-a', T0 + H + 60_000, 5),
    r('kp-b', T0 + H + 60_000, 7),
    // kp-a's last 48 hours: each hour's value is its UTC hour, twice over.
    ...Array.from({ length: 48 }, (_, k) => {
      const t = NOW_HOUR - (k + 1) * H + 5 * 60_000;
      return r('kp-a', t, new Date(t).getUTCHours());
    }),
  ]);
});
afterAll(async () => {
  await stack?.close();
});

const json = async <T>(path: string): Promise<{ status: number; body: T }> => {
  const res = await stack.get(path);
  return { status: res.status, body: (await res.json()) as T };
};

describe('GET /api/v1/city/series', () => {
  it("gives per bucket the median of the outdoor kits' means and how many kits measured", async () => {
    const { status, body } = await json<{ points: Array<{ t: string; v: number | null; kits: number }> }>(
      `/api/v1/city/series?metric=pm25&every=1h&from=${new Date(T0).toISOString()}&to=${new Date(T0 + 3 * H).toISOString()}`,
    );
    expect(status).toBe(200);
    expect(body.points).toEqual([
      { t: isoAt(T0), v: 30, kits: 3 },
      { t: isoAt(T0 + H), v: 6, kits: 2 },
      { t: isoAt(T0 + 2 * H), v: null, kits: 0 },
    ]);
  });

  it('names a bad parameter', async () => {
    const bad = await json<{ error: { code: string; message: string } }>('/api/v1/city/series?metric=pm3');
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/querystring\.metric/);
    const many = await json<{ error: { message: string } }>(
      '/api/v1/city/series?metric=pm25&from=-30d&every=1m',
    );
    expect(many.status).toBe(400);
    expect(many.body.error.message).toMatch(/querystring\.every/);
  });
});

describe('GET /api/v1/devices/{id}/profile', () => {
  type Profile = {
    timeZone: string;
    days: number;
    hours: Array<{ hour: number; v: number | null; n: number }>;
  };

  it('averages the hourly means per hour of the day, in UTC by default', async () => {
    const { status, body } = await json<Profile>('/api/v1/devices/kp-a/profile?metric=pm25&days=7');
    expect(status).toBe(200);
    expect(body.days).toBe(7);
    expect(body.hours).toEqual(Array.from({ length: 24 }, (_, h) => ({ hour: h, v: h, n: 2 })));
  });

  it("puts each hour at the city's local hour", async () => {
    const { body } = await json<Profile>('/api/v1/devices/kp-a/profile?metric=pm25&days=30&tz=Europe/Paris');
    expect(body.timeZone).toBe('Europe/Paris');
    // Europe/Paris is UTC+1 in winter and UTC+2 in summer: local hour h holds UTC hour h − offset.
    const offset =
      Number(
        new Intl.DateTimeFormat('en-GB', {
          timeZone: 'Europe/Paris',
          hour: '2-digit',
          hourCycle: 'h23',
        }).format(NOW_HOUR),
      ) - new Date(NOW_HOUR).getUTCHours();
    const off = ((offset % 24) + 24) % 24;
    expect(body.hours.map((x) => x.v)).toEqual(Array.from({ length: 24 }, (_, h) => (h - off + 24) % 24));
  });

  it('answers 404 for an unknown kit and 400 for a bad zone or span', async () => {
    expect((await json('/api/v1/devices/nobody/profile?metric=pm25')).status).toBe(404);
    const zone = await json<{ error: { message: string } }>(
      '/api/v1/devices/kp-a/profile?metric=pm25&tz=Mars/Base',
    );
    expect(zone.status).toBe(400);
    expect(zone.body.error.message).toMatch(/querystring\.tz/);
    const days = await json<{ error: { message: string } }>(
      '/api/v1/devices/kp-a/profile?metric=pm25&days=9',
    );
    expect(days.status).toBe(400);
    expect(days.body.error.message).toMatch(/querystring\.days/);
  });
});
