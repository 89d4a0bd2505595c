import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Starts a private InfluxDB 1.x (`influxd` from Debian's `influxdb` package) under a folder of its own, on
 * loopback ports, for `npm start` and the tests. The stock config binds its RPC port to :8088 on all
 * addresses; two instances side by side need their own, so every port is chosen here.
 */
export interface InfluxdHandle {
  url: string;
  httpPort: number;
  dir: string;
  process: ChildProcess;
  stop(): Promise<void>;
  /** Stops and starts the same data folder again (for outage tests). */
  restart(): Promise<void>;
}

export async function startInfluxd(opts: {
  dir: string;
  httpPort: number;
  rpcPort: number;
  database?: string;
  /** HTTP auth on (`auth-enabled`): the first statement must create an admin user. */
  auth?: boolean;
  binary?: string;
  onLog?: (line: string) => void;
  /** Own process group, so a terminal's Ctrl-C reaches only the caller, which stops influxd last. */
  detached?: boolean;
}): Promise<InfluxdHandle> {
  const dir = resolve(opts.dir);
  mkdirSync(dir, { recursive: true });
  const conf = join(dir, 'influxdb.conf');
  writeFileSync(
    conf,
    `reporting-disabled = true
bind-address = "127.0.0.1:${opts.rpcPort}"
[meta]
  dir = "${join(dir, 'meta')}"
[data]
  dir = "${join(dir, 'data')}"
  wal-dir = "${join(dir, 'wal')}"
  query-log-enabled = false
  wal-fsync-delay = "0s"
  max-values-per-tag = 0
  max-series-per-database = 0
[coordinator]
  query-timeout = "60s"
[monitor]
  store-enabled = false
[http]
  bind-address = "127.0.0.1:${opts.httpPort}"
  log-enabled = false
  max-body-size = 0
  auth-enabled = ${opts.auth ? 'true' : 'false'}
[logging]
  level = "warn"
[continuous_queries]
  enabled = true
  run-interval = "10s"
`,
  );
  const url = `http://127.0.0.1:${opts.httpPort}`;
  let child: ChildProcess;
  const launch = async () => {
    child = spawn(opts.binary ?? 'influxd', ['-config', conf], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: opts.detached ?? false,
    });
    const forward = (b: Buffer) => {
      for (const line of b.toString().split('\n')) if (line.trim()) opts.onLog?.(line);
    };
    child.stdout?.on('data', forward);
    child.stderr?.on('data', forward);
    let exited: number | null = null;
    child.once('exit', (code) => {
      exited = code ?? -1;
    });
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (exited !== null) throw new Error(`influxd exited with code ${exited} (config ${conf})`);
      try {
        const r = await fetch(`${url}/ping`);
        if (r.status === 204) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`influxd did not answer on ${url} within 30 s`);
      await sleep(100);
    }
    if (opts.database) {
      const r = await fetch(`${url}/query`, {
        method: 'POST',
        body: new URLSearchParams({ q: `CREATE DATABASE "${opts.database}"` }),
      });
      if (!r.ok) throw new Error(`CREATE DATABASE failed: ${r.status} ${await r.text()}`);
    }
  };
  const stop = async () => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const done = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await done;
    clearTimeout(timer);
  };
  await launch();
  return {
    url,
    httpPort: opts.httpPort,
    dir,
    get process() {
      return child;
    },
    stop,
    async restart() {
      await stop();
      await launch();
    },
  };
}
