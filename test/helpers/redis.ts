import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './ports.ts';

export interface TestRedis {
  url: string;
  port: number;
  process: ChildProcess;
  /** Stops redis-server and removes its folder. */
  close(): Promise<void>;
}

/**
 * A real redis-server (Debian's `redis-server`) on a free loopback port, in a folder of its own, with no
 * persistence: the harness starts it, so the tests need no system service.
 */
export async function startTestRedis(): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'citytel-redis-'));
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let exited: number | null = null;
  child.once('exit', (code) => {
    exited = code ?? -1;
  });
  const deadline = Date.now() + 15_000;
  while (!(await answersPing(port))) {
    if (exited !== null) throw new Error(`redis-server exited with code ${exited}`);
    if (Date.now() > deadline) throw new Error('redis-server did not start within 15 s');
    await sleep(50);
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    process: child,
    async close() {
      if (exited === null) {
        const gone = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await Promise.race([gone, sleep(5000).then(() => child.kill('SIGKILL'))]);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ port, host: '127.0.0.1' });
    sock.once('error', () => resolve(false));
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.once('data', (b) => {
      sock.destroy();
      resolve(b.toString().startsWith('+PONG'));
    });
  });
}
