import { readFileSync } from 'node:fs';
import { encodeAirrohr, stamp, topics } from '@citytel/contract';
import Ajv from 'ajv';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPipeline } from '../ingest/src/pipeline.ts';
import { lineText } from '../ingest/src/points.ts';
import { cacheOf, device } from '../ingest/src/testing.ts';
import { type ReadStack, startReadStack } from './helpers/api-read.ts';

/**
 * Quality flags and open-data formats, end to end from ingest's pipeline (the points it writes) through a
 * real InfluxDB to the api: an SDS011 error value is flagged and never served as a concentration; the CSV
 * is what a strict CSV parser reads with no options; its data package validates against the Frictionless
 * profile.
 */

const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 20, 8);
const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
const HOME = { lat: 48.1113, lon: -1.68 };

let stack: ReadStack;
const airrohr = (values: Parameters<typeof encodeAirrohr>[1]) =>
  Buffer.from(JSON.stringify(encodeAirrohr('1', values)));

beforeAll(async () => {
  const air = device('air-1', { kind: 'airrohr', ...HOME });
  const kit = device('kit-1', HOME);
  stack = await startReadStack({
    devices: [
      { id: 'air-1', kind: 'airrohr', ...HOME },
      { id: 'kit-1', kind: 'native', lat: HOME.lat, lon: HOME.lon + 0.02 },
    ],
    license: 'CC-BY-4.0',
  });
  const pipeline = createPipeline({
    devices: cacheOf([air, { ...kit, lon: HOME.lon + 0.02 }]),
    stuckReadings: 3,
  });
  const lines: string[] = [];
  const send = async (topic: string, payload: Buffer, at: number) => {
    const o = await pipeline.process({ topic, payload: stamp(payload, at) });
    lines.push(...o.lines.map(lineText));
  };
  // airrohr sends no time: each reading takes the broker's stamp.
  await send(topics.sensorAirrohr('air-1'), airrohr({ pm10: 12, pm25: 8, humidity: 60 }), T0);
  await send(
    topics.sensorAirrohr('air-1'),
    airrohr({ pm10: 1999.9, pm25: 999.9, humidity: 61 }),
    T0 + 5 * MIN,
  );
  await send(topics.sensorAirrohr('air-1'), airrohr({ pm10: 14, pm25: 10, humidity: 95 }), T0 + 10 * MIN);
  // A kit stuck on 40 dB(A): flagged from its third reading.
  for (let i = 0; i < 4; i++) {
    await send(
      topics.sensorReadings('kit-1'),
      Buffer.from(JSON.stringify({ noise_laeq: 40, pm25: 5 + i })),
      T0 + i * MIN,
    );
  }
  // Ingest's lines carry nanoseconds.
  const w = await fetch(`${stack.influx.url}/write?db=${stack.influx.db}&precision=ns`, {
    method: 'POST',
    body: lines.join('\n'),
  });
  expect(w.status).toBe(204);
});
afterAll(async () => {
  await stack?.close();
});

const get = async (path: string) => {
  const r = await stack.get(path);
  expect(r.status, await r.clone().text()).toBe(200);
  return r;
};
const range = `from=${iso(T0)}&to=${iso(T0 + 30 * MIN)}`;

describe('quality flags', () => {
  it('an SDS011 999.9 is absent from series and map: their PM2.5 are the two real readings', async () => {
    const series = (await (
      await get(`/api/v1/devices/air-1/series?metric=pm25&fn=max&every=1h&${range}`)
    ).json()) as {
      points: Array<{ v: number }>;
    };
    expect(series.points.map((p) => p.v)).toEqual([10]);
    // Measured values (corrected=false): the two real readings, 12 and 14; the corrected map counts
    // their corrected values, 8.8 and 2.5.
    type Body = { features: Array<{ properties: { count: number; max: number } }> };
    const at = `window=1h&to=${iso(T0 + 30 * MIN)}&cell=6`;
    const map = (await (await get(`/api/v1/map?metric=pm10&${at}&corrected=false`)).json()) as Body;
    expect(map.features.map((f) => [f.properties.count, f.properties.max])).toEqual([[2, 14]]);
    const corrected = (await (await get(`/api/v1/map?metric=pm10&${at}`)).json()) as Body;
    expect(corrected.features.map((f) => [f.properties.count, f.properties.max])).toEqual([[2, 8.8]]);
  });

  it('the export names the flags and keeps the error values out of the concentration columns', async () => {
    const text = await (await get(`/api/v1/export?device=air-1&metric=pm25&${range}`)).text();
    const rows = parse(text) as string[][];
    expect(rows[0]!.slice(6)).toEqual([
      'pm25',
      'tsrc',
      'flags',
      'sensor_error',
      'pm25_corrected',
      'pm10_corrected',
      'pm_correction',
    ]);
    // SDS011 corrected by κ-Köhler (κ 0.4): at 60 %RH C = 1 + 0.242424/0.666667 = 1.363636, 8/C = 5.87 and
    // 12/C = 8.8; at 95 %RH C = 1 + 0.242424/0.052632 = 5.606061, 10/C = 1.78, 14/C = 2.5 (flagged rh_high).
    const method = 'kappa-kohler-crilley-2018@1-kappa0.4';
    expect(rows.slice(1).map((r) => r.slice(6))).toEqual([
      ['8', 'broker', '', '', '5.87', '8.8', method],
      ['', 'broker', 'sensor_error', 'pm10=1999.9;pm25=999.9', '', '', ''],
      ['10', 'broker', 'rh_high', '', '1.78', '2.5', method],
    ]);
  });

  it('flagged=exclude leaves out a stuck sensor’s readings; include (the default) counts them', async () => {
    const q = `/api/v1/devices/kit-1/series?metric=noise_laeq&fn=count&every=1h&${range}`;
    const all = (await (await get(q)).json()) as { points: Array<{ v: number }> };
    const clean = (await (await get(`${q}&flagged=exclude`)).json()) as { points: Array<{ v: number }> };
    expect(all.points.map((p) => p.v)).toEqual([4]);
    expect(clean.points.map((p) => p.v)).toEqual([2]);
  });
});

describe('the air index by its definition', () => {
  it('a PM map of 1 hour has no EAQI band and says why; a 24-hour window has its band', async () => {
    type Body = {
      index: { period: string; status: string; reason?: string };
      features: Array<{ properties: { band: { label: string } | null; mean: number } }>;
    };
    const short = (await (
      await get(`/api/v1/map?metric=pm25&window=1h&to=${iso(T0 + 30 * MIN)}&cell=6`)
    ).json()) as Body;
    expect(short.index).toMatchObject({ period: '24-hour running mean', status: 'insufficient_data' });
    expect(short.index.reason).toContain('window=1d');
    expect(short.features.every((f) => f.properties.band === null)).toBe(true);
    const day = (await (
      await get(`/api/v1/map?metric=pm25&window=24h&to=${iso(T0 + 30 * MIN)}&cell=6`)
    ).json()) as Body;
    expect(day.index).toMatchObject({ period: '24-hour running mean', status: 'ok' });
    // The air kit's PM2.5 by its corrected values, 5.87 and 1.78, is 3.825 (good; measured, 8 and 10
    // would be 9, fair); the error value is not in it. kit-1 names no sensor: measured, 6.5 (fair).
    expect(day.features.map((f) => [f.properties.mean, f.properties.band?.label]).sort()).toEqual([
      [3.825, 'good'],
      [6.5, 'fair'],
    ]);
  });
});

describe('open data tools read it as it is', () => {
  it('the CSV parses with a strict CSV parser and no options, its first line the header', async () => {
    const r = await get(`/api/v1/export?${range}`);
    expect(r.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    const rows = parse(await r.text()) as string[][];
    expect(rows[0]![0]).toBe('time');
    expect(rows.length).toBe(1 + 3 + 4);
    expect(new Set(rows.map((row) => row.length)).size).toBe(1);
  });

  it('the data package validates against the Frictionless Tabular Data Package profile', async () => {
    const r = await get('/api/v1/export/datapackage.json');
    const pkg = (await r.json()) as {
      licenses: Array<{ name: string }>;
      resources: Array<{ schema: { fields: Array<{ name: string; unit?: string }> } }>;
    };
    // The profile is JSON Schema draft-04; its $schema is dropped so that Ajv's default draft reads it.
    const { $schema: _draft, ...profile } = JSON.parse(
      readFileSync(new URL('./fixtures/frictionless/tabular-data-package.json', import.meta.url), 'utf8'),
    );
    const ajv = new Ajv({ strict: false, allErrors: true });
    const validate = ajv.compile(profile);
    expect(validate(pkg), JSON.stringify(validate.errors)).toBe(true);
    expect(pkg.licenses[0]!.name).toBe('CC-BY-4.0');
    // Its columns are the CSV's, with units.
    const header = parse(await (await get(`/api/v1/export?${range}`)).text())[0] as string[];
    const fields = pkg.resources[0]!.schema.fields;
    expect(fields.map((f) => f.name)).toEqual(header);
    expect(fields.find((f) => f.name === 'pm25')!.unit).toBe('µg/m³');
    expect(fields.find((f) => f.name === 'noise_laeq')!.unit).toBe('dB(A)');
  });

  it('an airrohr kit exports in the sensor.community archive layout, header as the archive files have it', async () => {
    const r = await get(`/api/v1/export?format=archive&device=air-1&sensor=SDS011&${range}`);
    expect(r.headers.get('content-disposition')).toContain('2026-11-20_sds011_sensor_air-1.csv');
    const text = await r.text();
    // The header of every PM file of archive.sensor.community (e.g. 2026-02-22_sds011_sensor_88091.csv).
    expect(text.split('\n')[0]).toBe(
      'sensor_id;sensor_type;location;lat;lon;timestamp;P1;durP1;ratioP1;P2;durP2;ratioP2',
    );
    const rows = parse(text, { delimiter: ';', columns: true }) as Array<Record<string, string>>;
    // The reading whose PM were SDS011 error values has no row: the archive has no such values either.
    expect(rows).toEqual([
      {
        sensor_id: 'air-1',
        sensor_type: 'SDS011',
        location: 'air-1',
        lat: '48.111',
        lon: '-1.680',
        timestamp: '2026-11-20T08:00:00',
        P1: '12.00',
        durP1: '',
        ratioP1: '',
        P2: '8.00',
        durP2: '',
        ratioP2: '',
      },
      {
        sensor_id: 'air-1',
        sensor_type: 'SDS011',
        location: 'air-1',
        lat: '48.111',
        lon: '-1.680',
        timestamp: '2026-11-20T08:10:00',
        P1: '14.00',
        durP1: '',
        ratioP1: '',
        P2: '10.00',
        durP2: '',
        ratioP2: '',
      },
    ]);
    const dht = await (await get(`/api/v1/export?format=archive&device=air-1&sensor=DHT22&${range}`)).text();
    expect(dht.split('\n')[0]).toBe('sensor_id;sensor_type;location;lat;lon;timestamp;temperature;humidity');
    expect(dht.split('\n')[1]).toBe('air-1;DHT22;air-1;48.111;-1.680;2026-11-20T08:00:00;;60.00');
    const missing = await stack.get(`/api/v1/export?format=archive&device=air-1&${range}`);
    expect(missing.status).toBe(400);
  });

  it('GeoJSON is application/geo+json', async () => {
    const r = await get(`/api/v1/export?format=geojson&device=air-1&${range}`);
    expect(r.headers.get('content-type')).toBe('application/geo+json');
    const body = (await r.json()) as { features: Array<{ properties: Record<string, unknown> }> };
    expect(body.features[1]!.properties).toMatchObject({
      flags: ['sensor_error'],
      sensor_error: 'pm10=1999.9;pm25=999.9',
    });
  });
});
