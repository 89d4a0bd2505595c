import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from './index.ts';
import { storeSuite } from './store.suite.ts';
import { type TestPostgres, testPostgres } from './testing/postgres.ts';

/**
 * The same suite on PostgreSQL: TEST_DATABASE_URL's server when given (each test gets its own database,
 * so the role needs CREATEDB), else a throwaway cluster when PostgreSQL is installed; skipped otherwise.
 */
const pg: TestPostgres | undefined = await testPostgres().catch(() => undefined);

describe.skipIf(!pg)('PostgreSQL backend', () => {
  afterAll(() => pg?.stop());

  storeSuite('PostgreSQL', async () => {
    const databaseUrl = await pg!.createDatabase();
    return { open: () => openStore({ dataDir: '/nonexistent', databaseUrl }), dispose: async () => {} };
  });

  describe('selection', () => {
    let url: string;
    beforeAll(async () => {
      url = await pg!.createDatabase();
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
});
