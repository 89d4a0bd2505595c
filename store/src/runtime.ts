import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';

/** JSON lines on stdout; on a terminal, one pretty line per entry unless LOG_PRETTY=0. */
export function createLogger(name: string, level: string = process.env.LOG_LEVEL ?? 'info'): Logger {
  const pretty = process.stdout.isTTY && process.env.LOG_PRETTY !== '0';
  if (!pretty) return pino({ name, level });
  return pino({
    name,
    level,
    transport: {
      target: 'pino-pretty',
      options: { singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' },
    },
  });
}

/**
 * The password of the platform's MQTT service accounts (svc:ingest, svc:api, svc:sim): the variable
 * when given, else `${dataDir}/service.secret`, created on first use. Broker, ingest and api may start
 * at the same moment, so the file is written under a private name (flag 'wx', mode 0600) and published
 * with link(), which fails with EEXIST when another process won: nobody ever reads a half-written file,
 * and the loser reads the winner's secret.
 */
export function resolveServiceSecret(dataDir: string, fromEnv?: string): string {
  if (fromEnv) return fromEnv;
  const file = join(dataDir, 'service.secret');
  const existing = readSecret(file);
  if (existing) return existing;
  mkdirSync(dataDir, { recursive: true });
  const draft = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(draft, `${randomBytes(32).toString('base64url')}\n`, { flag: 'wx', mode: 0o600 });
  try {
    linkSync(draft, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    unlinkSync(draft);
  }
  const secret = readSecret(file);
  if (!secret) throw new Error(`${file} is empty: delete it to have a new service secret made`);
  return secret;
}

function readSecret(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim() || undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
