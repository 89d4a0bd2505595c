import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');

export interface NodeProcess {
  child: ChildProcess;
  /** CPU seconds (user + system) the process used so far. */
  cpu(): number;
  output: string[];
  /** Resolves once a log line contains `text`; rejects if the process exits first. */
  logged(text: string, timeoutMs?: number): Promise<void>;
  /** SIGTERM, then waits for the exit (a --cpu-prof profile is written on exit). */
  stop(): Promise<void>;
}

/**
 * Runs one of our entry points in a node process of its own (tsx as a loader, no npx in between), so each
 * part of the benchmark has its own event loop and core share, as in production. With `profileDir`, the
 * process runs under --cpu-prof.
 */
export function spawnNode(
  entry: string,
  env: Record<string, string>,
  opts: { profileDir?: string | undefined; name: string },
): NodeProcess {
  const args = ['--import', 'tsx'];
  // One file per thread (tsx's loader runs in a worker of its own): a folder per process, names by default.
  if (opts.profileDir) args.push('--cpu-prof', `--cpu-prof-dir=${join(opts.profileDir, opts.name)}`);
  return spawnProgram(process.execPath, [...args, entry], { LOG_PRETTY: '0', ...env }, opts.name);
}

/**
 * Our broker (`broker/src/main.ts`) on 127.0.0.1:`port` with the bench store under `storeDir`, started and
 * listening; `env` adds or overrides variables.
 */
export async function spawnBroker(opts: {
  port: number;
  storeDir: string;
  serviceSecret: string;
  name?: string;
  env?: Record<string, string>;
  profileDir?: string | undefined;
}): Promise<NodeProcess> {
  const proc = spawnNode(
    'broker/src/main.ts',
    {
      MQTT_PORT: String(opts.port),
      MQTT_HOST: '127.0.0.1',
      DATA_DIR: opts.storeDir,
      MQTT_SERVICE_SECRET: opts.serviceSecret,
      // the benches publish as the svc:sim gateway
      MQTT_ALLOW_SIM: 'true',
      BROKER_ID: 'bench',
      LOG_LEVEL: 'info',
      ...opts.env,
    },
    { profileDir: opts.profileDir, name: opts.name ?? 'broker' },
  );
  try {
    await proc.logged('"broker listening"');
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return proc;
}

/** Any program (the peers' Mosquitto and Node-RED), its output collected and watched the same way. */
export function spawnProgram(
  command: string,
  argv: string[],
  env: Record<string, string>,
  name: string,
): NodeProcess {
  const opts = { name };
  const child = spawn(command, argv, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const watchers: Array<{ text: string; resolve: () => void }> = [];
  // A missing program is an 'error' event (spawn ENOENT) and no 'exit': said as an exit, never thrown.
  const exited = new Promise<number | null>((r) => {
    child.once('exit', (code) => r(code));
    child.once('error', (err) => {
      output.push(`${name}: could not start ${command}: ${err.message}`);
      r(-1);
    });
  });
  const collect = (b: Buffer) => {
    for (const line of b.toString().split('\n')) {
      if (!line.trim()) continue;
      output.push(line);
      if (output.length > 2000) output.shift();
      for (const w of watchers.filter((w) => line.includes(w.text))) w.resolve();
    }
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  return {
    child,
    cpu: () => cpuSeconds(child.pid),
    output,
    logged(text, timeoutMs = 60_000) {
      if (output.some((l) => l.includes(text))) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`${opts.name}: no "${text}" within ${timeoutMs} ms`)),
          timeoutMs,
        );
        watchers.push({
          text,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
        exited.then((code) =>
          reject(
            new Error(`${opts.name} exited (${code}) before "${text}":\n${output.slice(-20).join('\n')}`),
          ),
        );
      });
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** CPU seconds (user + system) of a process, from /proc (Linux); 0 where there is none. */
export function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}
