import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type ApiMqtt, buildApp, connectApiMqtt, createInfluxClient, loadApiConfig } from '@citytel/api';
import { createBroker } from '@citytel/broker';
import { createIngest, type Ingest, loadIngestConfig } from '@citytel/ingest';
import {
  deriveServiceSecret,
  openStore,
  resolveServiceSecret,
  resolveServiceSecrets,
  type Store,
} from '@citytel/store';
import type { FastifyInstance } from 'fastify';
import mqtt, { type MqttClient } from 'mqtt';
import pino, { type Logger } from 'pino';
import { createInfluxQuery } from '../../api/src/influx/client.ts';
import { createSimulator, type Simulator, simConfig } from '../../firmware-sim/src/index.ts';
import { startTestInflux } from './influx.ts';
import { tempDir } from './tmp.ts';

const ROOT = resolve(import.meta.dirname, '../..');
export const DASHBOARD_DIST = join(ROOT, 'dashboard', 'dist');

/** Newest modification time below `path` (0 when absent). */
function newest(path: string): number {
  if (!existsSync(path)) return 0;
  const s = statSync(path);
  if (!s.isDirectory()) return s.mtimeMs;
  return readdirSync(path, { recursive: true, encoding: 'utf8' }).reduce(
    (m, f) => Math.max(m, statSync(join(path, f)).mtimeMs),
    s.mtimeMs,
  );
}

/** Runs `vite build` when dashboard/dist is missing or older than its sources (the dashboard's, the contract's, the city plan). */
export function ensureDashboardBuilt(): void {
  const dir = join(ROOT, 'dashboard');
  const built = newest(join(DASHBOARD_DIST, 'index.html'));
  const sources = Math.max(
    ...['src', 'index.html', 'vite.config.ts', 'public'].map((p) => newest(join(dir, p))),
    newest(join(ROOT, 'contract', 'src')),
    // The offline city map (city.geojson) is built from the simulator's plan of the city.
    newest(join(ROOT, 'firmware-sim', 'src', 'city.ts')),
  );
  if (built >= sources) return;
  const r = spawnSync('npx', ['vite', 'build', '--logLevel', 'warn'], { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`dashboard build failed:\n${r.stdout}\n${r.stderr}`);
}

export interface WholeSystem {
  log: Logger;
  store: Store;
  influx: Awaited<ReturnType<typeof startTestInflux>>;
  mqttUrl: string;
  apiMqtt: ApiMqtt;
  ingest: Ingest;
  app: FastifyInstance;
  sim: Simulator;
  /** `http://127.0.0.1:{port}`: the api, serving the built dashboard at `/`. */
  baseUrl: string;
  adminToken: string;
  /** Registers a native kit at a fixed place and returns an MQTT client publishing as it. */
  kit(id: string, at: { lat: number; lon: number }, name?: string): Promise<MqttClient>;
  close(): Promise<void>;
}

/**
 * The whole platform in this process, as `npm start` runs it: a real influxd, the broker on a free port,
 * ingest writing to InfluxDB, the api (open-data read routes, live stream, built dashboard) and the
 * firmware simulator playing `kits` kits and `vehicles` cars in Rennes, registered through the api.
 */
export async function startWholeSystem(opts: {
  kits: number;
  vehicles: number;
  intervalS: number;
  /** More api variables (CSP_MAP_ORIGINS...). */
  apiEnv?: Record<string, string>;
}): Promise<WholeSystem> {
  const tmp = tempDir('citytel-e2e-');
  const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const store = await openStore({ dataDir: tmp.dir, log });
  const serviceSecret = resolveServiceSecret(tmp.dir, 'svc:api');
  const broker = createBroker({
    config: {
      MQTT_ALLOW_SIM: true,
      MQTT_PORT: 0,
      MQTT_HOST: '127.0.0.1',
      STATS_INTERVAL_MS: 1000,
      BROKER_ID: 'e2e-broker',
    },
    store,
    serviceSecrets: resolveServiceSecrets('', { MQTT_SERVICE_SECRET: serviceSecret }),
    log,
  });
  const { port } = await broker.listen();
  const mqttUrl = `mqtt://127.0.0.1:${port}`;
  const influx = await startTestInflux();

  const ingestConfig = loadIngestConfig({
    DATA_DIR: tmp.dir,
    MQTT_URL: mqttUrl,
    MQTT_SERVICE_SECRET: serviceSecret,
    INFLUX_URL: influx.url,
    INFLUX_DB: influx.db,
    INGEST_ID: 'e2e-ingest',
    INGEST_FLUSH_MS: '50',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
  });
  const ingest = createIngest({
    config: ingestConfig,
    store,
    log,
    serviceSecret: deriveServiceSecret(serviceSecret, 'svc:ingest'),
  });
  await ingest.start();

  const config = loadApiConfig({
    DATA_DIR: tmp.dir,
    MQTT_PORT: String(port),
    INFLUX_URL: influx.url,
    INFLUX_DB: influx.db,
    DASHBOARD_DIR: DASHBOARD_DIST,
    RATE_LIMIT_PER_MIN: '100000',
    LOG_LEVEL: 'silent',
    ...opts.apiEnv,
  });
  const apiMqtt = connectApiMqtt({
    url: mqttUrl,
    password: deriveServiceSecret(serviceSecret, 'svc:api'),
    log,
  });
  await apiMqtt.waitConnected(10_000);
  const app = await buildApp({
    config,
    store,
    mqtt: apiMqtt,
    influx: createInfluxClient(config),
    log,
    read: { influx: createInfluxQuery({ url: influx.url, db: influx.db }), cacheTtlMs: 0 },
    stream: { throttleMs: 500 },
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (!address || typeof address !== 'object') throw new Error('api not listening');
  const baseUrl = `http://127.0.0.1:${address.port}`;
  const { token: adminToken } = await store.operators.create({ id: 'e2e-admin', name: 'Admin', admin: true });

  const sim = createSimulator(
    simConfig({
      kits: opts.kits,
      vehicles: opts.vehicles,
      intervalS: opts.intervalS,
      vehicleIntervalS: opts.intervalS,
      seed: 11,
      apiUrl: baseUrl,
      mqttUrl,
      adminToken,
      stateFile: join(tmp.dir, 'sim-devices.json'),
      // Cars wait at their stations (free to book): the public fleet view stays the same during the test.
      autoTrips: false,
    }),
    { log },
  );
  await sim.start();

  const clients: MqttClient[] = [];
  return {
    log,
    store,
    influx,
    mqttUrl,
    apiMqtt,
    ingest,
    app,
    sim,
    baseUrl,
    adminToken,
    async kit(id, at, name) {
      const p = await store.devices.create({
        id,
        kind: 'native',
        name: name ?? null,
        lat: at.lat,
        lon: at.lon,
      });
      const client = await mqtt.connectAsync(mqttUrl, {
        username: id,
        password: p.secret!,
        clientId: `${id}/e2e`,
        reconnectPeriod: 0,
        connectTimeout: 10_000,
      });
      clients.push(client);
      return client;
    },
    async close() {
      // Each part is stopped even when another fails to, so no server outlives the test.
      for (const stop of [
        () => sim.stop(),
        () => Promise.all(clients.map((c) => c.endAsync(true))),
        () => app.close(),
        () => apiMqtt.close(),
        () => ingest.stop(),
        () => broker.close(),
        () => influx.close(),
        () => store.close(),
      ]) {
        try {
          await stop();
        } catch (err) {
          log.error({ err }, 'e2e stack: close failed');
        }
      }
      tmp.cleanup();
    },
  };
}
