import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');

/** A node child running one of the bench entry points through tsx, with an IPC channel. */
export function spawnBenchNode(entry: string, args: string[], env: Record<string, string>, gc = false) {
  const child = spawn(
    process.execPath,
    [...(gc ? ['--expose-gc'] : []), '--import', 'tsx', resolve(import.meta.dirname, entry), ...args],
    { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  );
  return child;
}

/** The next IPC message of `type` from the child; rejects if it exits first or the time runs out. */
export function nextMessage<T extends { type: string }>(
  child: ChildProcess,
  type: T['type'],
  timeoutMs: number,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`no "${type}" within ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (m: T) => {
      if (m.type === type) finish(undefined, m);
    };
    const onExit = (code: number | null) => finish(new Error(`exited (${code}) before "${type}"`));
    function finish(err?: Error, m?: T) {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(m!);
    }
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

/** Waits for the exit; SIGKILL after `timeoutMs`. */
export async function exited(child: ChildProcess, timeoutMs = 15_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((r) => child.once('exit', () => r()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  await gone;
  clearTimeout(timer);
}

/** Resident memory of any process, from /proc (Linux), in bytes. */
export function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/** This process's soft limit on open files (each side of each connection holds one). */
export function openFilesLimit(): number {
  const m = /Max open files\s+(\d+|unlimited)/.exec(readFileSync('/proc/self/limits', 'utf8'));
  return !m || m[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(m[1]);
}
