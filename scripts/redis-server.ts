import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Starts a private redis-server (Debian's `redis-server` package) under a folder of its own, on a loopback
 * port, as the durable log of the one-machine set-up (`npm start`), the benches and the tests: the ingest
 * stream every accepted reading is appended to before its PUBACK, and the broker's sessions and retained
 * messages.
 *
 * Append-only file on, RDB snapshots off (the AOF alone is the truth; Redis 7 rewrites it in the
 * background as it grows). What a power cut or an OS crash loses depends on `appendfsync`:
 * - `always`: nothing a client was answered for; Redis writes and fsyncs the AOF before it sends the
 *   replies of each event-loop turn (one fsync covers every command of the turn, pipelined appends
 *   included).
 * - `everysec`: up to about the last second (two in the worst case, when the disk is slow) of acknowledged
 *   appends; the kernel holds them, so a killed redis-server (SIGKILL, OOM) loses nothing, only a power cut
 *   or a kernel crash does.
 */
export type AppendFsync = 'always' | 'everysec';

export interface RedisServerHandle {
  url: string;
  port: number;
  dir: string;
  readonly process: ChildProcess;
  stop(): Promise<void>;
  /** SIGKILLs the process (chaos and crash tests); `start()` brings the same folder back. */
  kill(): Promise<void>;
  start(): Promise<void>;
}

export async function startRedisServer(opts: {
  dir: string;
  port: number;
  appendfsync?: AppendFsync;
  binary?: string;
  onLog?: (line: string) => void;
  /** Own process group, so a terminal's Ctrl-C reaches only the caller, which stops redis-server last. */
  detached?: boolean;
}): Promise<RedisServerHandle> {
  const dir = resolve(opts.dir);
  mkdirSync(dir, { recursive: true });
  const conf = join(dir, 'redis.conf');
  writeFileSync(
    conf,
    `bind 127.0.0.1
port ${opts.port}
protected-mode yes
dir ${dir}
save ""
appendonly yes
appenddirname appendonly
appendfsync ${opts.appendfsync ?? 'always'}
aof-use-rdb-preamble yes
# the ingest stream is trimmed by the ingest workers; memory is never evicted
maxmemory-policy noeviction
loglevel warning
logfile ""
`,
  );
  const url = `redis://127.0.0.1:${opts.port}`;
  let child: ChildProcess | undefined;
  const exited = (c: ChildProcess | undefined) => !c || c.exitCode !== null || c.signalCode !== null;

  const start = async () => {
    if (!exited(child)) return;
    const c = spawn(opts.binary ?? 'redis-server', [conf], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: opts.detached ?? false,
    });
    child = c;
    let spawnError: Error | undefined;
    c.once('error', (err) => {
      spawnError = err;
    });
    const forward = (b: Buffer) => {
      for (const line of b.toString().split('\n')) if (line.trim()) opts.onLog?.(line);
    };
    c.stdout?.on('data', forward);
    c.stderr?.on('data', forward);
    // Loading a large AOF takes a while: LOADING answers until it is in memory.
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (spawnError) throw new Error(`redis-server could not start: ${spawnError.message}`);
      if (exited(c)) throw new Error(`redis-server exited with code ${c.exitCode} (config ${conf})`);
      if (await answersPing(opts.port)) return;
      if (Date.now() > deadline) throw new Error(`redis-server did not answer on ${url} within 60 s`);
      await sleep(50);
    }
  };
  const stopWith = async (signal: NodeJS.Signals) => {
    const c = child;
    if (!c || exited(c)) return;
    const done = new Promise((r) => c.once('exit', r));
    c.kill(signal);
    const timer = setTimeout(() => c.kill('SIGKILL'), 10_000);
    await done;
    clearTimeout(timer);
  };
  await start();
  return {
    url,
    port: opts.port,
    dir,
    get process() {
      return child!;
    },
    stop: () => stopWith('SIGTERM'),
    kill: () => stopWith('SIGKILL'),
    start,
  };
}

/** True when Redis answers PING with PONG (not LOADING, not refused). */
export function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ port, host: '127.0.0.1' });
    const timer = setTimeout(() => {
      sock.destroy();
      resolve(false);
    }, 2000);
    sock.once('error', () => {
      clearTimeout(timer);
      resolve(false);
    });
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.once('data', (b) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(b.toString().startsWith('+PONG'));
    });
  });
}
