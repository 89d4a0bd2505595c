import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import SqliteDatabase from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openStore } from './index.ts';
import { storeSuite } from './store.suite.ts';

const tempDir = () => mkdtemp(join(tmpdir(), 'citytel-store-'));

storeSuite('SQLite', async () => {
  const dataDir = await tempDir();
  return {
    open: () => openStore({ dataDir }),
    dispose: () => rm(dataDir, { recursive: true, force: true }),
  };
});

describe('embedded SQLite file', () => {
  it('is created under the data dir in WAL mode', async () => {
    const root = await tempDir();
    const dataDir = join(root, 'nested', 'dir');
    const store = await openStore({ dataDir });
    try {
      expect(store.dialect).toBe('sqlite');
      expect((await stat(join(dataDir, 'citytel.db'))).isFile()).toBe(true);
      const raw = new SqliteDatabase(join(dataDir, 'citytel.db'), { readonly: true });
      expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
      const tables = raw
        .prepare("select name from sqlite_master where type = 'table' order by name")
        .pluck()
        .all();
      raw.close();
      expect(tables).toEqual(expect.arrayContaining(['devices', 'meta', 'operators', 'rejections']));
    } finally {
      await store.close();
      await rm(root, { recursive: true, force: true });
    }
  });

  it('refuses a DATABASE_URL it does not speak', async () => {
    await expect(openStore({ dataDir: '/nonexistent', databaseUrl: 'mysql://x' })).rejects.toThrow(
      /DATABASE_URL/,
    );
  });

  it('is opened and written by separate processes starting at the same moment', async () => {
    const dataDir = await tempDir();
    const child = fileURLToPath(new URL('./testing/open-and-write.ts', import.meta.url));
    const run = promisify(execFile);
    try {
      const outs = await Promise.all(
        ['p1', 'p2', 'p3'].map((prefix) =>
          run(process.execPath, ['--import', 'tsx', child, dataDir, prefix], { cwd: process.cwd() }),
        ),
      );
      expect(outs.map((o) => o.stdout.trim())).toEqual(['ok 20', 'ok 20', 'ok 20']);
      const store = await openStore({ dataDir });
      const devices = await store.devices.list();
      expect(devices.length).toBe(60);
      expect(devices.every((d) => d.lastSeenAt !== null)).toBe(true);
      await store.close();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
  it('lets one process win each race for a car, an idempotency key and a command', async () => {
    const dataDir = await tempDir();
    const child = fileURLToPath(new URL('./testing/race.ts', import.meta.url));
    const run = promisify(execFile);
    try {
      const store = await openStore({ dataDir });
      const { command } = await store.commands.create({
        vehicleId: 'car-1',
        operatorId: 'coop',
        requestedBy: 'coop',
        bookingId: 'bk_1',
        action: 'unlock',
        issuedAt: new Date(),
        expiresAt: new Date(Date.now() + 30_000),
        idempotencyKey: 'first',
        requestHash: 'h',
      });
      // Each child opens the store first; the race itself starts at one instant for all five.
      const startAt = String(Date.now() + 4000);
      const outs = await Promise.all(
        ['p1', 'p2', 'p3', 'p4', 'p5'].map((name) =>
          run(process.execPath, ['--import', 'tsx', child, dataDir, name, startAt, command.id], {
            cwd: process.cwd(),
          }),
        ),
      );
      const results = outs.map(
        (o) =>
          JSON.parse(o.stdout.trim()) as {
            bookings: number;
            conflicts: number;
            commandId: string;
            created: boolean;
            finished: boolean;
          },
      );
      expect(results.reduce((n, r) => n + r.bookings, 0)).toBe(1);
      expect(results.reduce((n, r) => n + r.conflicts, 0)).toBe(49);
      expect(results.filter((r) => r.created).length).toBe(1);
      expect(new Set(results.map((r) => r.commandId)).size).toBe(1);
      expect(results.filter((r) => r.finished).length).toBe(1);
      expect((await store.bookings.list({ vehicleId: 'car-1' })).length).toBe(1);
      expect((await store.commands.get(command.id))?.history.map((h) => h.state)).toEqual([
        'pending',
        'rejected',
      ]);
      await store.close();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});
