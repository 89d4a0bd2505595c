import { setTimeout as sleep } from 'node:timers/promises';
import { type Broker, createBroker } from '@citytel/broker';
import type { ServiceAccount } from '@citytel/contract';
import { INGEST_STREAM, topics, unstamp } from '@citytel/contract';
import { deriveServiceSecret, openStore, resolveServiceSecrets, type Store } from '@citytel/store';
import { Redis } from 'ioredis';
import mqtt, { type IClientOptions, type IConnackPacket, type MqttClient } from 'mqtt';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { brokerClient, closedByBroker, messageLog } from './helpers/broker.ts';
import { startTestRedis, type TestRedis } from './helpers/redis.ts';
import { tempDir } from './helpers/tmp.ts';

/**
 * Cluster mode (REDIS_URL): two brokers in this process, on their own ports, sharing one real redis-server
 * and one device registry, as two machines behind a load balancer would.
 */

const SERVICE_SECRET = 'test-service-secret';
const STREAM_KEY = 'test:city-a:ingest';
const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

interface Node {
  broker: Broker;
  url: string;
}

let redis: TestRedis;
let db: Redis;
let store: Store;
let tmp: ReturnType<typeof tempDir>;
let a: Node;
let b: Node;
const secrets: Record<string, string> = {};
let token = '';
const open: MqttClient[] = [];

async function startNode(
  brokerId: string,
  redisUrl: string,
  extra: { REDIS_APPEND_TIMEOUT_MS?: number } = {},
): Promise<Node> {
  const broker = createBroker({
    config: {
      MQTT_PORT: 0,
      MQTT_HOST: '127.0.0.1',
      STATS_INTERVAL_MS: 5000,
      BROKER_ID: brokerId,
      REDIS_URL: redisUrl,
      INGEST_STREAM_KEY: STREAM_KEY,
      ...extra,
    },
    store,
    serviceSecrets: resolveServiceSecrets('', { MQTT_SERVICE_SECRET: SERVICE_SECRET }),
    log,
  });
  const { port } = await broker.listen();
  return { broker, url: `mqtt://127.0.0.1:${port}` };
}

async function track(c: Promise<MqttClient>): Promise<MqttClient> {
  const client = await c;
  open.push(client);
  return client;
}
const device = (node: Node, id: string, extra: IClientOptions = {}) =>
  track(brokerClient(node.url, { username: id, password: secrets[id]!, ...extra }));
const service = (node: Node, account: string, extra: IClientOptions = {}) =>
  track(
    brokerClient(node.url, {
      username: account,
      password: deriveServiceSecret(SERVICE_SECRET, account as ServiceAccount),
      ...extra,
    }),
  );

interface Entry {
  id: string;
  topic: string;
  payload: Buffer;
}
async function streamEntries(client: Redis = db, key = STREAM_KEY): Promise<Entry[]> {
  const raw = await client.xrangeBuffer(key, '-', '+');
  return raw.map(([id, fields]) => {
    const f = new Map<string, Buffer>();
    for (let i = 0; i + 1 < fields.length; i += 2) f.set(fields[i]!.toString(), fields[i + 1]!);
    return {
      id: id.toString(),
      topic: f.get(INGEST_STREAM.fields.topic)!.toString(),
      payload: f.get(INGEST_STREAM.fields.payload)!,
    };
  });
}
const withBody = (body: string) => (e: Entry) => unstamp(e.payload).payload.toString() === body;

async function waitFor<T>(probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(25);
  }
}

beforeAll(async () => {
  redis = await startTestRedis();
  db = new Redis(redis.url);
  tmp = tempDir('citytel-cluster-');
  store = await openStore({ dataDir: tmp.dir, log });
  for (const [id, kind] of [
    ['kit-1', 'native'],
    ['kit-2', 'native'],
    ['car-1', 'vehicle'],
    ['car-2', 'vehicle'],
    ['car-3', 'vehicle'],
  ] as const) {
    secrets[id] = (await store.devices.create({ id, kind, lat: 48.11, lon: -1.68 })).secret!;
  }
  token = (await store.devices.create({ id: 'sck-1', kind: 'sck' })).token!;
  a = await startNode('node-a', redis.url);
  b = await startNode('node-b', redis.url);
});

afterAll(async () => {
  for (const c of open) c.end(true);
  await a?.broker.close();
  await b?.broker.close();
  db?.disconnect();
  await store?.close();
  await redis?.close();
  tmp?.cleanup();
});

describe('deliveries across brokers', () => {
  it('delivers a reading published at QoS 1 on one broker to a QoS 1 subscriber on the other', async () => {
    const api = await service(b, 'svc:api', { clientId: 'svc:api/readings' });
    const received = messageLog(api);
    await api.subscribeAsync('sensors/+/readings', { qos: 1 });
    const kit = await device(a, 'kit-1');
    const body = '{"pm25":8.2,"noise_laeq":58.4}';

    await kit.publishAsync(topics.sensorReadings('kit-1'), body, { qos: 1 });

    const m = await received.next((x) => x.topic === topics.sensorReadings('kit-1'));
    expect(m.qos).toBe(1);
    const { receivedAt, payload } = unstamp(m.payload);
    expect(payload.toString()).toBe(body);
    expect(Math.abs(Date.now() - receivedAt!.getTime())).toBeLessThan(5000);
  });

  it('shows a vehicle status retained on one broker to a later subscriber on the other', async () => {
    const car = await device(a, 'car-1');
    const status = '{"online":true,"locked":true,"ts":"2026-11-22T10:15:00Z"}';
    await car.publishAsync(topics.vehicleStatus('car-1'), status, { qos: 1, retain: true });

    const api = await service(b, 'svc:api', { clientId: 'svc:api/status' });
    const received = messageLog(api);
    await api.subscribeAsync('vehicles/+/status', { qos: 1 });

    const m = await received.next((x) => x.topic === topics.vehicleStatus('car-1'));
    expect(m.retain).toBe(true);
    expect(m.payload.toString()).toBe(status);
  });

  it("delivers a car's retained status and the telemetry sent right after it, both (moscajs/aedes#994)", async () => {
    const apiB = await service(b, 'svc:api', { clientId: 'svc:api/order-b' });
    const apiA = await service(a, 'svc:api', { clientId: 'svc:api/order-a' });
    const onB = messageLog(apiB);
    const onA = messageLog(apiA);
    for (const api of [apiA, apiB])
      await api.subscribeAsync(['vehicles/+/status', 'vehicles/+/telemetry'], { qos: 1 });
    const car = await device(a, 'car-1');
    const status = '{"online":true,"locked":false,"ts":"2026-11-22T10:16:00Z"}';
    const telemetry = '{"ts":"2026-11-22T10:16:00Z","lat":48.11,"lon":-1.68,"speed":0}';

    // as the on-board unit does on connect: the retained status, then at once its first telemetry
    const sent = [
      car.publishAsync(topics.vehicleStatus('car-1'), status, { qos: 1, retain: true }),
      car.publishAsync(topics.vehicleTelemetry('car-1'), telemetry, { qos: 0 }),
    ];
    await Promise.all(sent);

    for (const received of [onA, onB]) {
      const s = await received.next(
        (x) => x.topic === topics.vehicleStatus('car-1') && x.payload.toString() === status,
      );
      expect(s.payload.toString()).toBe(status);
      const t = await received.next((x) => x.topic === topics.vehicleTelemetry('car-1'));
      expect(unstamp(t.payload).payload.toString()).toBe(telemetry);
    }
  });

  it('delivers a packet that matches two subscriptions of one client once', async () => {
    const api = await service(b, 'svc:api', { clientId: 'svc:api/overlap' });
    const received = messageLog(api);
    await api.subscribeAsync(['vehicles/+/telemetry', 'vehicles/car-2/telemetry'], { qos: 1 });
    const car = await device(a, 'car-2');
    const telemetry = '{"ts":"2026-11-22T10:17:00Z","lat":48.12,"lon":-1.67,"speed":12}';

    await car.publishAsync(topics.vehicleTelemetry('car-2'), telemetry, { qos: 1 });
    await received.next((x) => x.topic === topics.vehicleTelemetry('car-2'));
    await sleep(300);

    expect(received.all.filter((x) => x.topic === topics.vehicleTelemetry('car-2'))).toHaveLength(1);
  });

  it('delivers a command published by the api on one broker to the car connected to the other', async () => {
    const car = await device(b, 'car-2');
    const received = messageLog(car);
    await car.subscribeAsync(topics.vehicleCommands('car-2'), { qos: 1 });
    const api = await service(a, 'svc:api', { clientId: 'svc:api/commands' });
    const command = JSON.stringify({ id: 'cmd_cluster_1', action: 'unlock', bookingId: 'bk_1' });

    await api.publishAsync(topics.vehicleCommands('car-2'), command, { qos: 1 });

    const m = await received.next((x) => x.topic === topics.vehicleCommands('car-2'));
    expect(m.qos).toBe(1);
    expect(m.payload.toString()).toBe(command);
  });

  it('keeps a persistent session: a command sent while the car is away reaches it on the other broker', async () => {
    const session = { clientId: 'car-3/obu', clean: false };
    const first = await brokerClient(a.url, { username: 'car-3', password: secrets['car-3']!, ...session });
    await first.subscribeAsync(topics.vehicleCommands('car-3'), { qos: 1 });
    const gone = new Promise<void>((resolve) =>
      a.broker.aedes.on('clientDisconnect', (client) => client.id === 'car-3/obu' && resolve()),
    );
    await first.endAsync();
    await gone;

    const api = await service(a, 'svc:api', { clientId: 'svc:api/offline' });
    const command = JSON.stringify({ id: 'cmd_cluster_2', action: 'lock', bookingId: 'bk_2' });
    await api.publishAsync(topics.vehicleCommands('car-3'), command, { qos: 1 });

    // no SUBSCRIBE this time: the broker replays from the session alone
    const again = mqtt.connect(b.url, {
      username: 'car-3',
      password: secrets['car-3']!,
      ...session,
      reconnectPeriod: 0,
    });
    open.push(again);
    const received = messageLog(again);
    const connack = await new Promise<IConnackPacket>((resolve) => again.once('connect', resolve));
    expect(connack.sessionPresent).toBe(true);
    const m = await received.next((x) => x.topic === topics.vehicleCommands('car-3'));
    expect(m.qos).toBe(1);
    expect(m.payload.toString()).toBe(command);
  });
});

describe('ingest stream', () => {
  it('holds each accepted device message, stamped, by the time its QoS 1 publish is acknowledged', async () => {
    const kit = await device(a, 'kit-2');
    const car = await device(b, 'car-1');
    const reading = `{"pm10":14.5,"n":"${Date.now()}"}`;
    const telemetry = `{"speed_kmh":31.5,"n":"${Date.now()}"}`;

    await kit.publishAsync(topics.sensorReadings('kit-2'), reading, { qos: 1 });
    await car.publishAsync(topics.vehicleTelemetry('car-1'), telemetry, { qos: 1 });

    const entries = await streamEntries(); // no waiting: the PUBACKs came after the appends
    const r = entries.filter(withBody(reading));
    const t = entries.filter(withBody(telemetry));
    expect(r.map((e) => e.topic)).toEqual([topics.sensorReadings('kit-2')]);
    expect(t.map((e) => e.topic)).toEqual([topics.vehicleTelemetry('car-1')]);
    const receivedAt = unstamp(r[0]!.payload).receivedAt!;
    expect(Math.abs(Date.now() - receivedAt.getTime())).toBeLessThan(5000);
  });

  it('carries the same stamped payload as the one delivered to subscribers', async () => {
    const api = await service(b, 'svc:api', { clientId: 'svc:api/same-stamp' });
    const received = messageLog(api);
    await api.subscribeAsync('sensors/+/readings', { qos: 1 });
    const kit = await device(a, 'kit-1');
    const body = `{"o3":40.5,"n":"${Date.now()}"}`;

    await kit.publishAsync(topics.sensorReadings('kit-1'), body, { qos: 1 });

    const delivered = await received.next((x) => unstamp(x.payload).payload.toString() === body);
    const [entry] = (await streamEntries()).filter(withBody(body));
    expect(entry!.payload.equals(delivered.payload)).toBe(true);
  });

  it('appends a Smart Citizen kit reading sent at QoS 0', async () => {
    const kit = await track(brokerClient(b.url, { clientId: token }));
    const raw = `{t:2026-11-22T10:15:00Z,87:8.2,88:${Date.now() % 1000}}`;

    await kit.publishAsync(topics.sckRaw(token), raw, { qos: 0 });

    const entry = await waitFor(async () => (await streamEntries()).find(withBody(raw)));
    expect(entry.topic).toBe(topics.sckRaw(token));
  });

  it('does not append what is not device data: a vehicle status and a command', async () => {
    const before = (await streamEntries()).length;
    const car = await device(a, 'car-2');
    const api = await service(b, 'svc:api', { clientId: 'svc:api/not-data' });
    await car.publishAsync(topics.vehicleStatus('car-2'), '{"online":true}', { qos: 1, retain: true });
    await api.publishAsync(topics.vehicleCommands('car-2'), '{"id":"cmd_x","action":"lock"}', { qos: 1 });

    expect((await streamEntries()).length).toBe(before);
  });

  it('does not append a refused publish (a device writing under another device id)', async () => {
    const kit = await device(a, 'kit-1');
    const body = `{"pm25":99,"n":"${Date.now()}"}`;
    kit.publish(topics.sensorReadings('kit-2'), body, { qos: 1 });
    await closedByBroker(kit);

    // a later message from elsewhere is in the stream; the refused one never is
    const other = await device(b, 'kit-2');
    const marker = `{"pm25":1,"n":"${Date.now()}"}`;
    await other.publishAsync(topics.sensorReadings('kit-2'), marker, { qos: 1 });
    const entries = await streamEntries();
    expect(entries.some(withBody(marker))).toBe(true);
    expect(entries.some(withBody(body))).toBe(false);
  });
});

describe('Redis unreachable', () => {
  it('gives a device no PUBACK for a message it could not append, and disconnects it', async () => {
    const own = await startTestRedis();
    const node = await startNode('node-outage', own.url, { REDIS_APPEND_TIMEOUT_MS: 500 });
    try {
      const kit = await device(node, 'kit-1', { clientId: 'kit-1/outage' });
      await kit.publishAsync(topics.sensorReadings('kit-1'), '{"pm25":1}', { qos: 1 });
      await own.close();

      let acknowledged = false;
      kit
        .publishAsync(topics.sensorReadings('kit-1'), '{"pm25":2}', { qos: 1 })
        .then(() => {
          acknowledged = true;
        })
        .catch(() => {});
      await closedByBroker(kit, 5000);
      await sleep(200);
      expect(acknowledged).toBe(false);
    } finally {
      await node.broker.close();
      await own.close();
    }
  });
});
