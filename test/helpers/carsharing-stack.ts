import { join } from 'node:path';
import { type ApiConfig, type ApiMqtt, buildApp, connectApiMqtt, loadApiConfig } from '@citytel/api';
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
import { createSimulator, type Simulator, simConfig } from '../../firmware-sim/src/index.ts';
import { tempDir } from './tmp.ts';

export interface HttpAnswer {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: tests read the JSON answers field by field
  body: any;
}

export interface CarsharingStack {
  dir: string;
  log: Logger;
  store: Store;
  serviceSecret: string;
  mqttUrl: string;
  mqtt: ApiMqtt;
  /** The api's settings, for a second instance built on the same store and broker. */
  config: ApiConfig;
  app: FastifyInstance;
  baseUrl: string;
  /** The operator whose cars the simulator registered. */
  operator: { id: string; token: string };
  /** Another operator on the same platform, with a car of its own (`otherCar`). */
  other: { id: string; token: string; car: string };
  sim: Simulator;
  /** One HTTP request to the api; `body` is sent as JSON. */
  http(
    method: string,
    path: string,
    opts?: { token?: string; body?: unknown; headers?: Record<string, string> },
  ): Promise<HttpAnswer>;
  close(): Promise<void>;
}

export interface CarsharingStackOptions {
  vehicles: number;
  /** Extra api variables (COMMAND_TTL_S, BOOKING_GRACE_S...). */
  env?: Record<string, string>;
  seed?: number;
  /** Telemetry period of the cars in seconds (default 5). */
  vehicleIntervalS?: number;
  /** Wraps the api's MQTT connection (a test that makes one api instance deaf to some topics). */
  wrapMqtt?: (mqtt: ApiMqtt) => ApiMqtt;
}

/**
 * The carsharing platform as it runs: the real store in a temp DATA_DIR, the real broker on a free port, the
 * api listening on a free port with its MQTT connection as `svc:api`, and the simulator's cars, registered
 * through the api by operator `citiz-rennes` and logged in to the broker with their own secrets. No
 * InfluxDB: nothing here reads history. `close()` stops everything in reverse order.
 */
export async function startCarsharingStack(opts: CarsharingStackOptions): Promise<CarsharingStack> {
  const tmp = tempDir('citytel-carsharing-');
  const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const store = await openStore({ dataDir: tmp.dir, log });
  const serviceSecret = resolveServiceSecret(tmp.dir, 'svc:api');
  const broker = createBroker({
    config: {
      MQTT_ALLOW_SIM: true,
      MQTT_PORT: 0,
      MQTT_HOST: '127.0.0.1',
      STATS_INTERVAL_MS: 5000,
      BROKER_ID: 'carsharing-test',
    },
    store,
    serviceSecrets: resolveServiceSecrets('', { MQTT_SERVICE_SECRET: serviceSecret }),
    log,
  });
  const { port } = await broker.listen();
  const mqttUrl = `mqtt://127.0.0.1:${port}`;
  const config = loadApiConfig({
    DATA_DIR: tmp.dir,
    MQTT_PORT: String(port),
    DASHBOARD_DIR: join(tmp.dir, 'no-dashboard'),
    LOG_LEVEL: 'silent',
    RATE_LIMIT_PER_MIN: '1000000',
    ...opts.env,
  });
  const mqtt = connectApiMqtt({ url: mqttUrl, password: deriveServiceSecret(serviceSecret, 'svc:api'), log });
  await mqtt.waitConnected(10_000);
  const app = await buildApp({ config, store, mqtt: opts.wrapMqtt ? opts.wrapMqtt(mqtt) : mqtt, log });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (!address || typeof address !== 'object') throw new Error('api not listening');
  const baseUrl = `http://127.0.0.1:${address.port}`;

  const citiz = await store.operators.create({ id: 'citiz-rennes', name: 'Citiz Rennes Métropole' });
  const autre = await store.operators.create({ id: 'autre-coop', name: 'Autre Coop' });
  const otherCar = 'autre-car-1';
  await store.devices.create({
    id: otherCar,
    kind: 'vehicle',
    operatorId: autre.operator.id,
    lat: 48.1,
    lon: -1.67,
    mobile: true,
  });

  const sim = createSimulator(
    simConfig({
      kits: 0,
      vehicles: opts.vehicles,
      vehicleIntervalS: opts.vehicleIntervalS ?? 5,
      seed: opts.seed ?? 7,
      apiUrl: baseUrl,
      mqttUrl,
      adminToken: citiz.token,
      stateFile: join(tmp.dir, 'sim-devices.json'),
      autoTrips: false,
    }),
    { log },
  );
  await sim.start();

  const http: CarsharingStack['http'] = async (method, path, o = {}) => {
    const headers: Record<string, string> = { ...o.headers };
    if (o.token) headers.authorization = `Bearer ${o.token}`;
    if (o.body !== undefined) headers['content-type'] = 'application/json';
    const r = await fetch(`${baseUrl}${path}`, {
      method,
      headers,
      ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}),
    });
    const text = await r.text();
    return { status: r.status, headers: r.headers, body: text ? JSON.parse(text) : undefined };
  };

  return {
    dir: tmp.dir,
    log,
    store,
    serviceSecret,
    mqttUrl,
    mqtt,
    config,
    app,
    baseUrl,
    operator: { id: citiz.operator.id, token: citiz.token },
    other: { id: autre.operator.id, token: autre.token, car: otherCar },
    sim,
    http,
    async close() {
      await sim.stop();
      await app.close();
      await mqtt.close();
      await broker.close();
      await store.close();
      tmp.cleanup();
    },
  };
}

/** Polls `fn` every 25 ms until it returns something other than undefined or false. */
export async function waitFor<T>(
  what: string,
  fn: () => T | undefined | false | Promise<T | undefined | false>,
  ms = 15_000,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
