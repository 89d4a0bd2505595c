/**
 * `npm run bench:cluster`: ingest throughput in cluster mode (REDIS_URL) — 1 and 2 brokers appending to the
 * Redis Stream, 1 and 2 ingest workers reading it as one group — beside the one-machine default (one broker,
 * ingest subscribed directly) and the raw InfluxDB `/write` ceiling, all measured in the same run.
 *
 *   --readings=100000 --devices=1000 --connections=20 --window=200 --per-message=1   the workload
 *   --only=direct,1x1,1x2,2x1,2x2,0x1,0x2,ceiling  which runs (BROKERSxWORKERS; 0x: a stream filled
 *                                                  beforehand, no broker; default: all)
 *   --redis-aof                                    Redis with an append-only file (fsync every second)
 *
 * Every process runs on its own (brokers, workers, redis-server, influxd), as in production; they share
 * this machine's cores, so the figures say what the design costs here, not what more machines would give.
 * Redis runs without persistence unless --redis-aof (production wants appendonly; see ingest/README.md).
 * Device registrations are kept in $BENCH_DIR between runs (the same as bench:ingest's).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stamp, streamEntryFields, topics } from '@citytel/contract';
import { deriveServiceSecret, resolveServiceSecret } from '@citytel/store';
import { Redis } from 'ioredis';
import mqtt, { type MqttClient } from 'mqtt';
import { startInfluxd } from '../../scripts/influxd.ts';
import { freePort } from '../../test/helpers/ports.ts';
import { arg, count, ownCpu, PROBE, pct, provision, query } from './common.ts';
import { ensureRedisServer } from './install.ts';
import { cpuSeconds, type NodeProcess, spawnNode } from './processes.ts';
import { publishWithMqttJs } from './publisher.ts';
import { benchDevices, type Workload, workload } from './workload.ts';

const READINGS = Number(arg('readings', '100000'));
const DEVICES = Number(arg('devices', '1000'));
const CONNECTIONS = Number(arg('connections', '20'));
const WINDOW = Number(arg('window', '200'));
const PER_MESSAGE = Number(arg('per-message', '1'));
const ONLY = new Set(arg('only', 'direct,1x1,1x2,2x1,2x2,0x1,0x2,ceiling').split(','));
const AOF = process.argv.includes('--redis-aof');
const DB = 'bench';
const DAY = 86_400_000;
/** Stop waiting for a run after this long without a new reading in InfluxDB: what is missing is lost. */
const STALL_MS = 20_000;

interface Result {
  name: string;
  readings: number;
  seconds: number;
  readingsPerS: number;
  lost: number;
  p50?: number | null;
  p99?: number | null;
  notes: string[];
}

async function main() {
  ensureRedisServer();
  const benchDir = process.env.BENCH_DIR ?? join(tmpdir(), 'citytel-bench');
  const storeDir = join(benchDir, 'store');
  const scratch = mkdtempSync(join(tmpdir(), 'citytel-bench-cluster-'));
  const cleanups: Array<() => Promise<unknown> | unknown> = [
    () => rmSync(scratch, { recursive: true, force: true }),
  ];
  const results: Result[] = [];
  try {
    console.log(
      `workload: ${READINGS} readings from ${DEVICES} kits, ${PER_MESSAGE}/message, QoS 1, over ${CONNECTIONS} connections (≤ ${WINDOW} unacknowledged each); ${availableParallelism()} cores`,
    );
    const devices = benchDevices(DEVICES);
    await provision(storeDir, devices);
    const serviceSecret = resolveServiceSecret(storeDir, 'svc:api');
    const influx = await startInfluxd({
      dir: join(scratch, 'influx'),
      httpPort: await freePort(),
      rpcPort: await freePort(),
      database: DB,
    });
    cleanups.unshift(() => influx.stop());
    const redis = await startRedis(join(scratch, 'redis'), AOF);
    cleanups.unshift(() => redis.stop());
    const admin = new Redis(redis.url);
    cleanups.unshift(() => admin.disconnect());

    const runs = [
      { key: 'direct', brokers: 1, workers: 1, cluster: false },
      { key: '1x1', brokers: 1, workers: 1, cluster: true },
      { key: '1x2', brokers: 1, workers: 2, cluster: true },
      { key: '2x1', brokers: 2, workers: 1, cluster: true },
      { key: '2x2', brokers: 2, workers: 2, cluster: true },
      // No broker: the stream filled beforehand as fast as Redis takes it, so the workers alone are measured.
      { key: '0x1', brokers: 0, workers: 1, cluster: true },
      { key: '0x2', brokers: 0, workers: 2, cluster: true },
    ].filter((r) => ONLY.has(r.key));
    const now = Date.now();
    const perDevice = Math.ceil(READINGS / DEVICES);
    // Each run has its own days of device time, so counting a time range counts that run only.
    const workloadAt = (k: number) =>
      workload({
        name: '',
        devices,
        connections: CONNECTIONS,
        readingsPerDevice: perDevice,
        perMessage: PER_MESSAGE,
        from: now - (3 + 2 * k) * DAY,
      });

    for (const [k, run] of runs.entries()) {
      const w = workloadAt(k);
      w.name = !run.brokers
        ? `stream backlog, no broker: ${run.workers} ingest worker${run.workers > 1 ? 's' : ''}`
        : run.cluster
          ? `cluster: ${run.brokers} broker${run.brokers > 1 ? 's' : ''}, ${run.workers} ingest worker${run.workers > 1 ? 's' : ''}`
          : 'one machine: 1 broker, ingest subscribed directly';
      console.log(`running ${w.name}...`);
      const wall = performance.now();
      await admin.flushall();
      const streamKey = `bench:ingest:${run.key}`;
      const shared = {
        DATA_DIR: storeDir,
        MQTT_SERVICE_SECRET: serviceSecret,
        LOG_LEVEL: 'info',
        ...(run.cluster ? { REDIS_URL: redis.url, INGEST_STREAM_KEY: streamKey } : {}),
      };
      const procs: NodeProcess[] = [];
      try {
        const urls: string[] = [];
        for (let b = 0; b < run.brokers; b++) {
          const port = await freePort();
          const broker = spawnNode(
            'broker/src/main.ts',
            {
              ...shared,
              MQTT_PORT: String(port),
              MQTT_HOST: '127.0.0.1',
              BROKER_ID: `bench-${b}`,
              // the load is published through the svc:sim gateway
              MQTT_ALLOW_SIM: 'true',
            },
            { name: `broker-${b}` },
          );
          procs.push(broker);
          await broker.logged('"broker listening"');
          urls.push(`mqtt://127.0.0.1:${port}`);
        }
        const brokers = [...procs];
        for (let i = 0; i < run.workers; i++) {
          const worker = spawnNode(
            'ingest/src/main.ts',
            {
              ...shared,
              // Without a broker the workers' figures have nowhere to go: dropped, as the stats link does.
              MQTT_URL: urls[0] ?? 'mqtt://127.0.0.1:9',
              INFLUX_URL: influx.url,
              INFLUX_DB: DB,
              INGEST_ID: `bench-${run.key}-${i}`,
            },
            { name: `ingest-${i}` },
          );
          procs.push(worker);
          await worker.logged('"ingest started"');
        }
        const workers = procs.slice(run.brokers);
        const cpu = () => ({
          ...Object.fromEntries(brokers.map((p, i) => [`broker-${i}`, p.cpu()])),
          ...Object.fromEntries(workers.map((p, i) => [`ingest-${i}`, p.cpu()])),
          ...(run.cluster ? { redis: cpuSeconds(redis.pid) } : {}),
          influxd: cpuSeconds(influx.process.pid),
          publishers: ownCpu(),
        });
        const r = run.brokers
          ? await publishThrough(urls, serviceSecret, w, now - (4 + 2 * k) * DAY, influx.url, cpu)
          : await drainBacklog(redis.url, streamKey, w, influx.url, cpu);
        if (run.cluster) {
          // Workers trim every INGEST_TRIM_MS (5 s): what is left then is what the group has not acknowledged.
          const entries = r.readings / PER_MESSAGE;
          const t = performance.now();
          let length = await admin.xlen(streamKey);
          while (length > entries / 100 && performance.now() - t < 12_000) {
            await sleep(250);
            length = await admin.xlen(streamKey);
          }
          r.notes.push(
            `stream ${((performance.now() - t) / 1000).toFixed(1)} s after the run: ${length} entries left`,
          );
        }
        results.push(r);
      } finally {
        // Workers first: they drain and acknowledge while the brokers and Redis are still there.
        for (const p of procs.slice().reverse()) await p.stop();
      }
      console.log(`  done in ${((performance.now() - wall) / 1000).toFixed(0)} s`);
    }

    if (ONLY.has('ceiling')) {
      console.log('running the raw InfluxDB ceiling...');
      // A fraction of a second each: three rounds (new points each time), the median kept.
      const rounds: Result[] = [];
      for (let i = 0; i < 3; i++) rounds.push(await ceiling(influx.url, workloadAt(runs.length + i)));
      rounds.sort((x, y) => x.readingsPerS - y.readingsPerS);
      const median = rounds[1]!;
      median.name += ', median of 3';
      median.notes.push(`rounds: ${rounds.map((x) => x.readingsPerS).join(', ')} readings/s`);
      results.push(median);
    }
  } finally {
    for (const c of cleanups) await c();
  }

  console.log('\nresults');
  console.table(
    results.map((r) => ({
      run: r.name,
      readings: r.readings,
      s: r.seconds,
      'readings/s': r.readingsPerS,
      lost: r.lost,
      'p50 ms': r.p50 ?? '',
      'p99 ms': r.p99 ?? '',
    })),
  );
  const raw = results.find((r) => r.name.startsWith('raw'));
  const direct = results.find((r) => r.name.startsWith('one machine'));
  for (const r of results.filter((r) => !r.name.startsWith('raw'))) {
    const ratios = [
      raw ? `${(r.readingsPerS / raw.readingsPerS).toFixed(2)} of the raw ceiling` : '',
      direct && r !== direct ? `${(r.readingsPerS / direct.readingsPerS).toFixed(2)}× one machine` : '',
    ].filter(Boolean);
    console.log(`${r.name}: ${ratios.join(', ')}`);
    for (const n of r.notes) console.log(`  ${n}`);
  }
  if (raw) console.log(`${raw.name}: ${raw.notes.join('; ')}`);
}

/** A redis-server of its own on a free port: no persistence unless `aof` (appendfsync everysec). */
async function startRedis(dir: string, aof: boolean) {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const child: ChildProcess = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      aof ? 'yes' : 'no',
    ],
    { stdio: 'ignore' },
  );
  let spawnError: Error | undefined;
  child.once('error', (err) => {
    spawnError = err;
  });
  const url = `redis://127.0.0.1:${port}`;
  const probe = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  probe.on('error', () => undefined);
  for (let i = 0; ; i++) {
    try {
      await probe.connect();
      await probe.ping();
      break;
    } catch {
      probe.disconnect();
      if (spawnError) throw new Error(`redis-server could not start: ${spawnError.message}`);
      if (i > 100) throw new Error('redis-server did not start');
      await sleep(100);
    }
  }
  probe.disconnect();
  const exited = new Promise((r) => child.once('exit', r));
  return {
    url,
    pid: child.pid,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Publishers (and the latency probe) spread over the brokers, then the scenario. */
async function publishThrough(
  urls: string[],
  serviceSecret: string,
  w: Workload,
  probeBase: number,
  influxUrl: string,
  cpu: () => Record<string, number>,
): Promise<Result> {
  const clients = await Promise.all(
    Array.from({ length: CONNECTIONS + 1 }, (_, i) =>
      mqtt.connectAsync(urls[i % urls.length]!, {
        username: 'svc:sim',
        password: deriveServiceSecret(serviceSecret, 'svc:sim'),
        clientId: `svc:sim/bench-cluster-pub-${i}`,
        reconnectPeriod: 0,
      }),
    ),
  );
  const probe = clients.pop()!;
  try {
    return await runScenario(w, clients, probe, probeBase, influxUrl, cpu);
  } finally {
    await Promise.all([...clients, probe].map((c) => c.endAsync(true)));
  }
}

/**
 * The workload XADDed as the brokers write it (stamped), pipelined 1 000 at a time, while the workers
 * read: the time to the last reading queryable is the workers' (and InfluxDB's), not the brokers'.
 */
async function drainBacklog(
  redisUrl: string,
  streamKey: string,
  w: Workload,
  influxUrl: string,
  cpu: () => Record<string, number>,
): Promise<Result> {
  const feed = new Redis(redisUrl);
  const before = cpu();
  const t0 = performance.now();
  const all = w.perConnection.flat();
  for (let i = 0; i < all.length; i += 1000) {
    const p = feed.pipeline();
    for (const m of all.slice(i, i + 1000))
      p.xadd(streamKey, '*', ...streamEntryFields(m.topic, stamp(Buffer.from(m.payload), Date.now())));
    await p.exec();
  }
  const fedAt = performance.now();
  feed.disconnect();
  const { counted, doneAt } = await countUntilDone(influxUrl, w, fedAt);
  const seconds = (doneAt - t0) / 1000;
  return {
    name: w.name,
    readings: w.readings,
    seconds: Math.round(seconds * 10) / 10,
    readingsPerS: Math.round(counted / seconds),
    lost: w.readings - counted,
    notes: [
      `${all.length} entries XADDed in ${((fedAt - t0) / 1000).toFixed(1)} s`,
      `cores used (of ${availableParallelism()}): ${coresUsed(before, cpu(), seconds)}`,
    ],
  };
}

/** Counts the workload in InfluxDB until it is all there, or nothing new came for STALL_MS. */
async function countUntilDone(influxUrl: string, w: Workload, from: number) {
  let counted = 0;
  let last = { n: -1, at: performance.now() };
  let doneAt = from;
  for (;;) {
    counted = await count(influxUrl, DB, w.from, w.to);
    const t = performance.now();
    if (counted >= w.readings) {
      doneAt = t;
      break;
    }
    if (counted !== last.n) last = { n: counted, at: t };
    else if (t - last.at > STALL_MS) {
      doneAt = last.at;
      break;
    }
    await sleep(100);
  }
  return { counted, doneAt };
}

const coresUsed = (before: Record<string, number>, after: Record<string, number>, seconds: number) =>
  Object.entries(after)
    .map(([k, v]) => `${k} ${((v - (before[k] ?? 0)) / seconds).toFixed(2)}`)
    .join(', ');

/**
 * Publishes the workload and counts it in InfluxDB until all is there (or nothing new came for STALL_MS).
 * Latency: a probe kit publishes a message of the same shape every 20 ms through the first broker, polled
 * until queryable — published → queryable, through whatever path the run has.
 */
async function runScenario(
  w: Workload,
  clients: MqttClient[],
  probe: MqttClient,
  probeBase: number,
  influxUrl: string,
  cpu: () => Record<string, number>,
): Promise<Result> {
  const sent: Array<{ at: number; ts: number }> = [];
  const latencies: number[] = [];
  let t0 = Number.POSITIVE_INFINITY;
  let probing = true;
  const prober = (async () => {
    for (let seq = 0; probing; seq++) {
      const ts = probeBase + seq;
      sent.push({ at: performance.now(), ts });
      probe.publish(
        topics.sensorReadings(PROBE),
        JSON.stringify({ ts: new Date(ts).toISOString(), pm25: seq % 100 }),
        { qos: 1 },
      );
      await sleep(20);
    }
  })();
  let seen = probeBase - 1;
  let measured = 0;
  const poller = (async () => {
    while (probing || measured < sent.length) {
      const rows = await query(
        influxUrl,
        `SELECT pm25 FROM readings WHERE device='${PROBE}' AND time > ${seen}ms AND time < ${probeBase + DAY}ms`,
        DB,
      );
      const t = performance.now();
      for (const row of rows) seen = Math.max(seen, row[0] as number);
      while (measured < sent.length && sent[measured]!.ts <= seen) {
        const m = sent[measured++]!;
        if (m.at >= t0) latencies.push(t - m.at);
      }
      if (!probing && t - sent[sent.length - 1]!.at > 30_000) break;
      await sleep(10);
    }
  })();

  await sleep(2000);
  const before = cpu();
  t0 = performance.now();
  const failed = (
    await Promise.all(clients.map((c, i) => publishWithMqttJs(c, w.perConnection[i] ?? [], WINDOW)))
  ).reduce((a, b) => a + b, 0);
  const publishedAt = performance.now();
  const { counted, doneAt } = await countUntilDone(influxUrl, w, publishedAt);
  const after = cpu();
  probing = false;
  await prober;
  await poller;
  const seconds = (doneAt - t0) / 1000;
  const messages = w.perConnection.reduce((n, list) => n + list.length, 0);
  const cores = coresUsed(before, after, seconds);
  latencies.sort((a, b) => a - b);
  return {
    name: w.name,
    readings: w.readings,
    seconds: Math.round(seconds * 10) / 10,
    readingsPerS: Math.round(counted / seconds),
    lost: w.readings - counted,
    p50: pct(latencies, 0.5),
    p99: pct(latencies, 0.99),
    notes: [
      `${messages} messages; publishing took ${((publishedAt - t0) / 1000).toFixed(1)} s${failed ? `, ${failed} publishes failed` : ''}`,
      `cores used (of ${availableParallelism()}): ${cores}`,
    ],
  };
}

/** The same kind of points posted straight to /write, 5 000 lines × 4 requests at once. */
async function ceiling(influxUrl: string, w: Workload): Promise<Result> {
  const lines = w.lines();
  const batch = 5000;
  const bodies: string[] = [];
  for (let i = 0; i < lines.length; i += batch) bodies.push(lines.slice(i, i + batch).join('\n'));
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < bodies.length) {
        const r = await fetch(`${influxUrl}/write?db=${DB}&precision=ns`, {
          method: 'POST',
          body: bodies[next++]!,
        });
        if (r.status !== 204) throw new Error(`ceiling write: ${r.status} ${await r.text()}`);
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const counted = await count(influxUrl, DB, w.from, w.to);
  return {
    name: `raw InfluxDB /write, ${batch} lines × 4 in parallel`,
    readings: lines.length,
    seconds: Math.round(seconds * 10) / 10,
    readingsPerS: Math.round(lines.length / seconds),
    lost: lines.length - counted,
    notes: [],
  };
}

await main();
