import v8 from 'node:v8';
import vm from 'node:vm';
import { METRIC_NAMES } from '@citytel/contract';
import ngeohash from 'ngeohash';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InfluxQuery } from '../api/src/influx/client.ts';
import { type ReadStack, readingLine, startReadStack, type TestReading } from './helpers/api-read.ts';
import {
  DAY,
  DEVICES,
  expectedSeries,
  generatedReadings,
  HOUR,
  MIN,
  POS,
  publicPos,
  T0,
} from './helpers/api-read-data.ts';

const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
const r6 = (v: number) => Math.round(v * 1e6) / 1e6;

/** Minutes before the test started: the devices list shows the last 24 hours. */
const NOW = Math.floor(Date.now() / 1000) * 1000;
const ago = (min: number) => NOW - min * MIN;

const recent: TestReading[] = [
  {
    device: 'kit-a',
    kind: 'native',
    loc: 'fixed',
    t: ago(30),
    ...POS.kitA,
    values: { pm25: 12, noise_laeq: 55 },
  },
  { device: 'kit-a', kind: 'native', loc: 'fixed', t: ago(10), ...POS.kitA, values: { pm25: 8.2 } },
  { device: 'kit-home', kind: 'native', loc: 'indoor', t: ago(5), ...POS.home, values: { pm25: 3 } },
  {
    device: 'mob-1',
    kind: 'native',
    loc: 'mobile',
    t: ago(20),
    lat: 48.101,
    lon: -1.69,
    values: { pm25: 30 },
  },
  {
    device: 'mob-1',
    kind: 'native',
    loc: 'mobile',
    t: ago(2),
    lat: 48.105,
    lon: -1.65,
    values: { pm25: 40 },
  },
];
const carLine = `vehicles,gh=${ngeohash.encode(48.12, -1.66, 6)},vehicle=car-1 speed_kmh=32.5,fuel_pct=62,locked=false,online=true,lat=48.12,lon=-1.66,tsrc="device" ${ago(1)}`;

/** 400 000 readings of 40 kits over two days, for the streaming test. */
const BIG_FROM = Date.UTC(2026, 9, 1);
function bigReadings(): string[] {
  const lines: string[] = [];
  for (let i = 0; i < 400_000; i++) {
    const k = i % 40;
    lines.push(
      readingLine({
        device: `big-${k}`,
        kind: 'native',
        loc: 'fixed',
        t: BIG_FROM + i * 400,
        lat: 48.1 + k * 0.001,
        lon: -1.7,
        values: { pm25: (i % 500) / 10 },
      }),
    );
  }
  return lines;
}

/** V8's full collection, made callable at run time (vitest does not start node with --expose-gc). */
function collector(): () => void {
  v8.setFlagsFromString('--expose_gc');
  return vm.runInNewContext('gc') as () => void;
}

let stack: ReadStack;
let pulled = 0;
const generated = generatedReadings();

beforeAll(async () => {
  stack = await startReadStack({
    devices: [...DEVICES, { id: 'kit-silent', kind: 'sck', lat: 48.13, lon: -1.7 }],
    license: 'CC-BY-4.0',
    wrapInflux: (q): InfluxQuery => ({
      ...q,
      async *queryChunks(sql, o) {
        for await (const c of q.queryChunks(sql, o)) {
          pulled++;
          yield c;
        }
      },
    }),
  });
  await stack.store.touchMany([{ id: 'kit-silent', at: new Date(NOW - 3 * DAY) }]);
  adminToken = (await stack.store.operators.create({ id: 'admin-op', name: 'Admin', admin: true })).token;
  await stack.write([...recent, ...generated]);
  await stack.write([carLine]);
  await stack.write(bigReadings());
}, 120_000);
afterAll(async () => {
  await stack?.close();
});

interface DeviceFeature {
  id: string;
  geometry: { type: 'Point'; coordinates: [number, number] } | null;
  properties: {
    id: string;
    kind: string;
    indoor: boolean;
    lastSeen: string | null;
    valuesAt: string | null;
    values: Record<string, number>;
    bands: Record<string, { level: number; label: string; color: string }>;
    vehicle?: Record<string, unknown>;
  };
}
let adminToken = '';
const devices = async (query = '', token?: string) => {
  const r = await stack.get(`/api/v1/devices${query}`, token ? { authorization: `Bearer ${token}` } : {});
  expect(r.status, await r.clone().text()).toBe(200);
  const body = (await r.json()) as { type: string; features: DeviceFeature[] };
  expect(body.type).toBe('FeatureCollection');
  return body.features;
};

describe('devices', () => {
  it('lists every registered kit (no car), a silent one with its last seen and no values', async () => {
    const all = await devices();
    expect(all.map((f) => f.id).sort()).toEqual(['kit-a', 'kit-b', 'kit-home', 'kit-silent', 'mob-1']);
    const silent = all.find((f) => f.id === 'kit-silent')!;
    expect(silent.properties).toMatchObject({ lastSeen: iso(NOW - 3 * DAY), valuesAt: null, values: {} });
    expect(silent.geometry).toEqual({ type: 'Point', coordinates: [-1.7, 48.13] });
  });

  it('gives each kit the latest value of every metric, with its band', async () => {
    const a = (await devices()).find((f) => f.id === 'kit-a')!;
    expect(a.properties.values).toEqual({ pm25: 8.2, noise_laeq: 55 });
    expect(a.properties.valuesAt).toBe(iso(ago(10)));
    expect(a.properties.lastSeen).toBe(iso(ago(10)));
    expect(a.properties.bands).toEqual({
      pm25: { level: 2, label: 'fair', color: '#50ccaa' },
      noise_laeq: { level: 5, label: '55–59', color: '#fecc5c' },
    });
    expect(a.geometry?.coordinates).toEqual([POS.kitA.lon, POS.kitA.lat]);
  });

  it('places a mobile kit at the centre of the 7-cell of its last position, with no opt-in', async () => {
    const all = await devices();
    const c = ngeohash.decode(ngeohash.encode(48.105, -1.65, 7));
    expect(all.find((f) => f.id === 'mob-1')!.geometry?.coordinates).toEqual([
      r6(c.longitude),
      r6(c.latitude),
    ]);
  });

  it('shows an operator a car at its last telemetry, with its state; a wrong token is refused', async () => {
    const all = await devices('', adminToken);
    const car = all.find((f) => f.id === 'car-1')!;
    expect(car.geometry?.coordinates).toEqual([-1.66, 48.12]);
    expect(car.properties.vehicle).toEqual({ speed_kmh: 32.5, fuel_pct: 62, locked: false, online: true });
    expect(all.find((f) => f.id === 'mob-1')!.geometry?.coordinates).toEqual([-1.65, 48.105]);
    const wrong = await stack.get('/api/v1/devices', { authorization: 'Bearer not-a-token-of-anyone' });
    expect(wrong.status).toBe(401);
  });

  it('never serves an indoor kit at its position, only at its 7-cell centre', async () => {
    const home = (await devices()).find((f) => f.id === 'kit-home')!;
    const c = ngeohash.decode(ngeohash.encode(POS.home.lat, POS.home.lon, 7));
    expect(home.geometry?.coordinates).toEqual([r6(c.longitude), r6(c.latitude)]);
    expect(home.geometry?.coordinates).not.toEqual([POS.home.lon, POS.home.lat]);
    // A box around its real position, away from the centre, does not find it.
    const box = [POS.home.lon - 1e-5, POS.home.lat - 1e-5, POS.home.lon + 1e-5, POS.home.lat + 1e-5];
    expect((await devices(`?bbox=${box.join(',')}`)).map((f) => f.id)).toEqual([]);
  });

  it('filters by kind, by metric and by bbox, edges included', async () => {
    expect((await devices('?kind=vehicle')).map((f) => f.id)).toEqual([]);
    expect((await devices('?kind=vehicle', adminToken)).map((f) => f.id)).toEqual(['car-1']);
    expect((await devices('?metric=noise_laeq')).map((f) => f.id)).toEqual(['kit-a']);
    const { lat, lon } = POS.kitA;
    expect((await devices(`?bbox=${lon},${lat},${lon + 0.001},${lat + 0.001}`)).map((f) => f.id)).toEqual([
      'kit-a',
    ]);
    expect(
      (await devices(`?bbox=${lon + 1e-6},${lat},${lon + 0.001},${lat + 0.001}`)).map((f) => f.id),
    ).toEqual([]);
  });
});

const exportText = async (query: string) => {
  const r = await stack.get(`/api/v1/export?${query}`);
  expect(r.status, await r.clone().text()).toBe(200);
  return { r, text: await r.text() };
};

describe('export', () => {
  it('streams raw readings as CSV whose first line is its header, the licence in the linked data package', async () => {
    const { r, text } = await exportText(`metric=pm25&device=kit-a&from=${iso(T0)}&to=${iso(T0 + HOUR)}`);
    expect(r.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    const lines = text.trimEnd().split('\n');
    expect(r.headers.get('link')).toBe(
      '</api/v1/export/datapackage.json>; rel="describedby"; type="application/json"',
    );
    expect(lines[0]).toBe(
      'time,device,kind,loc,lat,lon,pm25,tsrc,flags,sensor_error,pm25_corrected,pm10_corrected,pm_correction',
    );
    const expected = generated
      .filter((g) => g.device === 'kit-a' && g.t >= T0 && g.t < T0 + HOUR)
      .map((g) => `${iso(g.t)},kit-a,native,fixed,${g.lat},${g.lon},${g.values.pm25},device,,,,,`);
    expect(lines.slice(1)).toEqual(expected);
  });

  it('exports every metric when none is named, each row with the ones it has', async () => {
    const { text } = await exportText(`device=kit-a&from=${iso(ago(31))}&to=${iso(NOW)}`);
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toBe(
      `time,device,kind,loc,lat,lon,${METRIC_NAMES.join(',')},tsrc,flags,sensor_error,pm25_corrected,pm10_corrected,pm_correction`,
    );
    const col = (m: string) => 6 + METRIC_NAMES.indexOf(m as never);
    const rows = lines.slice(1).map((l) => l.split(','));
    expect(rows.map((c) => [c[0], c[col('pm25')], c[col('noise_laeq')]])).toEqual([
      [iso(ago(30)), '12', '55'],
      [iso(ago(10)), '8.2', ''],
    ]);
  });

  it('exports buckets: one row per device and bucket with fn of each metric', async () => {
    const to = T0 + 9 * HOUR;
    const { text } = await exportText(
      `metric=pm25&device=kit-b&every=1h&fn=max&from=${iso(T0)}&to=${iso(to)}`,
    );
    const rows = text
      .trimEnd()
      .split('\n')
      .slice(1)
      .map((l) => l.split(','));
    const expected = expectedSeries(generated, 'kit-b', 'pm25', 'max', T0, to, HOUR).filter(
      (p) => p.v !== null,
    );
    expect(rows.map((c) => ({ t: c[0], v: Number(c[6]) }))).toEqual(expected);
    expect(rows.every((c) => c[1] === 'kit-b' && c[4] === String(POS.kitB.lat))).toBe(true);
  });

  it('exports GeoJSON with a license member, indoor and mobile kits at their 7-cell centre', async () => {
    const { r, text } = await exportText(`format=geojson&metric=pm25&from=${iso(T0)}&to=${iso(T0 + HOUR)}`);
    expect(r.headers.get('content-type')).toBe('application/geo+json');
    const body = JSON.parse(text) as {
      license: string;
      features: Array<{
        geometry: { coordinates: number[] };
        properties: { device: string; time: string; pm25: number };
      }>;
    };
    expect(body.license).toBe('CC-BY-4.0');
    const expected = generated.filter((g) => g.t >= T0 && g.t < T0 + HOUR && g.values.pm25 !== undefined);
    expect(body.features).toHaveLength(expected.length);
    const home = body.features.filter((f) => f.properties.device === 'kit-home');
    const c = publicPos(expected.find((g) => g.device === 'kit-home')!);
    expect(home.length).toBeGreaterThan(0);
    for (const f of home) expect(f.geometry.coordinates).toEqual([r6(c.lon), r6(c.lat)]);
    const mobile = body.features.filter((f) => f.properties.device === 'mob-1');
    const spots = expected.filter((g) => g.device === 'mob-1');
    expect(mobile.length).toBe(spots.length);
    mobile.forEach((f, i) => {
      const cell = ngeohash.decode(ngeohash.encode(spots[i]!.lat, spots[i]!.lon, 7));
      expect(f.geometry.coordinates).toEqual([r6(cell.longitude), r6(cell.latitude)]);
    });
  });

  it('selects by bbox exactly at its edges', async () => {
    const { lat, lon } = POS.kitA;
    const range = `metric=pm25&from=${iso(T0)}&to=${iso(T0 + HOUR)}`;
    const devicesIn = async (box: number[]) => {
      const { text } = await exportText(`${range}&bbox=${box.join(',')}`);
      return [
        ...new Set(
          text
            .trimEnd()
            .split('\n')
            .slice(1)
            .map((l) => l.split(',')[1]),
        ),
      ];
    };
    expect(await devicesIn([lon - 0.001, lat - 0.001, lon, lat])).toEqual(['kit-a']);
    expect(await devicesIn([lon - 0.001, lat - 0.001, lon - 1e-6, lat])).toEqual([]);
  });

  it('streams a large range while reading InfluxDB only as fast as the client reads', async () => {
    const to = BIG_FROM + 2 * DAY;
    const r = await stack.get(`/api/v1/export?metric=pm25&from=${iso(BIG_FROM)}&to=${iso(to)}`, {
      'Accept-Encoding': 'identity',
    });
    expect(r.status).toBe(200);
    const reader = r.body!.getReader();
    try {
      let bytes = (await reader.read()).value?.length ?? 0;
      pulled = 0;
      // The client stops reading: once the socket buffers are full the api stops pulling from InfluxDB.
      await new Promise((res) => setTimeout(res, 1500));
      expect(pulled).toBeLessThan(25);
      // Live heap after a full collection, sampled as the body streams: flat, whatever the range.
      const gc = collector();
      const heap: number[] = [];
      let lines = 0;
      let nextSample = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        bytes += value.length;
        for (const b of value) if (b === 10) lines++;
        if (bytes >= nextSample) {
          gc();
          heap.push(process.memoryUsage().heapUsed);
          nextSample += 3_000_000;
        }
      }
      // 400 000 rows in 80 chunks of InfluxDB's answer; the whole body is ~30 MB.
      expect(lines).toBeGreaterThan(399_000);
      expect(bytes).toBeGreaterThan(25_000_000);
      expect(heap.length).toBeGreaterThan(5);
      expect(Math.max(...heap) - Math.min(...heap)).toBeLessThan(20_000_000);
    } finally {
      await reader.cancel().catch(() => {});
    }
  });
});
