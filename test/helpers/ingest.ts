import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createIngest, type Ingest, type IngestConfig, loadIngestConfig } from '@citytel/ingest';
import type { NewDevice } from '@citytel/store';
import { deriveServiceSecret } from '@citytel/store';
import type { MqttClient } from 'mqtt';
import pino from 'pino';
import { brokerClient, startTestBroker, type TestBroker } from './broker.ts';
import { influxQuery, startTestInflux } from './influx.ts';

const ROOT = resolve(import.meta.dirname, '../..');

export type TestInflux = Awaited<ReturnType<typeof startTestInflux>>;

/** Ingest settings for tests: short flushes and intervals, everything else as in production. */
export function ingestEnv(
  tb: TestBroker,
  influx: TestInflux,
  over: Record<string, string> = {},
): Record<string, string> {
  return {
    DATA_DIR: tb.dataDir,
    MQTT_URL: tb.url,
    MQTT_SERVICE_SECRET: tb.serviceSecret,
    INFLUX_URL: influx.url,
    INFLUX_DB: influx.db,
    INGEST_ID: `test-${process.pid}`,
    INGEST_FLUSH_MS: '20',
    INGEST_STATS_MS: '200',
    INGEST_SEEN_MS: '100',
    INGEST_RETRY_MIN_MS: '200',
    INGEST_RETRY_MAX_MS: '1000',
    INGEST_UNKNOWN_TTL_MS: '0',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ...over,
  };
}

export interface IngestStack {
  tb: TestBroker;
  influx: TestInflux;
  /** The in-process worker, when the stack runs one. */
  ingest?: Ingest;
  config: IngestConfig;
  /** Registers a device and returns a connected MQTT client publishing as it. */
  device(d: NewDevice): Promise<MqttClient>;
  query(q: string): ReturnType<typeof influxQuery>;
  /** `SELECT count(field) FROM measurement [WHERE ...]`, 0 when there is nothing. */
  count(field: string, measurement: string, where?: string): Promise<number>;
  stop(): Promise<void>;
}

/** A real broker, store and influxd; with `inProcess`, an ingest worker built with createIngest. */
export async function startIngestStack(
  opts: { inProcess?: boolean; env?: Record<string, string> } = {},
): Promise<IngestStack> {
  const [tb, influx] = await Promise.all([
    startTestBroker({ throttle: { freeFailures: 1000 } }),
    startTestInflux(),
  ]);
  const config = loadIngestConfig(ingestEnv(tb, influx, opts.env));
  const log = pino({ level: config.LOG_LEVEL });
  const ingest =
    opts.inProcess === false
      ? undefined
      : createIngest({
          config,
          store: tb.store,
          log,
          serviceSecret: deriveServiceSecret(tb.serviceSecret, 'svc:ingest'),
        });
  await ingest?.start();
  const clients: MqttClient[] = [];
  return {
    tb,
    influx,
    ...(ingest ? { ingest } : {}),
    config,
    async device(d) {
      const p = await tb.store.devices.create(d);
      const client = await brokerClient(
        tb.url,
        p.token
          ? { clientId: p.token }
          : { username: d.id, password: p.secret!, clientId: `${d.id}/${clients.length}` },
      );
      clients.push(client);
      return client;
    },
    query: (q) => influxQuery(influx.url, influx.db, q),
    async count(field, measurement, where) {
      const series = await influxQuery(
        influx.url,
        influx.db,
        `SELECT count("${field}") FROM "${measurement}"${where ? ` WHERE ${where}` : ''}`,
      );
      return Number(series[0]?.values[0]?.[1] ?? 0);
    },
    async stop() {
      await Promise.all(clients.map((c) => c.endAsync(true)));
      await ingest?.stop();
      await tb.stop();
      await influx.close();
    },
  };
}

/** Polls `probe` until it returns something truthy; throws with `what` after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T> | T,
  timeoutMs = 10_000,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v as NonNullable<T>;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms (last: ${String(last)})`);
    await sleep(50);
  }
}

export interface IngestProcess {
  child: ChildProcess;
  /** Everything it logged, for a failing test to show. */
  output: string[];
  exited: Promise<number | null>;
  /** Signals the whole process group: npx, tsx and the node process running ingest. */
  kill(signal: NodeJS.Signals): void;
}

/** Ingest as it runs in production, `npx tsx ingest/src/main.ts`; resolves once it logged "ingest started". */
export async function spawnIngest(env: Record<string, string>, timeoutMs = 30_000): Promise<IngestProcess> {
  const child = spawn('npx', ['tsx', 'ingest/src/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, ...env, LOG_LEVEL: 'info', LOG_PRETTY: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, so that a signal reaches the node process under npx and tsx.
    detached: true,
  });
  const kill = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // already gone
    }
  };
  const output: string[] = [];
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  let started: () => void;
  const ready = new Promise<void>((r) => {
    started = r;
  });
  const collect = (b: Buffer) => {
    for (const line of b.toString().split('\n')) {
      if (!line.trim()) continue;
      output.push(line);
      if (line.includes('"ingest started"')) started();
    }
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const timer = setTimeout(() => kill('SIGKILL'), timeoutMs);
  const outcome = await Promise.race([ready.then(() => 'ready'), exited.then(() => 'exited')]);
  clearTimeout(timer);
  if (outcome !== 'ready') throw new Error(`ingest did not start:\n${output.join('\n')}`);
  return { child, output, exited, kill };
}
