import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ApiMqtt, buildApp, connectApiMqtt, createInfluxClient, loadApiConfig } from '@citytel/api';
import { createBroker } from '@citytel/broker';
import {
  deriveServiceSecret,
  openStore,
  resolveServiceSecret,
  resolveServiceSecrets,
  type Store,
} from '@citytel/store';
import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import { startTestInflux } from './influx.ts';
import { tempDir } from './tmp.ts';

export const API_TEST_DASHBOARD_HTML = '<!doctype html><title>citytel test dashboard</title>';

export interface ApiStack {
  dir: string;
  log: Logger;
  store: Store;
  serviceSecret: string;
  broker: ReturnType<typeof createBroker>;
  brokerId: string;
  mqttUrl: string;
  influx: Awaited<ReturnType<typeof startTestInflux>>;
  mqtt: ApiMqtt;
  app: FastifyInstance;
  /** `http://127.0.0.1:{port}` of the listening api. */
  baseUrl: string;
  /** Bearer token of an admin operator `admin-op`. */
  adminToken: string;
  close(): Promise<void>;
}

/**
 * The api as it runs: the real store in a temp DATA_DIR, a real broker on a free port, a real influxd, the
 * api's MQTT connection as `svc:api`, and Fastify listening on a free port, with a built dashboard of one
 * page. `close()` stops everything in reverse order and removes the folders.
 */
export async function startApiStack(): Promise<ApiStack> {
  const tmp = tempDir('citytel-api-');
  const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const store = await openStore({ dataDir: tmp.dir, log });
  const serviceSecret = resolveServiceSecret(tmp.dir, 'svc:api');
  const brokerId = 'test-broker';
  const broker = createBroker({
    config: {
      MQTT_ALLOW_SIM: true,
      MQTT_PORT: 0,
      MQTT_HOST: '127.0.0.1',
      STATS_INTERVAL_MS: 200,
      BROKER_ID: brokerId,
    },
    store,
    serviceSecrets: resolveServiceSecrets('', { MQTT_SERVICE_SECRET: serviceSecret }),
    log,
  });
  const { port } = await broker.listen();
  const mqttUrl = `mqtt://127.0.0.1:${port}`;
  const influx = await startTestInflux();
  const dashboard = join(tmp.dir, 'dashboard');
  mkdirSync(dashboard);
  writeFileSync(join(dashboard, 'index.html'), API_TEST_DASHBOARD_HTML);

  const config = loadApiConfig({
    DATA_DIR: tmp.dir,
    MQTT_PORT: String(port),
    INFLUX_URL: influx.url,
    INFLUX_DB: influx.db,
    DASHBOARD_DIR: dashboard,
    LOG_LEVEL: 'silent',
  });
  const mqtt = connectApiMqtt({ url: mqttUrl, password: deriveServiceSecret(serviceSecret, 'svc:api'), log });
  await mqtt.waitConnected(10_000);
  const app = await buildApp({ config, store, mqtt, influx: createInfluxClient(config), log });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (!address || typeof address !== 'object') throw new Error('api not listening');
  const { token: adminToken } = await store.operators.create({ id: 'admin-op', name: 'Admin', admin: true });

  return {
    dir: tmp.dir,
    log,
    store,
    serviceSecret,
    broker,
    brokerId,
    mqttUrl,
    influx,
    mqtt,
    app,
    baseUrl: `http://127.0.0.1:${address.port}`,
    adminToken,
    async close() {
      await app.close();
      await mqtt.close();
      await broker.close();
      await influx.close();
      await store.close();
      tmp.cleanup();
    },
  };
}
