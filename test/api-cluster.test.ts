import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { type ApiMqtt, buildApp, connectApiMqtt, loadApiConfig } from '@citytel/api';
import { type Broker, createBroker } from '@citytel/broker';
import { deriveServiceSecret, openStore, resolveServiceSecrets, type Store } from '@citytel/store';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import mqtt from 'mqtt';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeApiRedis, connectApiRedis } from '../api/src/plugins/redis.ts';
import { createSimulator, type Simulator, simConfig } from '../firmware-sim/src/index.ts';
import { type TestPostgres, testPostgres } from '../store/src/testing/postgres.ts';
import { ackGate } from './helpers/ack-gate.ts';
import { waitFor } from './helpers/carsharing-stack.ts';
import { startTestRedis, type TestRedis } from './helpers/redis.ts';
import { tempDir } from './helpers/tmp.ts';

/**
 * The production layout in one process: one PostgreSQL, one Redis, two clustered brokers on that Redis,
 * and two api instances on free ports, A on broker 1 and B on broker 2, each with its own store pool,
 * MQTT connection and Redis connection, as two containers behind the proxy would be. The car and the kit
 * connect to broker 2 only.
 */

const SERVICE_SECRET = 'cluster-test-service-secret';
const RATE_LIMIT = 6;
const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const tmp = tempDir('citytel-api-cluster-');

interface Instance {
  name: string;
  app: FastifyInstance;
  store: Store;
  mqtt: ApiMqtt;
  redis: Redis;
  url: string;
}

let redis: TestRedis;
let pg: TestPostgres;
let databaseUrl: string;
let brokerStore: Store;
const brokers: Broker[] = [];
const brokerUrls: string[] = [];
let a: Instance;
let b: Instance;
let sim: Simulator;
let operator: { id: string; token: string };
let car: string;
let bookingId: string;
/** The Redis started again by the last test, on the first one's port. */
let restarted: ChildProcess | undefined;
/** A's ack subscription passes acks on only while this is on (see the test that turns it off). */
const aHearsAcks = { on: true };

const gate = ackGate(aHearsAcks);

async function startBroker(id: string): Promise<void> {
  // Built as a variable: the cluster settings are optional fields of BrokerSettings.
  const config = {
    MQTT_PORT: 0,
    MQTT_HOST: '127.0.0.1',
    STATS_INTERVAL_MS: 5000,
    BROKER_ID: id,
    REDIS_URL: redis.url,
  };
  const broker = createBroker({
    config,
    store: brokerStore,
    serviceSecrets: resolveServiceSecrets('', { MQTT_SERVICE_SECRET: SERVICE_SECRET }),
    log,
  });
  const { port } = await broker.listen();
  brokers.push(broker);
  brokerUrls.push(`mqtt://127.0.0.1:${port}`);
}

async function startInstance(
  name: string,
  brokerUrl: string,
  env: Record<string, string>,
  wrap?: (m: ApiMqtt) => ApiMqtt,
): Promise<Instance> {
  const config = loadApiConfig({
    DATA_DIR: tmp.dir,
    DATABASE_URL: databaseUrl,
    MQTT_URL: brokerUrl,
    MQTT_SERVICE_SECRET: SERVICE_SECRET,
    REDIS_URL: redis.url,
    DASHBOARD_DIR: join(tmp.dir, 'no-dashboard'),
    LOG_LEVEL: 'silent',
    RATE_LIMIT_PER_MIN: String(RATE_LIMIT),
    ...env,
  });
  const store = await openStore({ dataDir: tmp.dir, databaseUrl, log });
  const mqttConnection = connectApiMqtt({
    url: brokerUrl,
    password: deriveServiceSecret(SERVICE_SECRET, 'svc:api'),
    log,
  });
  await mqttConnection.waitConnected(10_000);
  const redisConnection = connectApiRedis(redis.url, log);
  const app = await buildApp({
    config,
    store,
    mqtt: wrap ? wrap(mqttConnection) : mqttConnection,
    redis: redisConnection,
    log,
    stream: { throttleMs: 100 },
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (!address || typeof address !== 'object') throw new Error(`api ${name} not listening`);
  return {
    name,
    app,
    store,
    mqtt: mqttConnection,
    redis: redisConnection,
    url: `http://127.0.0.1:${address.port}`,
  };
}

async function stopInstance(i: Instance | undefined): Promise<void> {
  if (!i) return;
  await i.app.close();
  await i.mqtt.close();
  await closeApiRedis(i.redis);
  await i.store.close();
}

// biome-ignore lint/suspicious/noExplicitAny: tests read the JSON answers field by field
type Answer = { status: number; headers: Headers; body: any };

async function http(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const r = await fetch(`${base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${operator.token}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await r.text();
  return { status: r.status, headers: r.headers, body: text ? JSON.parse(text) : undefined };
}

let key = 0;
const command = (base: string, action: 'lock' | 'unlock', wait: number) =>
  http(
    base,
    'POST',
    `/api/v1/vehicles/${car}/commands?wait=${wait}`,
    { action, bookingId },
    {
      'idempotency-key': `cluster-${++key}`,
    },
  );

const finished = (i: Instance, state: string) =>
  i.app.carsharing.tracker.finished.get({ action: 'unlock', state }) +
  i.app.carsharing.tracker.finished.get({ action: 'lock', state });

beforeAll(async () => {
  redis = await startTestRedis();
  const server = await testPostgres();
  if (!server) throw new Error('PostgreSQL (initdb, pg_ctl) is needed: apt-get install postgresql');
  pg = server;
  databaseUrl = await pg.createDatabase();
  brokerStore = await openStore({ dataDir: tmp.dir, databaseUrl, log });
  await startBroker('cluster-test-1');
  await startBroker('cluster-test-2');
  // A's fallback re-read is a minute away: within a test, only the signal can end its waits early.
  a = await startInstance('A', brokerUrls[0]!, { COMMAND_WAIT_POLL_MS: '60000' }, gate);
  b = await startInstance('B', brokerUrls[1]!, {});

  const created = await a.store.operators.create({ id: 'citiz-rennes', name: 'Citiz Rennes Métropole' });
  operator = { id: created.operator.id, token: created.token };
  sim = createSimulator(
    simConfig({
      kits: 0,
      vehicles: 1,
      vehicleIntervalS: 5,
      seed: 11,
      apiUrl: b.url,
      mqttUrl: brokerUrls[1]!,
      adminToken: operator.token,
      stateFile: join(tmp.dir, 'sim-devices.json'),
      autoTrips: false,
    }),
    { log },
  );
  await sim.start();
  car = sim.vehicles[0]!.id;
  // The car's status, published on broker 2, reaches A's fleet through broker 1.
  const bothOnline = () => a.app.carsharing.fleet.isOnline(car) && b.app.carsharing.fleet.isOnline(car);
  await waitFor('the car online for both instances', bothOnline, 5000);
  const now = Date.now();
  bookingId = (
    await a.store.bookings.create({
      operatorId: operator.id,
      vehicleId: car,
      memberId: 'm-1',
      start: new Date(now - 60_000),
      end: new Date(now + 3_600_000),
    })
  ).id;
}, 120_000);

afterAll(async () => {
  await sim?.stop();
  await stopInstance(a);
  await stopInstance(b);
  for (const broker of brokers) await broker.close();
  await brokerStore?.close();
  await pg?.stop();
  await redis?.close();
  if (restarted && restarted.exitCode === null) {
    const gone = new Promise((resolve) => restarted!.once('exit', resolve));
    restarted.kill('SIGTERM');
    await gone;
  }
  tmp.cleanup();
});

describe('api instances in a cluster', () => {
  it('settle a booking race split between them: exactly one 201, every other a 409', async () => {
    const raced = 'race-car-1';
    await a.store.devices.create({ id: raced, kind: 'vehicle', operatorId: operator.id, mobile: true });
    const start = Date.now() + 3_600_000;
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        http(i % 2 ? b.url : a.url, 'POST', '/api/v1/bookings', {
          vehicleId: raced,
          memberId: `m-${i}`,
          // Every pair overlaps: each starts within the first hour of the others.
          start: new Date(start + i * 60_000).toISOString(),
          end: new Date(start + 3_600_000 + i * 60_000).toISOString(),
        }),
      ),
    );
    const statuses = answers.map((r) => r.status).sort();
    expect(statuses).toEqual([201, ...Array(19).fill(409)]);
    for (const r of answers.filter((x) => x.status === 409))
      expect(r.body.error.code).toBe('booking_conflict');
    const stored = await b.store.bookings.list({ vehicleId: raced });
    expect(stored.map((x) => x.id)).toEqual([answers.find((r) => r.status === 201)!.body.id]);
  });

  it('carry a command from an api on broker 1 to a car on broker 2, and its answer back', async () => {
    const before = { a: finished(a, 'done'), b: finished(b, 'done') };
    const r = await command(a.url, 'lock', 10);
    expect([r.status, r.body.state]).toEqual([202, 'done']);
    expect(r.body.history.map((h: { state: string }) => h.state)).toEqual(['pending', 'sent', 'done']);
    // Both instances hear the ack; exactly one of them applies it.
    await waitFor(
      'both instances handled the ack',
      () =>
        a.app.carsharing.tracker.ignoredAcks.get({ reason: 'finished' }) +
          b.app.carsharing.tracker.ignoredAcks.get({ reason: 'finished' }) >=
        1,
    );
    expect(finished(a, 'done') - before.a + (finished(b, 'done') - before.b)).toBe(1);
    const stored = await b.store.commands.get(r.body.id);
    expect(stored?.state).toBe('done');
  });

  /**
   * Clustered brokers give every ack to every api instance, so A would end its own wait. A is made deaf to
   * acks (as when its broker connection was down at that moment) and its fallback re-read is a minute
   * away: its wait can end early only by B's signal over Redis. What this proves is the signal path
   * (B records the end, publishes it, A re-reads the store and answers), and how fast it is.
   */
  it("end a wait held by A as soon as B records the car's answer", async () => {
    aHearsAcks.on = false;
    try {
      const before = { a: finished(a, 'done'), b: finished(b, 'done') };
      const t0 = Date.now();
      const r = await command(a.url, 'unlock', 20);
      const answeredAt = Date.now();
      expect([r.status, r.body.state]).toEqual([202, 'done']);
      expect(answeredAt - t0).toBeLessThan(10_000);
      expect(finished(a, 'done') - before.a).toBe(0);
      expect(finished(b, 'done') - before.b).toBe(1);
      const doneAt = Date.parse(r.body.history.find((h: { state: string }) => h.state === 'done').at);
      // Well under the default 1 s re-read: the signal's hop through Redis and one store read (12-14 ms
      // measured here; the bound leaves room for a loaded machine).
      expect(answeredAt - doneAt).toBeLessThan(500);
    } finally {
      aHearsAcks.on = true;
    }
  });

  it('count the rate limit across both instances', async () => {
    const statuses: number[] = [];
    const remaining: Array<string | null> = [];
    for (let i = 0; i < RATE_LIMIT + 2; i++) {
      const r = await fetch(`${i % 2 ? b.url : a.url}/api/v1/vehicles`, {
        headers: { authorization: `Bearer ${operator.token}` },
      });
      await r.body?.cancel();
      statuses.push(r.status);
      remaining.push(r.headers.get('x-ratelimit-remaining'));
    }
    expect(statuses).toEqual([...Array(RATE_LIMIT).fill(200), 429, 429]);
    expect(remaining).toEqual(['5', '4', '3', '2', '1', '0', '0', '0']);
    const counter = await a.redis.get('citytel:rate-limit:GET/api/v1/vehicles-127.0.0.1');
    expect(Number(counter)).toBe(RATE_LIMIT + 2);
  });

  it('stream a reading published on broker 2 to a live client of instance A', async () => {
    const kit = 'cluster-kit-1';
    const { secret } = await b.store.devices.create({ id: kit, kind: 'native', lat: 48.111, lon: -1.68 });
    const abort = new AbortController();
    const events: Array<{ event: string; data: Record<string, unknown> }> = [];
    const res = await fetch(`${a.url}/api/v1/stream`, { signal: abort.signal });
    expect(res.status).toBe(200);
    const reading = (async () => {
      const decoder = new TextDecoder();
      let text = '';
      try {
        for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
          text += decoder.decode(chunk, { stream: true });
          let end = text.indexOf('\n\n');
          while (end >= 0) {
            const block = text.slice(0, end);
            text = text.slice(end + 2);
            const event = /^event: (.+)$/m.exec(block)?.[1];
            const data = /^data: (.+)$/m.exec(block)?.[1];
            if (event && data) events.push({ event, data: JSON.parse(data) });
            end = text.indexOf('\n\n');
          }
        }
      } catch {
        // aborted at the end of the test
      }
    })();
    const device = await mqtt.connectAsync(brokerUrls[1]!, {
      username: kit,
      password: secret,
      clientId: `${kit}/test`,
      reconnectPeriod: 0,
    });
    try {
      const ts = new Date(Math.floor(Date.now() / 1000) * 1000).toISOString().replace('.000Z', 'Z');
      const payload = JSON.stringify({ ts, pm25: 8.2, noise_laeq: 58.4 });
      const arrived = () => events.find((e) => e.event === 'reading' && e.data.device === kit);
      // The stream client is registered a moment after its response headers: publish again until it hears.
      let got = arrived();
      for (let i = 0; !got && i < 20; i++) {
        await device.publishAsync(`sensors/${kit}/readings`, payload, { qos: 1 });
        got = await waitFor('the reading on A', arrived, 500).catch(() => undefined);
      }
      if (!got) throw new Error('no reading event reached the stream client of instance A');
      expect(got.data).toMatchObject({ device: kit, t: ts, lat: 48.111, lon: -1.68 });
      expect(got.data.values).toEqual({ pm25: 8.2, noise_laeq: 58.4 });
    } finally {
      await device.endAsync();
      abort.abort();
      await reading;
    }
  });

  // Last: it stops Redis, then starts an empty one on the same port.
  it('keep answering with Redis down, and share the limits again once it is back', async () => {
    const vehicles = () =>
      fetch(`${a.url}/api/v1/vehicles`, { headers: { authorization: `Bearer ${operator.token}` } });
    const limited = await vehicles();
    await limited.body?.cancel();
    expect(limited.status).toBe(429);
    await redis.close();
    const t0 = Date.now();
    const r = await vehicles();
    expect(r.status).toBe(200);
    expect(((await r.json()) as { vehicles?: unknown[] }).vehicles?.length).toBeGreaterThanOrEqual(1);
    expect(Date.now() - t0).toBeLessThan(3000);
    const start = Date.now() + 86_400_000;
    const booked = await http(b.url, 'POST', '/api/v1/bookings', {
      vehicleId: 'race-car-1',
      memberId: 'm-after',
      start: new Date(start).toISOString(),
      end: new Date(start + 3_600_000).toISOString(),
    });
    expect(booked.status).toBe(201);

    restarted = spawn(
      'redis-server',
      [
        '--port',
        String(redis.port),
        '--bind',
        '127.0.0.1',
        '--dir',
        tmp.dir,
        '--save',
        '',
        '--appendonly',
        'no',
      ],
      { stdio: 'ignore' },
    );
    await waitFor(
      'both apis reconnected to Redis',
      () => a.redis.status === 'ready' && b.redis.status === 'ready',
    );
    // A new, empty Redis: the count starts again, shared by both instances.
    const counted: Array<string | null> = [];
    for (const base of [a.url, b.url]) {
      const again = await fetch(`${base}/api/v1/vehicles`, {
        headers: { authorization: `Bearer ${operator.token}` },
      });
      await again.body?.cancel();
      counted.push(again.headers.get('x-ratelimit-remaining'));
    }
    expect(counted).toEqual([String(RATE_LIMIT - 1), String(RATE_LIMIT - 2)]);
  });
});
