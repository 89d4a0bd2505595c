import ngeohash from 'ngeohash';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ReadStack, startReadStack, type TestReading } from './helpers/api-read.ts';
import {
  DAY,
  DEVICES,
  E0,
  END,
  edgeReadings,
  expectedCells,
  expectedSeries,
  type Fn,
  generatedReadings,
  HOUR,
  MIN,
  POS,
  T0,
} from './helpers/api-read-data.ts';

const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

interface SeriesBody {
  device: string;
  metric: string;
  fn: string;
  every: string;
  points: Array<{ t: string; v: number | null }>;
}
interface MapBody {
  type: string;
  features: Array<{
    type: string;
    geometry: { type: string; coordinates: number[][][] };
    properties: { cell: string; mean: number; max: number; count: number; devices: number; band: unknown };
  }>;
}

let stack: ReadStack;
/** The rollup job's clock: two minutes after the generated days, so every hour of them is closed. */
let clock = END + 2 * MIN;
const generated = generatedReadings();
const edges = edgeReadings();
const all = [...generated, ...edges];

beforeAll(async () => {
  stack = await startReadStack({ devices: DEVICES, now: () => clock });
  await stack.write(all);
});
afterAll(async () => {
  await stack?.close();
});

const series = async (query: string) => {
  const r = await stack.get(`/api/v1/devices/${query}`);
  expect(r.status, await r.clone().text()).toBe(200);
  return (await r.json()) as SeriesBody;
};
const map = async (query: string) => {
  const r = await stack.get(`/api/v1/map?${query}`);
  expect(r.status, await r.clone().text()).toBe(200);
  return (await r.json()) as MapBody;
};
const cellsOf = (body: MapBody) =>
  body.features.map((f) => {
    const { band: _band, ...rest } = f.properties;
    return rest;
  });

describe('series', () => {
  const from = T0 + 2 * HOUR;
  const to = T0 + 26 * HOUR;

  for (const fn of ['mean', 'min', 'max', 'count', 'median', 'p95'] as Fn[]) {
    it(`gives the ${fn} of every hourly bucket, equal to the value computed from the readings`, async () => {
      const body = await series(`kit-a/series?metric=pm25&fn=${fn}&every=1h&from=${iso(from)}&to=${iso(to)}`);
      expect(body).toMatchObject({ device: 'kit-a', metric: 'pm25', fn, every: '1h' });
      expect(body.points).toEqual(expectedSeries(all, 'kit-a', 'pm25', fn, from, to, HOUR));
    });
  }

  it('answers every bucket, the empty ones with null', async () => {
    const body = await series(`kit-b/series?metric=pm25&every=1h&from=${iso(T0)}&to=${iso(T0 + 9 * HOUR)}`);
    expect(body.points).toHaveLength(9);
    expect(body.points.filter((p) => p.v === null).map((p) => p.t)).toEqual([
      iso(T0 + 5 * HOUR),
      iso(T0 + 6 * HOUR),
    ]);
    expect(body.points).toEqual(expectedSeries(all, 'kit-b', 'pm25', 'mean', T0, T0 + 9 * HOUR, HOUR));
  });

  it('includes a reading at from and excludes one at to', async () => {
    const body = await series(
      `kit-a/series?metric=pm25&fn=count&every=30m&from=${iso(E0 - HOUR)}&to=${iso(E0)}`,
    );
    expect(body.points).toEqual([
      { t: iso(E0 - HOUR), v: 1 },
      { t: iso(E0 - 30 * MIN), v: 1 },
    ]);
    const max = await series(`kit-a/series?metric=pm25&fn=max&every=1h&from=${iso(E0 - HOUR)}&to=${iso(E0)}`);
    expect(max.points).toEqual([{ t: iso(E0 - HOUR), v: 20 }]);
  });

  it('starts the first bucket at a multiple of every, holding only readings from `from` on', async () => {
    const f = T0 + 90 * MIN;
    const body = await series(
      `kit-a/series?metric=pm25&fn=count&every=1h&from=${iso(f)}&to=${iso(f + 2 * HOUR)}`,
    );
    expect(body.points).toEqual([
      { t: iso(T0 + HOUR), v: 3 },
      { t: iso(T0 + 2 * HOUR), v: 6 },
      { t: iso(T0 + 3 * HOUR), v: 3 },
    ]);
  });

  it('answers 404 device_not_found for an unknown device', async () => {
    const r = await stack.get('/api/v1/devices/nobody/series?metric=pm25');
    expect(r.status).toBe(404);
    expect(((await r.json()) as { error: { code: string } }).error.code).toBe('device_not_found');
  });
});

describe('map', () => {
  for (const cell of [5, 6, 7, 8]) {
    it(`aggregates 3 days over ${cell}-cells: mean, max, count, devices equal the readings'`, async () => {
      const body = await map(`metric=pm25&window=3d&to=${iso(END)}&cell=${cell}`);
      expect(body.type).toBe('FeatureCollection');
      expect(cellsOf(body)).toEqual(expectedCells(all, 'pm25', END - 3 * DAY, END, cell));
    });
  }

  it('gives each cell its band and its polygon', async () => {
    const body = await map(`metric=pm25&window=1h&to=${iso(E0)}&cell=7`);
    const cellA = ngeohash.encode(POS.kitA.lat, POS.kitA.lon, 7);
    const f = body.features.find((x) => x.properties.cell === cellA)!;
    // kit-a's two readings inside the window: 10 and 20, mean 15. The EEA index of PM2.5 is defined on a
    // 24-hour running mean: an hour's mean has no band, and the answer says so.
    expect(f.properties).toEqual({ cell: cellA, mean: 15, max: 20, count: 2, devices: 1, band: null });
    expect((body as unknown as { index: { status: string } }).index.status).toBe('insufficient_data');
    const [s, w, n, e] = ngeohash.decode_bbox(cellA).map((v) => Math.round(v * 1e6) / 1e6) as number[];
    expect(f.geometry).toEqual({
      type: 'Polygon',
      coordinates: [
        [
          [w, s],
          [e, s],
          [e, n],
          [w, n],
          [w, s],
        ],
      ],
    });
  });

  it('counts mobile readings in the cells they were taken in', async () => {
    const body = await map(`metric=pm25&window=1h&to=${iso(E0)}&cell=7`);
    expect(cellsOf(body)).toEqual(expectedCells(all, 'pm25', E0 - HOUR, E0, 7));
    const carCells = new Set(
      edges.filter((r) => r.device === 'car-1').map((r) => ngeohash.encode(r.lat, r.lon, 7)),
    );
    expect(carCells.size).toBeGreaterThan(5);
    for (const c of carCells) expect(body.features.some((f) => f.properties.cell === c)).toBe(true);
  });

  it('is exact at the window edges: a reading at to − window counts, one at to does not', async () => {
    const body = await map(`metric=pm25&window=1h&to=${iso(E0)}&cell=7`);
    const cellA = ngeohash.encode(POS.kitA.lat, POS.kitA.lon, 7);
    const f = body.features.find((x) => x.properties.cell === cellA)!;
    // 500 one millisecond before the window and 900 at its end are left out.
    expect(f.properties).toMatchObject({ count: 2, max: 20 });
    const coarse = await map(`metric=pm25&window=1h&to=${iso(E0)}&cell=6`);
    expect(cellsOf(coarse)).toEqual(expectedCells(all, 'pm25', E0 - HOUR, E0, 6));
  });

  it('returns the cells overlapping the bbox, not those that only touch it', async () => {
    const cellA = ngeohash.encode(POS.kitA.lat, POS.kitA.lon, 6);
    const [s, w, n, e] = ngeohash.decode_bbox(cellA);
    const exact = await map(`metric=pm25&window=3d&to=${iso(END)}&cell=6&bbox=${w},${s},${e},${n}`);
    expect(exact.features.map((f) => f.properties.cell)).toEqual([cellA]);
    // A hair past one edge reaches into the neighbour cell there that holds readings (kit-b, east).
    const all6 = expectedCells(all, 'pm25', END - 3 * DAY, END, 6);
    const hair = 1e-6;
    const sides = [
      { dir: [1, 0], box: [w, s, e, n + hair] },
      { dir: [-1, 0], box: [w, s - hair, e, n] },
      { dir: [0, 1], box: [w, s, e + hair, n] },
      { dir: [0, -1], box: [w - hair, s, e, n] },
    ] as const;
    const side = sides.find((x) => all6.some((c) => c.cell === ngeohash.neighbor(cellA, [...x.dir])))!;
    const neighbour = ngeohash.neighbor(cellA, [...side.dir]);
    const wider = await map(`metric=pm25&window=3d&to=${iso(END)}&cell=6&bbox=${side.box.join(',')}`);
    const expected = all6.filter((c) => c.cell === cellA || c.cell === neighbour);
    expect(cellsOf(wider)).toEqual(expected);
  });

  it('places indoor kits at the centre of their 7-cell, never at their position', async () => {
    const body = await map(`metric=pm25&window=3d&to=${iso(END)}&cell=9`);
    const exact = ngeohash.encode(POS.home.lat, POS.home.lon, 9);
    const centre = ngeohash.decode(ngeohash.encode(POS.home.lat, POS.home.lon, 7));
    const blurred = ngeohash.encode(centre.latitude, centre.longitude, 9);
    expect(exact).not.toBe(blurred);
    const cells = body.features.map((f) => f.properties.cell);
    expect(cells).toContain(blurred);
    expect(cells).not.toContain(exact);
  });
});

describe('rollups', () => {
  beforeAll(async () => {
    await stack.rollups.runOnce();
    stack.useRollups(true);
  });
  afterAll(() => stack.useRollups(false));

  it('cover every closed hour and day of the data', () => {
    // On InfluxDB 1.x in a retention policy of their own, with shards of ten years.
    expect(stack.rollups.coverage()).toEqual([
      { measurement: 'readings_1h', map: 'map_1h', rp: 'citytel_rollups', step: HOUR, from: T0, to: END },
      { measurement: 'readings_1d', map: 'map_1d', rp: 'citytel_rollups', step: DAY, from: T0, to: END },
    ]);
  });

  for (const cell of [6, 7]) {
    it(`give the same ${cell}-cell map as the raw readings, exact at unaligned window edges`, async () => {
      const to = END - 17 * MIN;
      const body = await map(`metric=pm25&window=50h&to=${iso(to)}&cell=${cell}`);
      expect(cellsOf(body)).toEqual(expectedCells(all, 'pm25', to - 50 * HOUR, to, cell));
    });
  }

  it('are what long windows read: with a raw day deleted, the map still counts it', async () => {
    const day = { from: T0 + DAY, to: T0 + 2 * DAY };
    await stack.query.query(`DELETE FROM "readings" WHERE time >= ${day.from}ms AND time < ${day.to}ms`);
    try {
      const body = await map(`metric=pm25&window=3d&to=${iso(END)}&cell=6`);
      expect(cellsOf(body)).toEqual(expectedCells(all, 'pm25', END - 3 * DAY, END, 6));
    } finally {
      await stack.write(all.filter((r) => r.t >= day.from && r.t < day.to));
    }
  });

  for (const fn of ['mean', 'min', 'max', 'count'] as Fn[]) {
    it(`give the same ${fn} series as the raw readings`, async () => {
      const from = T0 + 37 * MIN;
      const to = END - 5 * MIN;
      const hourly = await series(
        `kit-a/series?metric=noise_laeq&fn=${fn}&every=1h&from=${iso(from)}&to=${iso(to)}`,
      );
      expect(hourly.points).toEqual(expectedSeries(all, 'kit-a', 'noise_laeq', fn, from, to, HOUR));
      const daily = await series(
        `kit-b/series?metric=pm25&fn=${fn}&every=1d&from=${iso(from)}&to=${iso(to)}`,
      );
      expect(daily.points).toEqual(expectedSeries(all, 'kit-b', 'pm25', fn, from, to, DAY));
    });
  }

  it('fold in readings that arrive late, within the lateness window, when the next hour closes', async () => {
    const late: TestReading = {
      device: 'kit-a',
      kind: 'native',
      loc: 'fixed',
      t: END - 25 * MIN,
      ...POS.kitA,
      values: { pm25: 99.9 },
    };
    await stack.write([late]);
    all.push(late);
    clock = END + HOUR + 2 * MIN;
    await stack.rollups.runOnce();
    expect(stack.rollups.coverage()[0]).toMatchObject({ to: END + HOUR });
    const day = await stack.query.query(
      `SELECT "pm25_count", "pm25_max" FROM "citytel_rollups"."readings_1d" WHERE "device" = 'kit-a' AND time = ${END - DAY}ms`,
    );
    const kitALastDay = all.filter(
      (r) => r.device === 'kit-a' && r.t >= END - DAY && r.t < END && r.values.pm25 !== undefined,
    );
    expect(day[0]?.values[0]?.slice(1)).toEqual([kitALastDay.length, 99.9]);
    // The whole window from rollups (its edges are aligned): the late reading is in the daily rollup.
    const body = await map(`metric=pm25&window=3d&to=${iso(END)}&cell=6`);
    expect(cellsOf(body)).toEqual(expectedCells(all, 'pm25', END - 3 * DAY, END, 6));
  });
});
