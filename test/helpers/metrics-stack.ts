import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { topics } from '@citytel/contract';
import mqtt from 'mqtt';
import { startTestInflux } from './influx.ts';
import { eventually, type IngestProcess, spawnIngest } from './ingest.ts';
import { freePort } from './ports.ts';
import { tempDir } from './tmp.ts';

const ROOT = resolve(import.meta.dirname, '../..');

interface Running {
  child: ChildProcess;
  output: string[];
  kill(signal: NodeJS.Signals): void;
  exited: Promise<number | null>;
}

/** `npx tsx {dir}/src/main.ts` in its own process group; resolves once it logged `ready`. */
async function spawnMain(dir: string, env: Record<string, string>, ready: string): Promise<Running> {
  const child = spawn('npx', ['tsx', `${dir}/src/main.ts`], {
    cwd: ROOT,
    env: { ...process.env, ...env, LOG_LEVEL: 'info', LOG_PRETTY: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
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
  let started!: () => void;
  const seen = new Promise<void>((r) => {
    started = r;
  });
  const collect = (b: Buffer) => {
    for (const line of b.toString().split('\n')) {
      if (!line.trim()) continue;
      output.push(line);
      if (line.includes(ready)) started();
    }
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const timer = setTimeout(() => kill('SIGKILL'), 60_000);
  const outcome = await Promise.race([seen.then(() => 'ready'), exited.then(() => 'exited')]);
  clearTimeout(timer);
  if (outcome !== 'ready') throw new Error(`${dir} did not start:\n${output.join('\n')}`);
  return { child, output, kill, exited };
}

export interface MetricsStack {
  /** `http://127.0.0.1:{port}/metrics` of each process. */
  metricsUrl: { broker: string; ingest: string; api: string };
  scrape(process: 'broker' | 'ingest' | 'api'): Promise<{ contentType: string | null; text: string }>;
  /** The influxd ingest writes to. */
  influx: { url: string; db: string };
  stop(): Promise<void>;
}

/**
 * Broker, ingest and api as they run in production (their main.ts, each its own process, METRICS_PORT set
 * on broker and ingest), on a real influxd, with traffic behind them: one kit's good readings and a
 * malformed message, so every family that counts by label has a sample.
 */
export async function startMetricsStack(): Promise<MetricsStack> {
  const tmp = tempDir('citytel-metrics-');
  const influx = await startTestInflux();
  const [mqttPort, brokerMetrics, ingestMetrics, apiPort] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  const adminToken = 'metrics-test-admin-token-0123456789';
  const common = {
    DATA_DIR: tmp.dir,
    MQTT_SERVICE_SECRET: 'metrics-test-service-secret',
    MQTT_PORT: String(mqttPort),
    MQTT_HOST: '127.0.0.1',
    INFLUX_URL: influx.url,
    INFLUX_DB: influx.db,
  };
  const running: Array<{ kill(s: NodeJS.Signals): void; exited: Promise<number | null> }> = [];
  const stop = async () => {
    for (const p of running.reverse()) p.kill('SIGTERM');
    await Promise.all(
      running.map((p) => Promise.race([p.exited, new Promise((r) => setTimeout(r, 15_000))])),
    );
    for (const p of running) p.kill('SIGKILL');
    await influx.close();
    tmp.cleanup();
  };
  try {
    running.push(
      await spawnMain(
        'broker',
        {
          ...common,
          METRICS_PORT: String(brokerMetrics),
          BROKER_ID: 'metrics-broker',
          STATS_INTERVAL_MS: '200',
        },
        'metrics listening',
      ),
    );
    const ingest: IngestProcess = await spawnIngest({
      ...common,
      METRICS_PORT: String(ingestMetrics),
      INGEST_ID: 'metrics-ingest',
      INGEST_FLUSH_MS: '20',
      INGEST_STATS_MS: '200',
    });
    running.push(ingest);
    running.push(
      await spawnMain(
        'api',
        { ...common, API_PORT: String(apiPort), BOOTSTRAP_ADMIN_TOKEN: adminToken, DASHBOARD_DIR: tmp.dir },
        'api listening',
      ),
    );

    const api = `http://127.0.0.1:${apiPort}`;
    const created = await fetch(`${api}/api/v1/devices`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'metrics-kit', kind: 'native', lat: 48.111, lon: -1.68 }),
    });
    if (created.status !== 201) throw new Error(`provisioning: ${created.status} ${await created.text()}`);
    const { secret } = (await created.json()) as { secret: string };
    const kit = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, {
      username: 'metrics-kit',
      password: secret,
      reconnectPeriod: 0,
    });
    try {
      for (let i = 0; i < 5; i++)
        await kit.publishAsync(
          topics.sensorReadings('metrics-kit'),
          JSON.stringify({ pm25: 8 + i, noise_laeq: 55 }),
          {
            qos: 1,
          },
        );
      await kit.publishAsync(topics.sensorReadings('metrics-kit'), 'not json', { qos: 1 });
    } finally {
      await kit.endAsync();
    }
  } catch (err) {
    await stop();
    throw err;
  }

  const metricsUrl = {
    broker: `http://127.0.0.1:${brokerMetrics}/metrics`,
    ingest: `http://127.0.0.1:${ingestMetrics}/metrics`,
    api: `http://127.0.0.1:${apiPort}/metrics`,
  };
  const scrape = async (p: keyof typeof metricsUrl) => {
    const r = await fetch(metricsUrl[p]);
    if (r.status !== 200) throw new Error(`${p} /metrics: ${r.status}`);
    return { contentType: r.headers.get('content-type'), text: await r.text() };
  };
  // Ingest wrote the readings and counted the rejection, and the api heard both processes' figures after
  // that (a relayed family is there from the first stats message, with whatever was counted by then).
  await eventually(
    'readings written and relayed',
    async () => {
      const written = /^citytel_ingest_points_written_total ([0-9.e+]+)/m.exec((await scrape('ingest')).text);
      if (!written || Number(written[1]) === 0) return false;
      const api = (await scrape('api')).text;
      return (
        api.includes(`citytel_ingest_points_written_total{instance="metrics-ingest"} ${written[1]}`) &&
        /citytel_ingest_messages_rejected_total\{[^}]*instance="metrics-ingest"/.test(api) &&
        api.includes('citytel_broker_clients{instance="metrics-broker"}')
      );
    },
    30_000,
  );
  return { metricsUrl, scrape, influx: { url: influx.url, db: influx.db }, stop };
}

export interface Family {
  name: string;
  type: string;
  help: string;
  samples: Array<{ name: string; labels: Record<string, string>; value: number }>;
}

/** Prometheus text exposition 0.0.4, read strictly enough for the tests: families by name. */
export function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const family = (name: string) => {
    let f = families.get(name);
    if (!f) {
      f = { name, type: 'untyped', help: '', samples: [] };
      families.set(name, f);
    }
    return f;
  };
  let current: Family | undefined;
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      current = family(meta[2]!);
      if (meta[1] === 'TYPE') current.type = meta[3]!;
      else current.help = meta[3]!;
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1]!] = l[2]!;
    const name = m[1]!;
    // a histogram's or summary's lines belong to the family whose TYPE came before them
    const owner =
      current && (name === current.name || name.startsWith(`${current.name}_`)) ? current : family(name);
    owner.samples.push({ name, labels, value: Number(m[3]) });
  }
  return families;
}
