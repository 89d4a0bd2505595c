import { encodeAirrohr, stamp, topics } from '@citytel/contract';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPipeline } from '../ingest/src/pipeline.ts';
import { lineText } from '../ingest/src/points.ts';
import { cacheOf, device } from '../ingest/src/testing.ts';
import { type ReadStack, startReadStack } from './helpers/api-read.ts';

/**
 * Corrected PM and quality flags as the api serves them, end to end from ingest's pipeline (the points it
 * writes) through a real InfluxDB: the public devices list gives the flags and corrected value of each
 * kit's latest reading; a series serves the corrected values with their method; the map counts each PM
 * reading by its corrected value where it has one, says so, and leaves out faulty readings when asked.
 */

const MIN = 60_000;
const HOUR = 3_600_000;
// Within the devices list's 24-hour lookback: the hour before last.
const T0 = Math.floor(Date.now() / HOUR) * HOUR - 2 * HOUR;
const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
// Three kits in three 6-cells of Rennes.
const SDS = { lat: 48.1113, lon: -1.68 };
const PMS = { lat: 48.1113, lon: -1.64 };
const KIT = { lat: 48.1113, lon: -1.6 };

const KAPPA = 'kappa-kohler-crilley-2018@1-kappa0.4';
const EPA = 'epa-barkjohn-2021@1';
// κ-Köhler, κ = 0.4, RH 60 %: C = 1 + (0.4/1.65)/(1/0.6 − 1) = 1.363636…; 8 / C = 5.8667 → 5.87 stored,
// 12 / C = 8.8.
const SDS_PM25_C = 5.87;
const SDS_PM10_C = 8.8;
// US EPA, RH 95 %: 0.524 × 20 − 0.0862 × 95 + 5.75 = 8.041 → 8.04 stored.
const PMS_PM25_C = 8.04;
// sds-1's cell on the map: (5.87 + 10) / 2.
const SDS_CELL_MEAN = 7.935;

let stack: ReadStack;
beforeAll(async () => {
  stack = await startReadStack({
    devices: [
      { id: 'sds-1', kind: 'airrohr', ...SDS },
      { id: 'pms-1', kind: 'airrohr', ...PMS },
      { id: 'kit-1', kind: 'native', ...KIT },
    ],
  });
  const pipeline = createPipeline({
    devices: cacheOf([
      device('sds-1', { kind: 'airrohr', ...SDS }),
      device('pms-1', { kind: 'airrohr', ...PMS }),
      device('kit-1', KIT),
    ]),
    stuckReadings: 3,
  });
  const lines: string[] = [];
  const send = async (topic: string, body: unknown, at: number) => {
    const o = await pipeline.process({ topic, payload: stamp(Buffer.from(JSON.stringify(body)), at) });
    lines.push(...o.lines.map(lineText));
  };
  const sds = (values: Parameters<typeof encodeAirrohr>[1]) => encodeAirrohr('1', values);
  // SDS011: corrected at 60 %RH, then an error code, then a reading without humidity (no correction).
  await send(topics.sensorAirrohr('sds-1'), sds({ pm25: 8, pm10: 12, humidity: 60 }), T0 + 10 * MIN);
  await send(topics.sensorAirrohr('sds-1'), sds({ pm25: 10, pm10: 14, temperature: 11 }), T0 + 20 * MIN);
  await send(topics.sensorAirrohr('sds-1'), sds({ pm25: 999.9, pm10: 1999.9, humidity: 61 }), T0 + 30 * MIN);
  // A Plantower PMS5003 in humid air: corrected, and flagged rh_high.
  await send(
    topics.sensorAirrohr('pms-1'),
    {
      esp8266id: '2',
      sensordatavalues: [
        { value_type: 'PMS_P2', value: '20.00' },
        { value_type: 'BME280_humidity', value: '95.00' },
      ],
    },
    T0 + 15 * MIN,
  );
  // A native kit stuck on 40 dB(A): its third and fourth readings are flagged stuck.
  for (let i = 0; i < 4; i++) {
    await send(topics.sensorReadings('kit-1'), { noise_laeq: 40, pm25: 5 + i }, T0 + (10 + i) * MIN);
  }
  const w = await fetch(`${stack.influx.url}/write?db=${stack.influx.db}&precision=ns`, {
    method: 'POST',
    body: lines.join('\n'),
  });
  expect(w.status).toBe(204);
});
afterAll(async () => {
  await stack?.close();
});

const json = async <T>(path: string): Promise<T> => {
  const r = await stack.get(path);
  expect(r.status, await r.clone().text()).toBe(200);
  return (await r.json()) as T;
};

interface DeviceProps {
  values: Record<string, number>;
  flags: Record<string, string[]>;
  corrected?: Record<string, { value: number; method: string }>;
}

describe('devices: flags and corrected values of the latest readings', () => {
  it('gives each metric the flags of its latest reading, and the corrected PM with its method', async () => {
    const body = await json<{ features: Array<{ id: string; properties: DeviceProps }> }>('/api/v1/devices');
    const props = Object.fromEntries(body.features.map((f) => [f.id, f.properties]));
    // pms-1: corrected by the EPA's method, flagged humid; the measured value kept in `values`.
    expect(props['pms-1']!.values.pm25).toBe(20);
    expect(props['pms-1']!.corrected).toEqual({ pm25: { value: PMS_PM25_C, method: EPA } });
    expect(props['pms-1']!.flags).toEqual({ pm25: ['rh_high'], humidity: ['rh_high'] });
    // sds-1: its latest PM report was an error code (no value served), its latest PM value the one
    // without humidity (no correction); its humidity from the error reading, flagged with it.
    expect(props['sds-1']!.values).toMatchObject({ pm25: 10, pm10: 14, humidity: 61 });
    expect(props['sds-1']!.values.pm25).not.toBe(999.9);
    expect(props['sds-1']!.flags.pm25).toEqual(['sensor_error']);
    expect(props['sds-1']!.flags.pm10).toEqual(['sensor_error']);
    expect(props['sds-1']!.flags.temperature).toEqual([]);
    expect(props['sds-1']!.corrected).toBeUndefined();
    // kit-1: stuck.
    expect(props['kit-1']!.flags).toEqual({ pm25: ['stuck'], noise_laeq: ['stuck'] });
  });
});

interface SeriesBody {
  points: Array<{ t: string; v: number | null }>;
  corrected?: { field: string; methods: string[] };
}

describe('series: corrected=true', () => {
  const range = `every=1h&from=${iso(T0)}&to=${iso(T0 + HOUR)}`;

  it('serves the corrected values of the readings that have one, with the method', async () => {
    const pm25 = await json<SeriesBody>(`/api/v1/devices/sds-1/series?metric=pm25&${range}&corrected=true`);
    expect(pm25.points).toEqual([{ t: iso(T0), v: SDS_PM25_C }]);
    expect(pm25.corrected).toEqual({ field: 'pm25_c', methods: [KAPPA] });
    const pm10 = await json<SeriesBody>(
      `/api/v1/devices/sds-1/series?metric=pm10&${range}&corrected=true&fn=max`,
    );
    expect(pm10.points[0]!.v).toBe(SDS_PM10_C);
    // Measured: 8 and 10, the error code left out.
    const raw = await json<SeriesBody>(`/api/v1/devices/sds-1/series?metric=pm25&${range}`);
    expect(raw.points[0]!.v).toBe(9);
    expect(raw.corrected).toBeUndefined();
  });

  it('refuses corrected=true for a metric without corrected values, naming the parameter', async () => {
    const r = await stack.get(`/api/v1/devices/sds-1/series?metric=humidity&${range}&corrected=true`);
    expect(r.status).toBe(400);
    expect(((await r.json()) as { error: { message: string } }).error.message).toContain(
      'querystring.corrected',
    );
  });
});

interface MapBody {
  correction: { used: boolean; methods: string[]; share: number; reason?: string } | null;
  flagged: string;
  features: Array<{
    properties: { cell: string; mean: number; max: number; count: number; devices: number };
  }>;
}
const cells = (b: MapBody) =>
  b.features.map((f) => [f.properties.count, f.properties.mean, f.properties.max]).sort();

describe('map: corrected PM where a reading has it, and flagged readings', () => {
  const q = `window=1h&to=${iso(T0 + HOUR)}&cell=6`;

  it('counts each PM2.5 reading by its corrected value where it has one, and says so', async () => {
    const body = await json<MapBody>(`/api/v1/map?metric=pm25&${q}`);
    expect(cells(body)).toEqual(
      [
        // sds-1: 5.87 (corrected) and 10 (no humidity: measured) → 7.935.
        [2, SDS_CELL_MEAN, 10],
        // pms-1: 8.04 corrected from 20.
        [1, PMS_PM25_C, PMS_PM25_C],
        // kit-1: native payloads name no sensor, measured 5, 6, 7, 8.
        [4, 6.5, 8],
      ].sort(),
    );
    // Two of seven readings served corrected.
    expect(body.correction).toEqual({ used: true, methods: [EPA, KAPPA], share: 0.286 });
    expect(body.flagged).toBe('include');
  });

  it('serves measured values with corrected=false, and none for a metric without them', async () => {
    const body = await json<MapBody>(`/api/v1/map?metric=pm25&${q}&corrected=false`);
    expect(cells(body)).toEqual(
      [
        [2, 9, 10],
        [1, 20, 20],
        [4, 6.5, 8],
      ].sort(),
    );
    expect(body.correction).toMatchObject({ used: false, share: 0 });
    const noise = await json<MapBody>(`/api/v1/map?metric=noise_laeq&${q}`);
    expect(noise.correction).toBeNull();
    const r = await stack.get(`/api/v1/map?metric=noise_laeq&${q}&corrected=true`);
    expect(r.status).toBe(400);
    expect(await r.text()).toContain('querystring.corrected');
  });

  it('flagged=exclude leaves out the stuck readings; include counts them', async () => {
    const excluded = await json<MapBody>(`/api/v1/map?metric=pm25&${q}&flagged=exclude`);
    expect(excluded.flagged).toBe('exclude');
    expect(cells(excluded)).toEqual(
      [
        [2, SDS_CELL_MEAN, 10],
        [1, PMS_PM25_C, PMS_PM25_C],
        [2, 5.5, 6],
      ].sort(),
    );
    const noise = await json<MapBody>(`/api/v1/map?metric=noise_laeq&${q}&flagged=exclude`);
    expect(cells(noise)).toEqual([[2, 40, 40]]);
    const r = await stack.get(`/api/v1/map?metric=pm25&window=30d&flagged=exclude`);
    expect(r.status).toBe(400);
    expect(await r.text()).toContain('querystring.flagged');
  });
});

describe('map: corrected PM from the rollups', () => {
  beforeAll(async () => {
    await stack.rollups.runOnce();
    stack.useRollups(true);
    // The raw readings gone: what the map reads next can only come from the rollups.
    await stack.query.query(`DELETE FROM "readings" WHERE time >= ${T0}ms AND time < ${T0 + HOUR}ms`);
  });

  it('a 30-day map from the hourly rollups counts the same corrected values, and says so', async () => {
    const body = await json<MapBody>(`/api/v1/map?metric=pm25&window=30d&to=${iso(T0 + HOUR)}&cell=6`);
    expect(cells(body)).toEqual(
      [
        [2, SDS_CELL_MEAN, 10],
        [1, PMS_PM25_C, PMS_PM25_C],
        [4, 6.5, 8],
      ].sort(),
    );
    expect(body.correction).toEqual({ used: true, methods: [EPA, KAPPA], share: 0.286 });
    const measured = await json<MapBody>(
      `/api/v1/map?metric=pm25&window=30d&to=${iso(T0 + HOUR)}&cell=6&corrected=false`,
    );
    expect(cells(measured)).toContainEqual([2, 9, 10]);
    expect(cells(measured)).toContainEqual([1, 20, 20]);
    // PM10: only sds-1 has it, corrected once (8.8) of its two values (14 without humidity).
    const pm10 = await json<MapBody>(`/api/v1/map?metric=pm10&window=30d&to=${iso(T0 + HOUR)}&cell=6`);
    expect(cells(pm10)).toEqual([[2, (SDS_PM10_C + 14) / 2, 14]]);
    expect(pm10.correction).toEqual({ used: true, methods: [KAPPA], share: 0.5 });
  });

  it('the rollups record their version 3', async () => {
    const v = await stack.query.query(`SELECT last("version") FROM "citytel_rollups"."rollup_meta"`);
    expect(v[0]!.values[0]![1]).toBe(3);
  });
});
