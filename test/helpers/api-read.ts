import { geohash, MEASUREMENTS, type MetricValues, READING_TAGS } from '@citytel/contract';
import { openStore, type NewDevice, type Store } from '@citytel/store';
import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import { buildApp, loadApiConfig } from '../../api/src/index.ts';
import { createInfluxQuery, type InfluxQuery } from '../../api/src/influx/client.ts';
import { createRollups, type Rollups } from '../../api/src/influx/rollup.ts';
import { mapRoutes } from '../../api/src/routes/map.ts';
import { seriesRoutes } from '../../api/src/routes/series.ts';
import { startTestInflux } from './influx.ts';
import { tempDir } from './tmp.ts';

/** One reading as the test writes it, in the schema ingest writes (contract influx-schema.ts). */
export interface TestReading {
  device: string;
  kind: string;
  loc: 'fixed' | 'mobile' | 'indoor';
  t: number;
  lat: number;
  lon: number;
  values: MetricValues;
}

/** Line protocol of a reading: tags device, kind, loc, gh (length 6); fields = metrics + lat, lon, tsrc. */
export function readingLine(r: TestReading): string {
  const tags = [
    `${READING_TAGS.device}=${r.device}`,
    `${READING_TAGS.geohash}=${geohash({ lat: r.lat, lon: r.lon })}`,
    `${READING_TAGS.kind}=${r.kind}`,
    `${READING_TAGS.loc}=${r.loc}`,
  ].join(',');
  const fields = [
    ...Object.entries(r.values).map(([m, v]) => `${m}=${v}`),
    `lat=${r.lat}`,
    `lon=${r.lon}`,
    'tsrc="device"',
  ].join(',');
  return `${MEASUREMENTS.readings},${tags} ${fields} ${r.t}`;
}

export interface ReadStack {
  log: Logger;
  store: Store;
  influx: Awaited<ReturnType<typeof startTestInflux>>;
  query: InfluxQuery;
  rollups: Rollups;
  app: FastifyInstance;
  baseUrl: string;
  /** Whether the routes read the rollups (the job's coverage) or raw readings only (the default). */
  useRollups(on: boolean): void;
  /** Writes readings straight to /write, in chunks. */
  write(readings: TestReading[] | string[]): Promise<void>;
  get(path: string, headers?: Record<string, string>): Promise<Response>;
  close(): Promise<void>;
}

/**
 * The api's read side as it runs: a real influxd, the real store in a temp DATA_DIR, the app from
 * buildApp listening on a free port, answer caches off so that each request reads InfluxDB. The rollup
 * job is built (with `now` fixed by the test) but runs only when the test calls `rollups.runOnce()`,
 * and the routes read it only after `useRollups(true)`.
 */
export async function startReadStack(opts: { devices?: NewDevice[]; now?: () => number } = {}): Promise<ReadStack> {
  const tmp = tempDir('citytel-read-');
  const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const influx = await startTestInflux();
  const store = await openStore({ dataDir: tmp.dir, log });
  for (const d of opts.devices ?? []) await store.devices.create(d);
  const query = createInfluxQuery({ url: influx.url, db: influx.db });
  const rollups = createRollups({ influx: query, log, ...(opts.now ? { now: opts.now } : {}) });
  let rollupsOn = false;
  const coverage = { coverage: () => (rollupsOn ? rollups.coverage() : []) };
  const config = loadApiConfig({
    DATA_DIR: tmp.dir,
    INFLUX_URL: influx.url,
    INFLUX_DB: influx.db,
    DASHBOARD_DIR: `${tmp.dir}/no-dashboard`,
    LOG_LEVEL: 'silent',
    RATE_LIMIT_PER_MIN: '100000',
  });
  const app = await buildApp({
    config,
    store,
    log,
    routes: [
      { name: 'series', plugin: async (a) => a.register(seriesRoutes, { influx: query, store, rollups: coverage, cacheTtlMs: 0 }) },
      { name: 'map', plugin: async (a) => a.register(mapRoutes, { influx: query, rollups: coverage, cacheTtlMs: 0 }) },
    ],
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (!address || typeof address !== 'object') throw new Error('api not listening');
  const baseUrl = `http://127.0.0.1:${address.port}`;

  return {
    log,
    store,
    influx,
    query,
    rollups,
    app,
    baseUrl,
    useRollups(on) {
      rollupsOn = on;
    },
    async write(readings) {
      const lines = readings.map((r) => (typeof r === 'string' ? r : readingLine(r)));
      for (let i = 0; i < lines.length; i += 5000) await query.write(lines.slice(i, i + 5000).join('\n'));
    },
    get: (path, headers = {}) => fetch(`${baseUrl}${path}`, { headers }),
    async close() {
      await rollups.stop();
      await app.close();
      await influx.close();
      await store.close();
      tmp.cleanup();
    },
  };
}
