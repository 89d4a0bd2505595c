import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type NodeProcess, spawnNode } from '../../ingest/bench/processes.ts';
import { type InfluxdHandle, startInfluxd } from '../influxd.ts';
import { type AppendFsync, type RedisServerHandle, startRedisServer } from '../redis-server.ts';

/**
 * The durable one-machine set-up as `npm start` runs it — influxd, redis-server (append-only file), the
 * broker with BROKER_EMITTER=memory, one ingest worker reading the stream — each its own process that can
 * be SIGKILLed and started again on the same folders and ports. The chaos run and the crash tests drive it.
 */
export type Part = 'broker' | 'ingest' | 'influxd' | 'redis';
export const PARTS: readonly Part[] = ['broker', 'ingest', 'influxd', 'redis'];

export interface DurableStack {
  dataDir: string;
  mqttUrl: string;
  influxUrl: string;
  redisUrl: string;
  db: string;
  serviceSecret: string;
  isUp(part: Part): boolean;
  /** SIGKILL, no warning: what a crash, an OOM kill or a pulled plug does to the process. */
  kill(part: Part): Promise<void>;
  start(part: Part): Promise<void>;
  /** Stops everything that runs, ingest first (it flushes), influxd last. */
  stop(): Promise<void>;
  /** Recent output of a Node part, for a failure message. */
  output(part: 'broker' | 'ingest'): string[];
}

export interface DurableStackOptions {
  dir: string;
  ports: { mqtt: number; influx: number; influxRpc: number; redis: number };
  appendfsync?: AppendFsync;
  serviceSecret?: string;
  db?: string;
  /** Variables added to the broker's and ingest's. */
  env?: Record<string, string>;
  /** Leave these parts stopped at first. */
  without?: Part[];
}

export async function startDurableStack(opts: DurableStackOptions): Promise<DurableStack> {
  const dir = resolve(opts.dir);
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir, { recursive: true });
  const db = opts.db ?? 'telemetry';
  const serviceSecret = opts.serviceSecret ?? 'chaos-service-secret';
  const without = new Set(opts.without ?? []);
  const influx: InfluxdHandle = await startInfluxd({
    dir: join(dir, 'influxdb'),
    httpPort: opts.ports.influx,
    rpcPort: opts.ports.influxRpc,
  });
  let influxUp = true;
  const redis: RedisServerHandle = await startRedisServer({
    dir: join(dir, 'redis'),
    port: opts.ports.redis,
    appendfsync: opts.appendfsync ?? 'always',
  });
  let redisUp = true;
  const mqttUrl = `mqtt://127.0.0.1:${opts.ports.mqtt}`;
  const common = {
    DATA_DIR: dataDir,
    MQTT_SERVICE_SECRET: serviceSecret,
    REDIS_URL: redis.url,
    LOG_LEVEL: 'info',
    LOG_PRETTY: '0',
    ...opts.env,
  };
  const brokerEnv = {
    ...common,
    MQTT_PORT: String(opts.ports.mqtt),
    MQTT_HOST: '127.0.0.1',
    BROKER_ID: 'solo',
    BROKER_EMITTER: 'memory',
    REDIS_APPEND_TIMEOUT_MS: '2000',
  };
  const ingestEnv = {
    ...common,
    MQTT_URL: mqttUrl,
    INFLUX_URL: influx.url,
    INFLUX_DB: db,
    INGEST_ID: 'solo',
    INGEST_FLUSH_MS: '50',
    INGEST_RETRY_MIN_MS: '200',
    INGEST_RETRY_MAX_MS: '1000',
    INGEST_STATS_MS: '1000',
    INGEST_CLAIM_IDLE_MS: '2000',
    INGEST_TRIM_MS: '1000',
  };
  const procs: { broker?: NodeProcess; ingest?: NodeProcess } = {};
  const alive = (p: NodeProcess | undefined) =>
    !!p && p.child.exitCode === null && p.child.signalCode === null;

  const startNode = async (part: 'broker' | 'ingest') => {
    if (alive(procs[part])) return;
    const p =
      part === 'broker'
        ? spawnNode('broker/src/main.ts', brokerEnv, { name: 'broker' })
        : spawnNode('ingest/src/main.ts', ingestEnv, { name: 'ingest' });
    procs[part] = p;
    await p.logged(part === 'broker' ? '"broker listening"' : '"ingest started"', 120_000);
  };
  const killNode = async (part: 'broker' | 'ingest') => {
    const p = procs[part];
    if (!p || !alive(p)) return;
    const gone = new Promise((r) => p.child.once('exit', r));
    p.child.kill('SIGKILL');
    await gone;
  };

  const stack: DurableStack = {
    dataDir,
    mqttUrl,
    influxUrl: influx.url,
    redisUrl: redis.url,
    db,
    serviceSecret,
    isUp(part) {
      if (part === 'influxd') return influxUp;
      if (part === 'redis') return redisUp;
      return alive(procs[part]);
    },
    async kill(part) {
      if (part === 'broker' || part === 'ingest') return killNode(part);
      if (part === 'influxd') {
        influxUp = false;
        influx.process.kill('SIGKILL');
        await waitExit(influx.process);
        return;
      }
      redisUp = false;
      await redis.kill();
    },
    async start(part) {
      if (part === 'broker' || part === 'ingest') return startNode(part);
      if (part === 'influxd') {
        // restart() stops (nothing left to stop) and launches on the same folder
        if (!influxUp) await influx.restart();
        influxUp = true;
        return;
      }
      if (!redisUp) await redis.start();
      redisUp = true;
    },
    async stop() {
      await procs.ingest?.stop();
      await procs.broker?.stop();
      await redis.stop();
      await influx.stop();
    },
    output: (part) => procs[part]?.output ?? [],
  };
  try {
    if (!without.has('broker')) await stack.start('broker');
    if (!without.has('ingest')) await stack.start('ingest');
  } catch (err) {
    await stack.stop();
    throw err;
  }
  return stack;
}

async function waitExit(child: { exitCode: number | null; signalCode: string | null }) {
  while (child.exitCode === null && child.signalCode === null) await sleep(20);
}
