import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import {
  CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  Kysely,
  PostgresDialect,
  SqliteAdapter,
  SqliteDialect,
  type SqliteDialectConfig,
  SqliteDriver,
} from 'kysely';
import pg from 'pg';
import type { Logger } from 'pino';
import type { Database } from './schema.ts';

export type DialectName = 'sqlite' | 'postgres';

export interface Connected {
  db: Kysely<Database>;
  dialect: DialectName;
  /** What to serialize opens on within one process (see migrate.ts). */
  location: string;
}

export const isPostgresUrl = (url: string | undefined): url is string =>
  !!url && /^postgres(ql)?:\/\//.test(url);

/**
 * `BEGIN IMMEDIATE` takes SQLite's write lock at the start of a transaction, so a second process waits
 * in its busy handler instead of failing with SQLITE_BUSY when its deferred read lock cannot be upgraded
 * (the busy handler is not called for that case). It is what makes concurrent migrations safe.
 */
class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

/** SQLite has transactional DDL; saying so makes Kysely's migrator run inside one (immediate) transaction. */
class TransactionalSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

class CitytelSqliteDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig;
  constructor(config: SqliteDialectConfig) {
    super(config);
    this.#config = config;
  }
  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#config);
  }
  override createAdapter(): SqliteAdapter {
    return new TransactionalSqliteAdapter();
  }
}

function openSqliteFile(file: string): SqliteDatabase.Database {
  const db = new SqliteDatabase(file);
  // busy_timeout first: switching a fresh file to WAL needs a lock that another process may hold.
  db.pragma('busy_timeout = 5000');
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  return db;
}

export function connect(opts: { dataDir: string; databaseUrl?: string; log?: Logger }): Connected {
  if (isPostgresUrl(opts.databaseUrl)) {
    const pool = new pg.Pool({ connectionString: opts.databaseUrl, max: 10 });
    // An idle client losing its server emits on the pool; unhandled, it would end the process.
    pool.on('error', (err) => opts.log?.warn({ err }, 'postgres pool client error'));
    const dialect: Dialect = new PostgresDialect({ pool });
    return { db: new Kysely<Database>({ dialect }), dialect: 'postgres', location: opts.databaseUrl };
  }
  if (opts.databaseUrl) {
    throw new Error('DATABASE_URL must start with postgres:// or postgresql:// (unset: the embedded store)');
  }
  mkdirSync(opts.dataDir, { recursive: true });
  const file = resolve(opts.dataDir, 'citytel.db');
  const dialect = new CitytelSqliteDialect({ database: async () => openSqliteFile(file) });
  return { db: new Kysely<Database>({ dialect }), dialect: 'sqlite', location: file };
}
