import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from './index.ts';
import { storeSuite } from './store.suite.ts';
import { type TestPostgres, testPostgres } from './testing/postgres.ts';

/**
 * The same suite on PostgreSQL: TEST_DATABASE_URL's server when given (each test gets its own database,
 * so the role needs CREATEDB), else a throwaway cluster when PostgreSQL is installed; skipped otherwise.
 */
const server: TestPostgres | undefined = await testPostgres().catch(() => undefined);

describe.skipIf(!server)('PostgreSQL backend', () => {
  afterAll(() => server?.stop());

  storeSuite('PostgreSQL', async () => {
    const databaseUrl = await server!.createDatabase();
    return { open: () => openStore({ dataDir: '/nonexistent', databaseUrl }), dispose: async () => {} };
  });

  describe('selection', () => {
    let url: string;
    beforeAll(async () => {
      url = await server!.createDatabase();
    });
    it('uses PostgreSQL for postgresql:// URLs too', async () => {
      const store = await openStore({
        dataDir: '/nonexistent',
        databaseUrl: url.replace('postgres:', 'postgresql:'),
      });
      expect(store.dialect).toBe('postgres');
      await store.ping();
      await store.close();
    });
  });
  describe('bookings', () => {
    it('are kept from overlapping by the database itself, not only by the repo', async () => {
      const databaseUrl = await server!.createDatabase();
      const store = await openStore({ dataDir: '/nonexistent', databaseUrl });
      const raw = new pg.Client({ connectionString: databaseUrl });
      await raw.connect();
      try {
        await store.bookings.create({
          operatorId: 'coop',
          vehicleId: 'car-1',
          memberId: 'm-1',
          start: new Date('2026-11-22T10:00:00Z'),
          end: new Date('2026-11-22T11:00:00Z'),
        });
        const insert = (id: string, start: string, end: string, cancelled: string | null = null) =>
          raw.query(
            `insert into bookings (id, operator_id, vehicle_id, member_id, start_at, end_at, created_at, cancelled_at)
             values ($1, 'coop', 'car-1', 'm-2', $2, $3, now(), $4)`,
            [id, start, end, cancelled],
          );
        await expect(insert('bk_x', '2026-11-22T10:30:00Z', '2026-11-22T12:00:00Z')).rejects.toMatchObject({
          code: '23P01',
        });
        await insert('bk_y', '2026-11-22T11:00:00Z', '2026-11-22T12:00:00Z');
        await insert('bk_z', '2026-11-22T10:30:00Z', '2026-11-22T12:00:00Z', '2026-11-22T09:00:00Z');
      } finally {
        await raw.end();
        await store.close();
      }
    });
  });
});
