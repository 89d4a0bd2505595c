/**
 * `npm run bench:connections`: how much broker memory one idle device costs. 10 000 provisioned devices
 * (BENCH_CONNECTIONS) connect from a separate process over TCP — real logins, keepalive 60 s — and stay
 * idle; the broker's resident set and JS heap (after GC) are read before and after, per connection. The
 * same devices then connect to the broker in cluster mode (a local redis-server), to bare Aedes (the
 * library's own floor) and to Mosquitto (the C peer). Goal: under 50 KB per connection.
 *
 * Logins: the bench store holds the devices with a cheaper scrypt (provision.ts says why and how); the cost
 * of a real login is timed apart, on devices provisioned with the store's own API.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import mqtt from 'mqtt';
import { ensureRedisServer } from '../../ingest/bench/install.ts';
import { startTestRedis } from '../../test/helpers/redis.ts';
import { type BrokerUnderTest, mosquittoBroker, nodeBroker } from './brokers.ts';
import type { FromDevices, ToDevices } from './idle-devices.ts';
import { nextMessage, openFilesLimit, spawnBenchNode } from './processes.ts';
import { type Credentials, provisionBenchStore } from './provision.ts';

const COUNT = Number(process.env.BENCH_CONNECTIONS ?? 10_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 100);
const LOGIN_SAMPLES = 10;
const GOAL_BYTES = 50 * 1024;
const SERVICE_SECRET = 'bench-service-secret';
const KB = 1024;
/** Which brokers to measure, in this order: citytel,cluster,aedes,mosquitto (all by default). */
const PHASES = new Set((process.env.BENCH_BROKERS ?? 'citytel,cluster,aedes,mosquitto').split(','));

interface Logins {
  fullMs: number[];
  benchMs: number[];
}

interface Row {
  name: string;
  connected: number;
  seconds: number;
  rssPerConn: number;
  jsPerConn?: number;
  rssTotal: number;
  note?: string;
}

async function main(): Promise<void> {
  if (openFilesLimit() < COUNT + 1000)
    throw new Error(`ulimit -n is ${openFilesLimit()}: ${COUNT} connections need at least ${COUNT + 1000}`);
  const dir = mkdtempSync(join(tmpdir(), 'citytel-bench-connections-'));
  try {
    console.log(`provisioning ${COUNT} devices (bench hash) and ${LOGIN_SAMPLES} at full cost...`);
    const { devices, fullCostDevices } = await provisionBenchStore(dir, COUNT, LOGIN_SAMPLES);
    const credsFile = join(dir, 'devices.json');
    writeFileSync(credsFile, JSON.stringify(devices));
    const citytelEnv = { DATA_DIR: dir, MQTT_SERVICE_SECRET: SERVICE_SECRET, BROKER_ID: 'bench' };

    const rows: Row[] = [];
    let logins: Logins | undefined;
    if (PHASES.has('citytel')) {
      const one = await nodeBroker('citytel, one machine', 'citytel', citytelEnv);
      logins = {
        fullMs: await loginTimes(one.url, fullCostDevices),
        benchMs: await loginTimes(one.url, devices.slice(0, LOGIN_SAMPLES)),
      };
      rows.push(await measure(one, credsFile));
    }
    if (PHASES.has('cluster')) rows.push(await measureCluster(citytelEnv, credsFile));
    if (PHASES.has('aedes'))
      rows.push(await measure(await nodeBroker('bare Aedes 1.2 (peer)', 'aedes', {}), credsFile));
    if (PHASES.has('mosquitto')) rows.push(await measure(await mosquittoBroker(dir, devices), credsFile));

    report(rows, logins);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The same broker in cluster mode, on a redis-server of its own; Redis's own growth is noted. */
async function measureCluster(env: Record<string, string>, credsFile: string): Promise<Row> {
  ensureRedisServer();
  const redis = await startTestRedis();
  const db = new Redis(redis.url);
  try {
    const before = await redisUsedMemory(db);
    const cluster = await nodeBroker('citytel, cluster mode (Redis)', 'citytel', {
      ...env,
      REDIS_URL: redis.url,
    });
    return await measure(cluster, credsFile, async () => {
      const perConn = ((await redisUsedMemory(db)) - before) / COUNT;
      return `redis-server +${(perConn / KB).toFixed(2)} KB/conn`;
    });
  } finally {
    db.disconnect();
    await redis.close();
  }
}

/** Connects every device, idles, and reads the broker's memory before and after. */
async function measure(
  broker: BrokerUnderTest,
  credsFile: string,
  extra?: () => Promise<string>,
): Promise<Row> {
  try {
    await sleep(500);
    const before = await broker.measure();
    console.log(`${broker.name}: connecting ${COUNT} devices, ${CONCURRENCY} at a time...`);
    const devices = spawnBenchNode('idle-devices.ts', [broker.url, credsFile, String(CONCURRENCY)], {});
    devices.on('message', (m: FromDevices) => {
      if (m.type === 'progress') process.stdout.write(`  ${m.connected}\r`);
    });
    const done = await nextMessage<Extract<FromDevices, { type: 'connected' }>>(
      devices,
      'connected',
      600_000,
    );
    if (done.failed > 0) console.log(`  ${done.failed} refused or failed, first: ${done.firstError}`);
    await sleep(3000); // let the last CONNACKs' garbage be collectable and sockets settle
    const after = await broker.measure();
    const askStatus = nextMessage<Extract<FromDevices, { type: 'status' }>>(devices, 'status', 10_000);
    devices.send({ type: 'status' } satisfies ToDevices);
    const status = await askStatus;
    const note = extra ? await extra() : undefined;
    devices.send({ type: 'close' } satisfies ToDevices);
    await new Promise((r) => devices.once('exit', r));
    const n = done.connected;
    const clients = after.clients === undefined ? '' : `, broker counts ${after.clients}`;
    console.log(`  ${n} connected in ${done.seconds.toFixed(1)} s, ${status.open} still open${clients}`);
    return {
      name: broker.name,
      connected: status.open,
      seconds: done.seconds,
      rssPerConn: (after.rss - before.rss) / n,
      ...(after.js !== undefined && before.js !== undefined ? { jsPerConn: (after.js - before.js) / n } : {}),
      rssTotal: after.rss,
      ...(note ? { note } : {}),
    };
  } finally {
    await broker.stop();
  }
}

/** CONNECT → CONNACK times of a few devices, one after another, in ms. */
async function loginTimes(url: string, devices: Credentials[]): Promise<number[]> {
  const times: number[] = [];
  for (const d of devices) {
    const started = performance.now();
    const client = await mqtt.connectAsync(url, {
      username: d.id,
      password: d.secret,
      clientId: `${d.id}/login-sample`,
      reconnectPeriod: 0,
    });
    times.push(performance.now() - started);
    await client.endAsync();
  }
  return times;
}

async function redisUsedMemory(db: Redis): Promise<number> {
  const info = await db.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function report(rows: Row[], logins: Logins | undefined): void {
  const kb = (b: number) => `${(b / KB).toFixed(1)} KB`;
  console.log(`\nbroker memory per idle connection, ${COUNT} devices, keepalive 60 s (goal < 50 KB)\n`);
  console.log(
    `${'broker'.padEnd(34)}${'open'.padStart(7)}${'connect s'.padStart(11)}${'RSS/conn'.padStart(11)}` +
      `${'heap+ext/conn'.padStart(15)}${'RSS total'.padStart(11)}`,
  );
  for (const r of rows) {
    console.log(
      `${r.name.padEnd(34)}${String(r.connected).padStart(7)}${r.seconds.toFixed(1).padStart(11)}` +
        `${kb(r.rssPerConn).padStart(11)}${(r.jsPerConn === undefined ? '-' : kb(r.jsPerConn)).padStart(15)}` +
        `${`${(r.rssTotal / KB / KB).toFixed(0)} MB`.padStart(11)}${r.note ? `  ${r.note}` : ''}`,
    );
  }
  const ours = rows.filter((r) => r.name.startsWith('citytel'));
  const peers = rows.filter((r) => !r.name.startsWith('citytel'));
  console.log('');
  for (const r of ours) {
    const ratios = peers.map((p) => `${(r.rssPerConn / p.rssPerConn).toFixed(2)}× ${p.name}`).join(', ');
    const verdict = r.rssPerConn < GOAL_BYTES ? 'meets the goal' : 'MISSES the goal';
    console.log(`${r.name}: ${verdict}${ratios ? `; RSS per connection ${ratios}` : ''}`);
  }
  if (!logins) return;
  const full = median(logins.fullMs);
  console.log(
    `\nlogin (CONNECT→CONNACK, median of ${logins.fullMs.length}): full-cost scrypt ${full.toFixed(1)} ms, ` +
      `bench hash ${median(logins.benchMs).toFixed(1)} ms; ${COUNT} full-cost logins ≈ ` +
      `${((full * COUNT) / 1000).toFixed(0)} s of one core`,
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
