import { geohash, MEASUREMENTS, type MetricValues, READING_TAGS } from '@citytel/contract';
import { deriveServiceSecret, type NewDevice, openStore, type Store } from '@citytel/store';
import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import { type ApiMqtt, buildApp, connectApiMqtt, loadApiConfig } from '../../api/src/index.ts';
import { createInfluxQuery, type InfluxQuery } from '../../api/src/influx/client.ts';
import { createRollups, type Rollups } from '../../api/src/influx/rollup.ts';
import type { StreamRoutesOptions } from '../../api/src/routes/stream.ts';
import { startTestBroker, type TestBroker } from './broker.ts';
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
  /** With `broker: true`: a real broker sharing the store, and the api's MQTT connection to it. */
  broker?: TestBroker;
  mqtt?: ApiMqtt;
  /** Whether the routes read the rollups (the job's coverage) or raw readings only (the default). */
  useRollups(on: boolean): void;
  /** Writes readings straight to /write, in chunks. */
  write(readings: TestReading[] | string[]): Promise<void>;
  get(path: string, headers?: Record<string, string>): Promise<Response>;
  close(): Promise<void>;
}

/**
 * The api's read side as it runs: a real influxd, the real store in a temp DATA_DIR, the app from
 * buildApp listening on a free port, answer caches off (unless asked) so that each request reads InfluxDB. The rollup
 * job is built (with `now` fixed by the test) but runs only when the test calls `rollups.runOnce()`,
 * and the routes read it only after `useRollups(true)`.
 */
export async function startReadStack(
  opts: {
    devices?: NewDevice[];
    now?: () => number;
    broker?: boolean;
    stream?: Omit<StreamRoutesOptions, 'mqtt' | 'store'>;
    license?: string;
    /** Wraps the client the routes read through (to count what they pull). */
    wrapInflux?: (q: InfluxQuery) => InfluxQuery;
    /** The routes' answer caches (default 0: off, every request reads InfluxDB). */
    cacheTtlMs?: number;
    /** More api variables (TRUST_PROXY_HOPS, RATE_LIMIT_PER_MIN...). */
    env?: Record<string, string>;
    /** Wraps the store the api is given (to count what it is asked). */
    wrapStore?: (s: Store) => Store;
  } = {},
): Promise<ReadStack> {
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
    ...(opts.license ? { OPEN_DATA_LICENSE: opts.license } : {}),
    ...opts.env,
  });
  const broker = opts.broker ? await startTestBroker({ store }) : undefined;
  const mqtt = broker
    ? connectApiMqtt({ url: broker.url, password: deriveServiceSecret(broker.serviceSecret, 'svc:api'), log })
    : undefined;
  await mqtt?.waitConnected(10_000);
  const app = await buildApp({
    config,
    store: opts.wrapStore ? opts.wrapStore(store) : store,
    log,
    mqtt,
    read: {
      influx: opts.wrapInflux ? opts.wrapInflux(query) : query,
      rollups: coverage,
      cacheTtlMs: opts.cacheTtlMs ?? 0,
    },
    ...(opts.stream ? { stream: opts.stream } : {}),
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
    ...(broker ? { broker } : {}),
    ...(mqtt ? { mqtt } : {}),
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
      await mqtt?.close();
      await broker?.stop();
      await influx.close();
      await store.close();
      tmp.cleanup();
    },
  };
}

export interface SseEvent {
  id?: string;
  event?: string;
  data: string;
}

/** A server-sent events client over fetch: every event received, and a way to wait for the next match. */
export async function sseClient(url: string, headers: Record<string, string> = {}) {
  const abort = new AbortController();
  const r = await fetch(url, { headers, signal: abort.signal });
  const events: SseEvent[] = [];
  const waiters: Array<{ match(e: SseEvent): boolean; resolve(e: SseEvent): void }> = [];
  let comments = 0;
  const pump = (async () => {
    const decoder = new TextDecoder();
    let buf = '';
    try {
      for await (const bytes of r.body as AsyncIterable<Uint8Array>) {
        buf += decoder.decode(bytes, { stream: true });
        let end = buf.indexOf('\n\n');
        while (end >= 0) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          end = buf.indexOf('\n\n');
          const e: SseEvent = { data: '' };
          let isEvent = false;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) comments++;
            else if (line.startsWith('id: ')) e.id = line.slice(4);
            else if (line.startsWith('event: ')) e.event = line.slice(7);
            else if (line.startsWith('data: ')) {
              e.data = line.slice(6);
              isEvent = true;
            }
          }
          if (!isEvent) continue;
          events.push(e);
          for (const w of waiters.splice(0)) {
            if (w.match(e)) w.resolve(e);
            else waiters.push(w);
          }
        }
      }
    } catch {
      // aborted by close()
    }
  })();
  return {
    response: r,
    events,
    get comments() {
      return comments;
    },
    next(match: (e: SseEvent) => boolean = () => true, timeoutMs = 5000): Promise<SseEvent> {
      const seen = events.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no matching event in time')), timeoutMs);
        waiters.push({
          match,
          resolve: (e) => {
            clearTimeout(timer);
            resolve(e);
          },
        });
      });
    },
    async close() {
      abort.abort();
      await pump;
    },
  };
}
