import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ReadStack, startReadStack, type TestReading } from './helpers/api-read.ts';

/**
 * Levels in dB are averaged on the energy scale everywhere the api aggregates them (ISO 1996-1):
 * 60 and 70 dB(A) in one hour are 10·lg((10^6 + 10^7)/2) = 67.4036 dB(A), read back from a real InfluxDB
 * through series, map, the rollups a 30-day view reads and the export.
 */

const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
const T0 = Date.UTC(2026, 9, 1);
const END = T0 + 30 * DAY;
const H = T0 + 10 * HOUR;
const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

const kit = { lat: 48.1113, lon: -1.68 };
const parked = { lat: 48.0951, lon: -1.6602 };
const reading = (device: string, t: number, noise: number, loc: 'fixed' | 'mobile' = 'fixed') =>
  ({
    device,
    kind: 'native',
    loc,
    t,
    ...(loc === 'fixed' ? kit : parked),
    values: { noise_laeq: noise },
  }) satisfies TestReading;

// 10·lg(5.5e6) = 67.40362689…
const HOUR_LEQ = 67.404;
// The whole month of kit-a: 60, 70 on day 1 and 50 on day 2: 10·lg((1e6 + 1e7 + 1e5)/3) = 10·lg(3.7e6) = 65.6820
const MONTH_LEQ = 65.682;

const data = [
  reading('kit-a', H + 10 * MIN, 60),
  reading('kit-a', H + 40 * MIN, 70),
  reading('kit-a', T0 + DAY + 10 * HOUR, 50),
  reading('mob-1', H + 5 * MIN, 60, 'mobile'),
  reading('mob-1', H + 35 * MIN, 70, 'mobile'),
];

let stack: ReadStack;
beforeAll(async () => {
  stack = await startReadStack({
    devices: [
      { id: 'kit-a', kind: 'native', lat: kit.lat, lon: kit.lon },
      { id: 'mob-1', kind: 'native', mobile: true },
    ],
    now: () => END + 2 * MIN,
  });
  await stack.write(data);
});
afterAll(async () => {
  await stack?.close();
});

const json = async <T>(path: string): Promise<T> => {
  const r = await stack.get(path);
  expect(r.status, await r.clone().text()).toBe(200);
  return (await r.json()) as T;
};
interface MapBody {
  features: Array<{
    properties: { cell: string; mean: number; max: number; count: number; band: { label: string } };
  }>;
}
const cellMeans = (b: MapBody) =>
  b.features.map((f) => [f.properties.count, f.properties.mean, f.properties.max]);

describe('noise on the energy scale, from raw readings', () => {
  it('series: 60 and 70 dB(A) in one hour give 67.4, min and max unchanged', async () => {
    const q = `metric=noise_laeq&every=1h&from=${iso(H)}&to=${iso(H + HOUR)}`;
    const mean = await json<{ points: Array<{ v: number }> }>(`/api/v1/devices/kit-a/series?${q}`);
    expect(mean.points).toEqual([{ t: iso(H), v: HOUR_LEQ }]);
    const max = await json<{ points: Array<{ v: number }> }>(`/api/v1/devices/kit-a/series?${q}&fn=max`);
    expect(max.points[0]!.v).toBe(70);
    const median = await json<{ points: Array<{ v: number }> }>(
      `/api/v1/devices/kit-a/series?${q}&fn=median`,
    );
    expect(median.points[0]!.v).toBe(65);
  });

  it('map: a kit cell and a mobile cell with 60 and 70 dB(A) both say 67.4 (band 65–69)', async () => {
    const body = await json<MapBody>(`/api/v1/map?metric=noise_laeq&window=1h&to=${iso(H + HOUR)}&cell=6`);
    expect(cellMeans(body)).toEqual([
      [2, HOUR_LEQ, 70],
      [2, HOUR_LEQ, 70],
    ]);
    expect(body.features.map((f) => f.properties.band.label)).toEqual(['65–69', '65–69']);
    // Finer cells: the kit from its mean position, the mobile kit reading by reading.
    const fine = await json<MapBody>(`/api/v1/map?metric=noise_laeq&window=1h&to=${iso(H + HOUR)}&cell=8`);
    expect(cellMeans(fine)).toEqual([
      [2, HOUR_LEQ, 70],
      [2, HOUR_LEQ, 70],
    ]);
  });

  it('export: the hourly mean bucket is 67.4; raw rows keep each measured level', async () => {
    const base = `/api/v1/export?metric=noise_laeq&device=kit-a&from=${iso(H)}&to=${iso(H + HOUR)}`;
    const bucketed = await (await stack.get(`${base}&every=1h&fn=mean`)).text();
    const rows = bucketed.trimEnd().split('\n');
    const header = rows.findIndex((l) => l.startsWith('time,'));
    const col = rows[header]!.split(',').indexOf('noise_laeq');
    expect(rows.slice(header + 1).map((l) => Number(l.split(',')[col]))).toEqual([HOUR_LEQ]);
    const raw = await (await stack.get(base)).text();
    expect(raw).toContain(',60,');
    expect(raw).toContain(',70,');
  });
});

describe('noise on the energy scale, from the rollups', () => {
  beforeAll(async () => {
    await stack.rollups.runOnce();
    stack.useRollups(true);
    // The raw readings gone: what is read next can only come from the rollups.
    await stack.query.query(`DELETE FROM "readings" WHERE time >= ${T0}ms AND time < ${END}ms`);
  });
  afterAll(async () => {
    stack.useRollups(false);
    await stack.write(data);
  });

  it('a 30-day map read from daily rollups equals the energy mean of the raw readings', async () => {
    const body = await json<MapBody>(`/api/v1/map?metric=noise_laeq&window=30d&to=${iso(END)}&cell=6`);
    expect(cellMeans(body).sort()).toEqual(
      [
        [2, HOUR_LEQ, 70],
        [3, MONTH_LEQ, 70],
      ].sort(),
    );
  });

  it('series from hourly and daily rollups: 67.4 for the hour, the energy mean for the month', async () => {
    const hour = await json<{ points: Array<{ v: number | null }> }>(
      `/api/v1/devices/kit-a/series?metric=noise_laeq&every=1h&from=${iso(H)}&to=${iso(H + HOUR)}`,
    );
    expect(hour.points.map((p) => p.v)).toEqual([HOUR_LEQ]);
    const days = await json<{ points: Array<{ v: number | null }> }>(
      `/api/v1/devices/kit-a/series?metric=noise_laeq&every=1d&from=${iso(T0)}&to=${iso(T0 + 2 * DAY)}`,
    );
    expect(days.points.map((p) => p.v)).toEqual([HOUR_LEQ, 50]);
  });

  it('the rollups keep the energy sum and the count, and record their version', async () => {
    const s = await stack.query.query(
      `SELECT "noise_laeq_esum", "noise_laeq_count" FROM "citytel_rollups"."readings_1h" WHERE "device" = 'kit-a' AND time = ${H}ms`,
    );
    const [esum, count] = s[0]!.values[0]!.slice(1) as number[];
    expect(esum! / 1e7).toBeCloseTo(1.1, 9);
    expect(count).toBe(2);
    const v = await stack.query.query(`SELECT last("version") FROM "citytel_rollups"."rollup_meta"`);
    expect(v[0]!.values[0]![1]).toBe(3);
  });
});
