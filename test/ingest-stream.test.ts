import { type ChildProcess, spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Broker, createBroker } from '@citytel/broker';
import { STATS_SUBSCRIPTIONS, stamp, statsTopic, streamEntryFields, topics } from '@citytel/contract';
import { createIngest, type Ingest, type IngestStats, loadIngestConfig } from '@citytel/ingest';
import { deriveServiceSecret, openStore, resolveServiceSecrets, type Store } from '@citytel/store';
import { Redis } from 'ioredis';
import type { MqttClient } from 'mqtt';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { brokerClient } from './helpers/broker.ts';
import { influxQuery, startTestInflux } from './helpers/influx.ts';
import { eventually, type IngestProcess, spawnIngest } from './helpers/ingest.ts';
import { freePort } from './helpers/ports.ts';
import { startTestRedis, type TestRedis } from './helpers/redis.ts';
import { tempDir } from './helpers/tmp.ts';

/**
 * Cluster mode end to end: devices publish through two clustered brokers (or entries are XADDed as the
 * brokers write them), ingest workers read the Redis Stream as one group, and the readings are read back
 * from a real influxd. The source alone is tested in ingest-stream-source.test.ts.
 */
const SECRET = 'test-service-secret';
// Device times within the last 7 days: older ones are replaced by the broker time (CONTRACT §2).
const T = Math.floor(Date.now() / 60_000) * 60_000 - 3_600_000;
const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

let tmp: ReturnType<typeof tempDir>;
let store: Store;
let influx: Awaited<ReturnType<typeof startTestInflux>>;
let redis: TestRedis;
let r: Redis;
const brokers: Broker[] = [];
const clients: MqttClient[] = [];
const secrets = new Map<string, string>();
let solo: string;
let nodeA: string;
let nodeB: string;

async function startBroker(id: string, redisUrl?: string, key?: string): Promise<string> {
  const broker = createBroker({
    config: {
      MQTT_PORT: 0,
      MQTT_HOST: '127.0.0.1',
      STATS_INTERVAL_MS: 5000,
      BROKER_ID: id,
      ...(redisUrl ? { REDIS_URL: redisUrl, INGEST_STREAM_KEY: key } : {}),
    },
    store,
    serviceSecrets: resolveServiceSecrets('', { MQTT_SERVICE_SECRET: SECRET }),
    log,
  });
  brokers.push(broker);
  return `mqtt://127.0.0.1:${(await broker.listen()).port}`;
}

/** Registers `count` fixed native kits `{prefix}-{i}`. */
async function kits(prefix: string, count: number): Promise<string[]> {
  const ids = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
  for (const id of ids)
    secrets.set(id, (await store.devices.create({ id, kind: 'native', lat: 48.11, lon: -1.68 })).secret!);
  return ids;
}

async function connect(url: string, id: string): Promise<MqttClient> {
  const c = await brokerClient(url, { username: id, password: secrets.get(id)!, clientId: `${id}/${url}` });
  clients.push(c);
  return c;
}

/** Ten readings per message, each with its own time and values, so every one is one distinct point. */
const batch = (seq: number) =>
  Array.from({ length: 10 }, (_, i) => ({
    ts: new Date(T + (seq * 10 + i) * 1000).toISOString(),
    pm25: (seq * 10 + i) % 997,
    noise_laeq: 30 + ((seq + i) % 90),
  }));

async function count(prefix: string): Promise<number> {
  const s = await influxQuery(
    influx.url,
    influx.db,
    `SELECT count("pm25") FROM "readings" WHERE "device" =~ /^${prefix}-/`,
  );
  return Number(s[0]?.values[0]?.[1] ?? 0);
}

/** Ingest's environment for one worker (short flushes and intervals, everything else as in production). */
const workerEnv = (over: Record<string, string>): Record<string, string> => ({
  DATA_DIR: tmp.dir,
  MQTT_URL: nodeA,
  MQTT_SERVICE_SECRET: SECRET,
  INFLUX_URL: influx.url,
  INFLUX_DB: influx.db,
  INGEST_FLUSH_MS: '20',
  INGEST_STATS_MS: '200',
  INGEST_SEEN_MS: '100',
  INGEST_RETRY_MIN_MS: '200',
  INGEST_RETRY_MAX_MS: '1000',
  INGEST_TRIM_MS: '200',
  LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
  ...over,
});

beforeAll(async () => {
  tmp = tempDir('citytel-ingest-stream-');
  store = await openStore({ dataDir: tmp.dir, log });
  [influx, redis] = await Promise.all([startTestInflux(), startTestRedis()]);
  r = new Redis(redis.url);
  solo = await startBroker('solo');
  nodeA = await startBroker('node-a', redis.url, 'test:shared');
  nodeB = await startBroker('node-b', redis.url, 'test:shared');
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.endAsync(true)));
  for (const b of brokers) await b.close();
  r?.disconnect();
  await store?.close();
  await redis?.close();
  await influx?.close();
  tmp?.cleanup();
});

/**
 * One behaviour, two sources (conventions: backends): the direct subscription to one broker, and the stream that two
 * clustered brokers append to. Devices publish through the brokers alike; only ingest's source differs.
 */
const sources = [
  { name: 'the direct MQTT subscription', prefix: 'mq', env: () => ({ MQTT_URL: solo }), via: () => [solo] },
  {
    name: 'the Redis Stream of two clustered brokers',
    prefix: 'st',
    env: () => ({ MQTT_URL: nodeA, REDIS_URL: redis.url, INGEST_STREAM_KEY: 'test:shared' }),
    via: () => [nodeA, nodeB],
  },
];

describe.each(sources)('ingest reading $name', ({ prefix, env, via }) => {
  let ingest: Ingest;
  let devices: MqttClient[];

  beforeAll(async () => {
    const config = loadIngestConfig(workerEnv({ INGEST_ID: `shared-${prefix}`, ...env() }));
    ingest = createIngest({ config, store, log, serviceSecret: deriveServiceSecret(SECRET, 'svc:ingest') });
    await ingest.start();
    const ids = await kits(prefix, 4);
    devices = await Promise.all(ids.map((id, i) => connect(via()[i % via().length]!, id)));
  });
  afterAll(() => ingest?.stop());

  it('writes every published reading with its values and device time', async () => {
    const sent: Array<[string, number, number, number]> = [];
    for (let seq = 0; seq < 40; seq++) {
      const d = seq % devices.length;
      const readings = batch(seq);
      await devices[d]!.publishAsync(topics.sensorReadings(`${prefix}-${d}`), JSON.stringify({ readings }), {
        qos: 1,
      });
      for (const x of readings) sent.push([`${prefix}-${d}`, Date.parse(x.ts), x.pm25, x.noise_laeq]);
    }
    await eventually('all 400 readings', async () => (await count(prefix)) === 400, 20_000);
    const [s] = await influxQuery(
      influx.url,
      influx.db,
      `SELECT "device", "pm25", "noise_laeq" FROM "readings" WHERE "device" =~ /^${prefix}-/`,
    );
    const got = s!.values.map(([t, device, pm25, noise]) => [device, t, pm25, noise]);
    const order = (a: unknown[], b: unknown[]) =>
      Number(a[1]) - Number(b[1]) || String(a[0]).localeCompare(String(b[0]));
    expect(got.sort(order)).toEqual([...sent].sort(order));
  });

  it('publishes its figures, retained, on its stats topic of the broker', async () => {
    const api = await brokerClient(via()[0]!, {
      username: 'svc:api',
      password: deriveServiceSecret(SECRET, 'svc:api'),
    });
    try {
      const seen: Array<{ retain: boolean; stats: IngestStats }> = [];
      api.on('message', (topic, payload, packet) => {
        if (topic === statsTopic('ingest', `shared-${prefix}`))
          seen.push({ retain: packet.retain, stats: JSON.parse(payload.toString()) });
      });
      await api.subscribeAsync(STATS_SUBSCRIPTIONS, { qos: 0 });
      // The retained copy first, then fresh figures every INGEST_STATS_MS, the first test's included.
      const stats = await eventually(
        'figures after the first test',
        () => seen.find((m) => m.stats.received >= 40 && m.stats.points_written >= 400)?.stats,
      );
      expect(seen[0]!.retain).toBe(true);
      expect(stats.mqtt_connected).toBe(1);
      if (prefix === 'st') expect(stats.stream).toMatchObject({ claimed: 0, missing: 0 });
      else expect(stats.stream).toBeUndefined();
    } finally {
      await api.endAsync(true);
    }
  });

  it('refuses a malformed message, counts it, and acknowledges it', async () => {
    const before = ingest.stats();
    await devices[0]!.publishAsync(topics.sensorReadings(`${prefix}-0`), Buffer.from([0xff, 0xfe, 0x00]), {
      qos: 1,
    });
    const after = await eventually('the rejection counted and acknowledged', () => {
      const s = ingest.stats();
      return s.rejected === before.rejected + 1 && s.acked === s.received ? s : undefined;
    });
    expect(after.rejected_messages.malformed).toBe((before.rejected_messages.malformed ?? 0) + 1);
    expect(after.backlog_messages).toBe(0);
  });
});

describe('ingest workers on the Redis Stream', () => {
  it("uses the broker's stamp as the time of a reading sent without one", async () => {
    const [id] = await kits('xa', 1);
    const key = 'test:xadd';
    const config = loadIngestConfig(
      workerEnv({ INGEST_ID: 'xadd', REDIS_URL: redis.url, INGEST_STREAM_KEY: key }),
    );
    const ingest = createIngest({ config, store, log });
    await ingest.start();
    try {
      const at = T + 123_456;
      await r.xadd(
        key,
        '*',
        ...streamEntryFields(topics.sensorReadings(id!), stamp(Buffer.from('{"pm25":7.5}'), at)),
      );
      const row = await eventually('the reading', async () => {
        const [s] = await influxQuery(
          influx.url,
          influx.db,
          `SELECT "pm25", "tsrc" FROM "readings" WHERE "device" = '${id}'`,
        );
        return s?.values[0];
      });
      expect(row).toEqual([at, 7.5, 'broker']);
      expect(ingest.stats()).toMatchObject({ acked: 1, stream: { claimed: 0, missing: 0 } });
    } finally {
      await ingest.stop();
    }
  });

  it('three workers, one killed with SIGKILL mid-stream: every reading exactly once, its entries taken over, trimmed only below a lagging group', {
    timeout: 120_000,
  }, async () => {
    const key = 'test:three';
    await r.xgroup('CREATE', key, 'ingest', '0', 'MKSTREAM');
    await r.xgroup('CREATE', key, 'archive', '0');
    const a = await startBroker('three-a', redis.url, key);
    const b = await startBroker('three-b', redis.url, key);
    const ids = await kits('k3', 10);
    const devices = await Promise.all(ids.map((id, i) => connect(i % 2 ? b : a, id)));
    const env = (id: string) =>
      workerEnv({
        INGEST_ID: id,
        REDIS_URL: redis.url,
        INGEST_STREAM_KEY: key,
        MQTT_URL: a,
        INGEST_CLAIM_IDLE_MS: '2000',
        // Slow flushes: the kill lands with entries delivered and not yet acknowledged.
        INGEST_FLUSH_MS: '300',
      });
    const workers: IngestProcess[] = [];
    try {
      for (const id of ['w1', 'w2', 'w3']) workers.push(await spawnIngest(env(id)));
      let published = 0;
      let publishing = true;
      const publisher = (async () => {
        for (let seq = 0; publishing; seq++) {
          const d = seq % devices.length;
          const readings = batch(seq);
          await devices[d]!.publishAsync(topics.sensorReadings(`k3-${d}`), JSON.stringify({ readings }), {
            qos: 1,
          });
          published += readings.length;
          await sleep(5);
        }
      })();
      await eventually('writing', async () => (await count('k3')) > 500, 30_000);
      workers[1]!.kill('SIGKILL');
      await workers[1]!.exited;
      const consumers = async () =>
        new Map(
          ((await r.xinfo('CONSUMERS', key, 'ingest')) as unknown[][]).map((c) => [
            String(c[1]),
            Number(c[3]),
          ]),
        );
      const heldByDead = (await consumers()).get('w2')!;
      await sleep(3000);
      publishing = false;
      await publisher;

      await eventually('every reading in InfluxDB', async () => (await count('k3')) === published, 60_000);
      await sleep(1000);
      expect(await count('k3')).toBe(published);
      expect(heldByDead).toBeGreaterThan(0);
      expect((await consumers()).get('w2')).toBe(0);
      const taken = [workers[0]!, workers[2]!]
        .flatMap((w) => w.output.filter((l) => l.includes('took over entries')))
        .reduce((n, l) => n + JSON.parse(l).entries, 0);
      expect(taken).toBeGreaterThanOrEqual(heldByDead);

      // The archive group never read: every entry is still there for it.
      const entries = published / 10;
      const read = Math.floor(entries / 2);
      expect(await r.xlen(key)).toBe(entries);
      // It reads and acknowledges half: the workers trim up to there, and no further.
      const half = (await r.xreadgroup('GROUP', 'archive', 'a1', 'COUNT', read, 'STREAMS', key, '>')) as [
        string,
        [string, unknown][],
      ][];
      await r.xack(key, 'archive', ...half[0]![1].map((e) => e[0]));
      await eventually(
        'trimmed to the half the archive has not read',
        async () => (await r.xlen(key)) === entries - read,
        5000,
      );
      await sleep(600);
      expect(await r.xlen(key)).toBe(entries - read);
    } finally {
      for (const w of workers) w.kill('SIGKILL');
      await Promise.all(workers.map((w) => w.exited));
    }
  });

  it('Redis killed and restarted mid-stream (append-only file, fsync always): nothing lost', {
    timeout: 120_000,
  }, async () => {
    const durable = await startDurableRedis();
    const key = 'test:restart';
    const ids = await kits('rr', 5);
    const w = await spawnIngest(
      workerEnv({ INGEST_ID: 'rr', REDIS_URL: durable.url, INGEST_STREAM_KEY: key }),
    );
    const feed = new Redis(durable.url, { maxRetriesPerRequest: null });
    // Its errors while Redis is down are expected: the XADDs wait and go once it is back.
    feed.on('error', () => undefined);
    try {
      let published = 0;
      let publishing = true;
      const publisher = (async () => {
        for (let seq = 0; publishing; seq++) {
          const d = seq % ids.length;
          const body = JSON.stringify({ readings: batch(seq) });
          await feed.xadd(
            key,
            '*',
            ...streamEntryFields(topics.sensorReadings(ids[d]!), stamp(Buffer.from(body), Date.now())),
          );
          published += 10;
          await sleep(5);
        }
      })();
      await eventually('writing', async () => (await count('rr')) > 300, 30_000);
      await durable.kill();
      const atKill = await count('rr');
      await sleep(1000);
      await durable.restart();
      await eventually('writing again', async () => (await count('rr')) > atKill + 300, 30_000);
      await sleep(2000);
      publishing = false;
      await publisher;
      await eventually('every reading in InfluxDB', async () => (await count('rr')) === published, 60_000);
      expect(w.output.some((l) => l.includes('reconnected to Redis'))).toBe(true);

      // A clean stop afterwards: SIGTERM drains and acknowledges everything it took.
      w.kill('SIGTERM');
      await eventually('a clean stop', () => w.output.find((l) => l.includes('"ingest stopped"')));
      expect(JSON.parse(w.output.find((l) => l.includes('"ingest stopped"'))!)).toMatchObject({
        drained: true,
      });
      expect(((await feed.xpending(key, 'ingest')) as [number])[0]).toBe(0);
    } finally {
      feed.disconnect();
      w.kill('SIGKILL');
      await w.exited;
      await durable.close();
    }
  });
});

/**
 * A redis-server that survives SIGKILL: append-only file fsynced on every write, in a folder and on a port
 * it keeps across restarts (the shared test harness runs Redis without persistence, where a restart is
 * data loss in Redis itself).
 */
async function startDurableRedis() {
  const port = await freePort();
  const dir = tempDir('citytel-redis-aof-');
  let child: ChildProcess | undefined;
  const url = `redis://127.0.0.1:${port}`;
  const start = async () => {
    child = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--dir',
        dir.dir,
        '--save',
        '',
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
      ],
      { stdio: 'ignore' },
    );
    const probe = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    probe.on('error', () => undefined);
    await eventually(
      'redis-server up',
      async () => {
        try {
          await probe.connect();
          return (await probe.ping()) === 'PONG';
        } catch {
          probe.disconnect();
          return false;
        }
      },
      15_000,
    );
    probe.disconnect();
  };
  const kill = async () => {
    const c = child!;
    const gone = new Promise((res) => c.once('exit', res));
    c.kill('SIGKILL');
    await gone;
  };
  await start();
  return {
    url,
    kill,
    restart: start,
    async close() {
      if (child && child.exitCode === null && child.signalCode === null) await kill();
      dir.cleanup();
    },
  };
}
