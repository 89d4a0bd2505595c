// The whole system on one machine: influxd (unless INFLUX_URL is set), redis-server as the durable log
// (unless REDIS_URL is set, or DURABLE=0), broker, ingest, api and the firmware simulator, each its own
// process as in production. Logs go to DATA_DIR/logs; warnings and the simulator's progress reach the
// console. Ctrl-C stops everything, the simulator first, redis-server and influxd last.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type InfluxdHandle, startInfluxd } from './influxd.ts';
import { type AppendFsync, type RedisServerHandle, startRedisServer } from './redis-server.ts';

const root = resolve(import.meta.dirname, '..');
const env = process.env;
const dataDir = resolve(root, env.DATA_DIR ?? '.data');
const logDir = join(dataDir, 'logs');
mkdirSync(logDir, { recursive: true });

const apiPort = Number(env.API_PORT ?? 8080);
const mqttPort = Number(env.MQTT_PORT ?? 1883);

function adminToken(): string {
  if (env.BOOTSTRAP_ADMIN_TOKEN) return env.BOOTSTRAP_ADMIN_TOKEN;
  const file = join(dataDir, 'admin.token');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const token = randomBytes(24).toString('base64url');
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return token;
}

const portFree = (port: number) =>
  new Promise<boolean>((ok) => {
    const srv = createServer();
    srv.once('error', () => ok(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => ok(true)));
  });

async function freePortFrom(port: number): Promise<number> {
  for (let p = port; p < port + 100; p++) if (await portFree(p)) return p;
  throw new Error(`no free port from ${port}`);
}

const tcpOpen = (port: number) =>
  new Promise<boolean>((ok) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      ok(true);
    });
    s.once('error', () => ok(false));
  });

async function waitFor(what: string, check: () => Promise<boolean>, child?: ChildProcess, ms = 60_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`${what} exited with code ${child.exitCode}`);
    if (await check().catch(() => false)) return;
    await sleep(200);
  }
  throw new Error(`${what} not ready after ${ms / 1000} s`);
}

const LEVELS: Record<number, string> = { 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const time = () => new Date().toTimeString().slice(0, 8);

/** Console line for a child's log line: warnings and errors always, everything from the simulator. */
function consoleLine(name: string, line: string): string | undefined {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line);
  } catch {
    return name === 'firmware-sim' ? `${time()} [${name}] ${line}` : undefined;
  }
  const level = Number(rec.level ?? 30);
  if (level < 40 && name !== 'firmware-sim') return undefined;
  const { level: _l, time: _t, pid: _p, hostname: _h, name: _n, msg, ...rest } = rec;
  const extra = level >= 40 && Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : '';
  return `${time()} [${name}]${LEVELS[level] ? ` ${LEVELS[level]}` : ''} ${String(msg ?? '')}${extra}`;
}

const children: Array<{ name: string; child: ChildProcess }> = [];
let stopping = false;

function startProcess(name: string, childEnv: NodeJS.ProcessEnv, args: string[] = []): ChildProcess {
  const log = createWriteStream(join(logDir, `${name}.log`), { flags: 'a' });
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, name, 'src', 'main.ts'), ...args], {
    cwd: root,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
    // Own process group: Ctrl-C reaches only this orchestrator, which then stops the children in order
    // (simulator first, broker last), so none sees its peers vanish mid-flush.
    detached: true,
  });
  let tail: string[] = [];
  const onData = (b: Buffer) => {
    log.write(b);
    for (const line of b.toString().split('\n')) {
      if (!line.trim()) continue;
      tail = [...tail.slice(-19), line];
      const out = consoleLine(name, line);
      if (out) process.stdout.write(`${out}\n`);
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  child.on('exit', (code, signal) => {
    log.end();
    if (stopping) return;
    process.stderr.write(`\n[${name}] exited (${code ?? signal}). Last lines:\n${tail.join('\n')}\n`);
    void stopAll(1);
  });
  children.push({ name, child });
  return child;
}

let influx: InfluxdHandle | undefined;
let redis: RedisServerHandle | undefined;

async function stopAll(code: number) {
  if (stopping) return;
  stopping = true;
  process.stdout.write('\nstopping...\n');
  for (const { name, child } of [...children].reverse()) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    const done = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const t = setTimeout(() => {
      process.stderr.write(`[${name}] did not stop in 15 s, killing\n`);
      child.kill('SIGKILL');
    }, 15_000);
    await done;
    clearTimeout(t);
  }
  await redis?.stop();
  await influx?.stop();
  process.exit(code);
}

async function main() {
  // Children live in their own process groups; never leave them behind, even on an uncaught error.
  process.on('exit', () => {
    for (const { child } of children) if (child.exitCode === null) child.kill('SIGKILL');
    influx?.process.kill('SIGKILL');
    redis?.process.kill('SIGKILL');
  });
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));

  for (const [what, port] of [
    ['API_PORT', apiPort],
    ['MQTT_PORT', mqttPort],
  ] as const) {
    if (!(await portFree(port)))
      throw new Error(`port ${port} (${what}) is in use: stop what holds it or set ${what}`);
  }

  let influxUrl = env.INFLUX_URL;
  if (!influxUrl) {
    const httpPort = await freePortFrom(Number(env.INFLUX_PORT ?? 8086));
    const influxLog = createWriteStream(join(logDir, 'influxd.log'), { flags: 'a' });
    influx = await startInfluxd({
      dir: join(dataDir, 'influxdb'),
      httpPort,
      rpcPort: await freePortFrom(httpPort + 2),
      database: env.INFLUX_DB ?? 'telemetry',
      onLog: (l) => influxLog.write(`${l}\n`),
      detached: true,
    });
    influxUrl = influx.url;
  }

  // The durable log: every reading the broker acknowledges is in this Redis (append-only file under
  // DATA_DIR/redis) before its PUBACK; sessions and retained messages live there too. One broker, so its
  // deliveries stay in memory (BROKER_EMITTER=memory).
  let redisUrl = env.REDIS_URL;
  const durable = env.DURABLE !== '0';
  if (!redisUrl && durable) {
    const redisLog = createWriteStream(join(logDir, 'redis-server.log'), { flags: 'a' });
    const fsync = (env.REDIS_APPENDFSYNC ?? 'always') as AppendFsync;
    if (fsync !== 'always' && fsync !== 'everysec')
      throw new Error(`REDIS_APPENDFSYNC must be always or everysec, not ${fsync}`);
    redis = await startRedisServer({
      dir: join(dataDir, 'redis'),
      port: await freePortFrom(Number(env.REDIS_PORT ?? 6379)),
      appendfsync: fsync,
      onLog: (l) => redisLog.write(`${l}\n`),
      detached: true,
    });
    redisUrl = redis.url;
  }

  const token = adminToken();
  const common: NodeJS.ProcessEnv = {
    ...env,
    DATA_DIR: dataDir,
    INFLUX_URL: influxUrl,
    API_PORT: String(apiPort),
    MQTT_PORT: String(mqttPort),
    BOOTSTRAP_ADMIN_TOKEN: token,
    LOG_PRETTY: '0',
    ...(redisUrl ? { REDIS_URL: redisUrl, BROKER_EMITTER: env.BROKER_EMITTER ?? 'memory' } : {}),
  };

  const broker = startProcess('broker', common);
  await waitFor('broker', () => tcpOpen(mqttPort), broker);
  const ingest = existsSync(join(root, 'ingest', 'src', 'main.ts'))
    ? startProcess('ingest', common)
    : undefined;
  const api = startProcess('api', common);
  await waitFor('api', async () => (await fetch(`http://127.0.0.1:${apiPort}/healthz`)).ok, api);
  if (ingest) await sleep(500);
  startProcess('firmware-sim', common, process.argv.slice(2));

  const url = `http://localhost:${apiPort}/`;
  process.stdout.write(
    [
      '',
      '  citytel is running.',
      `  Dashboard:     ${url}`,
      `  API docs:      ${url}docs`,
      `  MQTT broker:   mqtt://localhost:${mqttPort}`,
      `  InfluxDB:      ${influxUrl} (database ${env.INFLUX_DB ?? 'telemetry'})`,
      `  Durable log:   ${redisUrl ? `${redisUrl}${redis ? ` (append-only file in ${redis.dir}, appendfsync ${env.REDIS_APPENDFSYNC ?? 'always'})` : ''}` : 'none (DURABLE=0: a broker crash loses what ingest has not written)'}`,
      `  Admin token:   ${env.BOOTSTRAP_ADMIN_TOKEN ? '(BOOTSTRAP_ADMIN_TOKEN)' : join(dataDir, 'admin.token')}`,
      `  Logs:          ${logDir}`,
      '  Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
}

main().catch(async (e) => {
  process.stderr.write(`npm start failed: ${(e as Error).message}\n`);
  await stopAll(1);
});
