import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { type NativeReading, serviceClientId, topics } from '@citytel/contract';
import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import type { Credentials } from './provision.ts';
import { hashUnit } from './rng.ts';

/**
 * Benchmark mode: a fixed number of native readings pushed as fast as the broker takes them, over C
 * connections as the `svc:sim` gateway (or one connection per provisioned device), in batches of B
 * readings per message, with at most `inflight` unacknowledged messages per connection. Reports the
 * rate and, at QoS 1, the PUBACK latency.
 */

export interface LoadOptions {
  mqttUrl: string;
  /** Devices the readings are spread over (gateway mode); per-device mode uses `auth.credentials`. */
  devices: number;
  connections: number;
  qos: 0 | 1;
  /** Readings per message; 1 sends a bare reading, more a `{"readings":[...]}` batch. */
  batch: number;
  /** Readings in all. */
  total: number;
  /** Unacknowledged messages allowed per connection. */
  inflight: number;
  /** Device id prefix of the gateway's devices: `{prefix}-load-00001`. */
  prefix: string;
  auth:
    | { mode: 'gateway'; username: string; password: string }
    | { mode: 'per-device'; credentials: Credentials[] };
  log?: Logger;
  seed?: number;
  now?: () => number;
}

export interface LatencySummary {
  count: number;
  meanMs: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface LoadResult {
  messages: number;
  readings: number;
  errors: number;
  connections: number;
  connectMs: number;
  seconds: number;
  messagesPerSec: number;
  readingsPerSec: number;
  /** PUBACK round trips at QoS 1; null at QoS 0, which has none. */
  puback: LatencySummary | null;
}

export const loadDeviceId = (prefix: string, i: number) => `${prefix}-load-${String(i + 1).padStart(5, '0')}`;

/**
 * The `svc:sim` password, found as the store's resolveServiceSecret finds it: MQTT_SECRET_SIM, else derived
 * from the older shared MQTT_SERVICE_SECRET (HMAC-SHA256 of the account name), else the file the platform
 * made under DATA_DIR (never created here).
 */
export function readServiceSecret(
  dataDir: string,
  env: { own?: string | undefined; shared?: string | undefined },
): string {
  if (env.own) return env.own;
  if (env.shared) return createHmac('sha256', env.shared).update('svc:sim').digest('base64url');
  const file = join(dataDir, 'service-secrets', 'sim.secret');
  try {
    const s = readFileSync(file, 'utf8').trim();
    if (s) return s;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  throw new Error(`no svc:sim secret: set MQTT_SECRET_SIM or start the broker first (it writes ${file})`);
}

export function summarize(samples: number[]): LatencySummary | null {
  if (samples.length === 0) return null;
  const s = Float64Array.from(samples).sort();
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  const round = (x: number) => Math.round(x * 1000) / 1000;
  let sum = 0;
  for (const x of s) sum += x;
  return {
    count: s.length,
    meanMs: round(sum / s.length),
    p50Ms: round(at(0.5)),
    p95Ms: round(at(0.95)),
    p99Ms: round(at(0.99)),
    maxMs: round(s[s.length - 1]!),
  };
}

interface Job {
  topic: string;
  payload: string;
  readings: number;
}

/** Message k of the run: device k mod N, its readings one second apart, all in the recent past. */
function buildJobs(opts: LoadOptions, deviceIds: string[], baseMs: number): Job[][] {
  const per = opts.auth.mode === 'per-device' ? deviceIds.length : opts.connections;
  const queues: Job[][] = Array.from({ length: per }, () => []);
  const counters = new Array<number>(deviceIds.length).fill(0);
  const seed = opts.seed ?? 1;
  let left = opts.total;
  for (let k = 0; left > 0; k++) {
    const d = k % deviceIds.length;
    const n = Math.min(opts.batch, left);
    left -= n;
    const readings: NativeReading[] = [];
    for (let j = 0; j < n; j++) {
      const i = counters[d]!++;
      const u = hashUnit(seed, d, i);
      const pm25 = Math.round((4 + 20 * u) * 10) / 10;
      readings.push({
        ts: new Date(baseMs + i * 1000).toISOString(),
        pm25,
        pm10: Math.round(pm25 * 15) / 10,
        noise_laeq: Math.round((45 + 20 * u) * 10) / 10,
        temperature: Math.round((10 + 8 * u) * 100) / 100,
      });
    }
    const payload = opts.batch === 1 ? JSON.stringify(readings[0]) : JSON.stringify({ readings });
    const q = opts.auth.mode === 'per-device' ? d : k % opts.connections;
    queues[q]!.push({ topic: topics.sensorReadings(deviceIds[d]!), payload, readings: n });
  }
  return queues;
}

export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const log = opts.log?.child({ component: 'load' });
  const now = opts.now ?? Date.now;
  const deviceIds =
    opts.auth.mode === 'per-device'
      ? opts.auth.credentials.map((c) => c.id)
      : Array.from({ length: Math.max(1, opts.devices) }, (_, i) => loadDeviceId(opts.prefix, i));
  const perDeviceReadings = Math.ceil(opts.total / deviceIds.length);
  const queues = buildJobs(opts, deviceIds, now() - (perDeviceReadings + 60) * 1000);

  const t0 = performance.now();
  const clients: MqttClient[] = await Promise.all(
    queues.map((_, i) => {
      const auth =
        opts.auth.mode === 'gateway'
          ? {
              username: opts.auth.username,
              password: opts.auth.password,
              clientId: serviceClientId('svc:sim', `${opts.prefix}-load-gw-${i}-${process.pid}`),
            }
          : {
              username: opts.auth.credentials[i]!.id,
              password: opts.auth.credentials[i]!.secret ?? '',
              clientId: `${opts.auth.credentials[i]!.id}/load`,
            };
      return mqtt.connectAsync(opts.mqttUrl, {
        ...auth,
        clean: true,
        reconnectPeriod: 0,
        connectTimeout: 30_000,
      });
    }),
  );
  const connectMs = performance.now() - t0;
  log?.info({ connections: clients.length, connectMs: Math.round(connectMs) }, 'load connections up');

  const latencies: number[] = [];
  let messages = 0;
  let readings = 0;
  let errors = 0;

  async function drive(client: MqttClient, jobs: Job[]): Promise<void> {
    const inflight = new Set<Promise<void>>();
    for (const job of jobs) {
      while (inflight.size >= opts.inflight) await Promise.race(inflight);
      const sent = performance.now();
      const p: Promise<void> = client
        .publishAsync(job.topic, job.payload, { qos: opts.qos })
        .then(() => {
          if (opts.qos === 1) latencies.push(performance.now() - sent);
          messages++;
          readings += job.readings;
        })
        .catch(() => {
          errors++;
        })
        .finally(() => inflight.delete(p));
      inflight.add(p);
    }
    await Promise.all(inflight);
  }

  const start = performance.now();
  let seconds: number;
  try {
    await Promise.all(clients.map((c, i) => drive(c, queues[i]!)));
  } finally {
    seconds = (performance.now() - start) / 1000;
    await Promise.all(clients.map((c) => c.endAsync().catch(() => undefined)));
  }
  const result: LoadResult = {
    messages,
    readings,
    errors,
    connections: clients.length,
    connectMs: Math.round(connectMs),
    seconds: Math.round(seconds * 1000) / 1000,
    messagesPerSec: Math.round(messages / seconds),
    readingsPerSec: Math.round(readings / seconds),
    puback: opts.qos === 1 ? summarize(latencies) : null,
  };
  log?.info(result, 'load run done');
  return result;
}

/**
 * Registers the load devices (`{prefix}-load-00001`…) as fixed native kits through the provisioner, a
 * few at a time (each costs the api one scrypt hash), and returns their credentials. The state file
 * keeps them, so a second benchmark run starts at once.
 */
export async function provisionLoadDevices(
  provisioner: {
    ensure(req: {
      id: string;
      kind: 'native';
      name?: string;
      lat?: number;
      lon?: number;
    }): Promise<Credentials>;
  },
  opts: { prefix: string; devices: number; centre: { lat: number; lon: number }; concurrency?: number },
): Promise<Credentials[]> {
  const out = new Array<Credentials>(opts.devices);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < opts.devices; i = next++) {
      out[i] = await provisioner.ensure({
        id: loadDeviceId(opts.prefix, i),
        kind: 'native',
        name: `Load test kit ${i + 1}`,
        lat: Math.round((opts.centre.lat + ((i % 100) - 50) * 0.0004) * 1e6) / 1e6,
        lon: Math.round((opts.centre.lon + (Math.floor(i / 100) % 100) * 0.0006 - 0.03) * 1e6) / 1e6,
      });
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency ?? 8 }, worker));
  return out;
}
