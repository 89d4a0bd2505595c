import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ensureMosquitto } from '../../ingest/bench/install.ts';
import { freePort } from '../../test/helpers/ports.ts';
import type { FromBroker, Measured, ToBroker } from './broker-process.ts';
import { exited, nextMessage, rssOf, spawnBenchNode } from './processes.ts';
import type { Credentials } from './provision.ts';

/** Memory of a broker process at one moment; `js` (heap used + external) only where there is a JS heap. */
export interface Memory {
  rss: number;
  js?: number;
  clients?: number;
}

export interface BrokerUnderTest {
  name: string;
  url: string;
  measure(): Promise<Memory>;
  stop(): Promise<void>;
}

/** Our broker (`citytel`) or bare Aedes (`aedes`) in broker-process.ts, measured after GC over IPC. */
export async function nodeBroker(
  name: string,
  mode: 'citytel' | 'aedes',
  env: Record<string, string>,
): Promise<BrokerUnderTest> {
  const child = spawnBenchNode(
    'broker-process.ts',
    [mode],
    { LOG_LEVEL: 'warn', MQTT_PORT: '0', ...env },
    true,
  );
  const ready = await nextMessage<Extract<FromBroker, { type: 'ready' }>>(child, 'ready', 60_000);
  const send = (m: ToBroker) => child.send(m);
  return {
    name,
    url: `mqtt://127.0.0.1:${ready.port}`,
    async measure() {
      const answer = nextMessage<Measured>(child, 'memory', 30_000);
      send({ type: 'measure' });
      const m = await answer;
      return { rss: m.rss, js: m.heapUsed + m.external, clients: m.clients };
    },
    async stop() {
      send({ type: 'stop' });
      await exited(child);
      if (child.exitCode !== 0)
        console.log(`  ${name}: the broker exited with ${child.exitCode ?? child.signalCode}`);
    },
  };
}

/**
 * The C peer: Mosquitto 2 with a password file holding the same devices (its own PBKDF2 hashes), no
 * persistence, defaults otherwise. Memory is its resident set, from /proc.
 */
export async function mosquittoBroker(dir: string, devices: Credentials[]): Promise<BrokerUnderTest> {
  const MOSQUITTO = ensureMosquitto();
  const passwords = join(dir, 'mosquitto.passwd');
  writeFileSync(passwords, devices.map((d) => `${d.id}:${d.secret}\n`).join(''), { mode: 0o600 });
  execFileSync('mosquitto_passwd', ['-U', passwords]);
  const port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous false',
      `password_file ${passwords}`,
      'persistence false',
      // as root Mosquitto would switch to its own user, which cannot read the bench's private folder
      ...(process.getuid?.() === 0 ? ['user root'] : []),
      'log_dest stderr',
      'log_type error',
      '',
    ].join('\n'),
  );
  // `mosquitto -h` prints the version and exits with 3
  const version = spawnSync(MOSQUITTO, ['-h'], { encoding: 'utf8' }).stdout?.match(/version ([\d.]+)/)?.[1];
  const child = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'ignore', 'inherit'] });
  const deadline = Date.now() + 15_000;
  while (!(await accepts(port))) {
    if (child.exitCode !== null) throw new Error(`mosquitto exited with ${child.exitCode}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error('mosquitto did not listen within 15 s');
    }
    await sleep(50);
  }
  return {
    name: `Mosquitto ${version ?? '2'} (peer)`,
    url: `mqtt://127.0.0.1:${port}`,
    measure: async () => ({ rss: rssOf(child.pid!) }),
    async stop() {
      child.kill('SIGTERM');
      await exited(child);
    },
  };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ port, host: '127.0.0.1' });
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}
