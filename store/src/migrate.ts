import { type Kysely, Migrator } from 'kysely';
import type { Logger } from 'pino';
import type { DialectName } from './dialect.ts';
import { migrationProvider } from './migrations/index.ts';
import type { Database } from './schema.ts';

const inProcess = new Map<string, Promise<unknown>>();

/**
 * Across processes, SQLite's `BEGIN IMMEDIATE` (dialect.ts) and PostgreSQL's advisory lock (Kysely's
 * adapter) let one migrator run at a time. Within one process that is not enough for SQLite:
 * better-sqlite3 waits for a lock synchronously, blocking the event loop that the lock holder needs to
 * finish, so two stores opened at once on one file (tests do this) would time out. Opens of the same
 * location are therefore chained here.
 */
export function migrate(db: Kysely<Database>, dialect: DialectName, location: string, log?: Logger) {
  const previous = inProcess.get(location) ?? Promise.resolve();
  const run = previous.catch(() => undefined).then(() => migrateNow(db, dialect, log));
  inProcess.set(location, run);
  const forget = () => {
    if (inProcess.get(location) === run) inProcess.delete(location);
  };
  run.then(forget, forget);
  return run;
}

async function migrateNow(db: Kysely<Database>, dialect: DialectName, log?: Logger): Promise<void> {
  const migrator = new Migrator({ db, provider: migrationProvider(dialect) });
  const { error, results } = await migrator.migrateToLatest();
  for (const r of results ?? []) {
    if (r.status === 'Success') log?.info({ migration: r.migrationName }, 'store migration applied');
    else if (r.status === 'Error') log?.error({ migration: r.migrationName }, 'store migration failed');
  }
  if (error) throw error instanceof Error ? error : new Error(String(error));
}
