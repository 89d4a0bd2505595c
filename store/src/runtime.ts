import { createHmac, randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SERVICE_ACCOUNTS, type ServiceAccount, serviceSecretVar } from '@citytel/contract';
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
 * The MQTT password of one platform service account (svc:ingest, svc:api, svc:sim), each its own so that
 * a leaked one opens one account:
 * 1. `MQTT_SECRET_INGEST` / `MQTT_SECRET_API` / `MQTT_SECRET_SIM` when set (production: each process gets
 *    its own, the brokers all three);
 * 2. else, when the older shared `MQTT_SERVICE_SECRET` is set, a secret derived from it per account
 *    (HMAC-SHA256(MQTT_SERVICE_SECRET, account)): existing deployments keep working, and the accounts'
 *    passwords differ, but whoever holds that variable holds them all;
 * 3. else `${dataDir}/service-secrets/{name}.secret`, made on first use (one machine, zero config).
 * Broker, ingest and api may start at the same moment, so a file is written under a private name (flag
 * 'wx', mode 0600) and published with link(), which fails with EEXIST when another process won: nobody
 * ever reads a half-written file, and the loser reads the winner's secret.
 */
export function resolveServiceSecret(
  dataDir: string,
  account: ServiceAccount,
  env: Record<string, string | undefined> = process.env,
): string {
  const own = env[serviceSecretVar(account)];
  if (own) return own;
  const shared = env.MQTT_SERVICE_SECRET;
  if (shared) return deriveServiceSecret(shared, account);
  const dir = join(dataDir, 'service-secrets');
  const file = join(dir, `${account.slice('svc:'.length)}.secret`);
  const existing = readSecret(file);
  if (existing) return existing;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
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

/** An account's password derived from the shared MQTT_SERVICE_SECRET (benches and tests hold one such). */
export const deriveServiceSecret = (shared: string, account: ServiceAccount): string =>
  createHmac('sha256', shared).update(account).digest('base64url');

/** Every service account's password, for the broker (which checks them all). */
export function resolveServiceSecrets(
  dataDir: string,
  env: Record<string, string | undefined> = process.env,
): Record<ServiceAccount, string> {
  return Object.fromEntries(
    SERVICE_ACCOUNTS.map((account) => [account, resolveServiceSecret(dataDir, account, env)]),
  ) as Record<ServiceAccount, string>;
}

function readSecret(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim() || undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
