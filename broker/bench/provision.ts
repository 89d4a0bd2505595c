import { randomBytes, scrypt } from 'node:crypto';
import { join } from 'node:path';
import { openStore } from '@citytel/store';
import Database from 'better-sqlite3';
import pino from 'pino';

export interface Credentials {
  id: string;
  secret: string;
}

/**
 * The bench store's cheaper scrypt: N = 1024 instead of the store's 16384 (16 times less work, 1 MiB instead
 * of 16 MiB). The stored hash names its parameters (`scrypt$N$r$p$salt$hash`, store/src/secrets.ts), so the
 * broker verifies these rows through the store's normal code path, only faster. Bench store only: 10 000
 * logins at full cost are ~50 ms of one core each, minutes of CPU that say nothing about memory.
 */
const BENCH_SCRYPT = { N: 1024, r: 8, p: 1, keylen: 32 } as const;

/**
 * A fresh SQLite store under `dataDir` with `count` native kits. `fullCost` of them are provisioned with the
 * store's own API (full-cost scrypt, as `POST /api/v1/devices` does), to time real logins; the rest are
 * written straight into the devices table with the bench hash.
 */
export async function provisionBenchStore(
  dataDir: string,
  count: number,
  fullCost: number,
): Promise<{ devices: Credentials[]; fullCostDevices: Credentials[] }> {
  const store = await openStore({ dataDir, log: pino({ level: 'warn' }) });
  const fullCostDevices: Credentials[] = [];
  for (let i = 0; i < fullCost; i++) {
    const id = `login-${i}`;
    const { secret } = await store.devices.create({ id, kind: 'native', lat: 48.11, lon: -1.68 });
    fullCostDevices.push({ id, secret: secret! });
  }
  await store.close();

  const devices = Array.from({ length: count }, (_, i) => ({
    id: `idle-${String(i).padStart(5, '0')}`,
    secret: randomBytes(24).toString('base64url'),
  }));
  const hashes = await Promise.all(devices.map((d) => benchHash(d.secret)));

  const db = new Database(join(dataDir, 'citytel.db'));
  const insert = db.prepare(
    `INSERT INTO devices (id, kind, operator_id, name, lat, lon, mobile, indoor, secret_hash, token_hash,
       created_at, last_seen_at, firmware)
     VALUES (?, 'native', NULL, NULL, ?, ?, 0, 0, ?, NULL, ?, NULL, NULL)`,
  );
  const now = new Date().toISOString();
  db.transaction(() => {
    devices.forEach((d, i) => {
      insert.run(d.id, 48.1 + (i % 100) / 1000, -1.7 + Math.floor(i / 100) / 1000, hashes[i], now);
    });
  })();
  db.close();
  return { devices, fullCostDevices };
}

function benchHash(secret: string): Promise<string> {
  const salt = randomBytes(16);
  const { N, r, p, keylen } = BENCH_SCRYPT;
  return new Promise((resolve, reject) =>
    scrypt(secret, salt, keylen, { N, r, p }, (err, key) =>
      err
        ? reject(err)
        : resolve(`scrypt$${N}$${r}$${p}$${salt.toString('base64')}$${key.toString('base64')}`),
    ),
  );
}
