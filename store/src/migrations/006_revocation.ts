import { sql } from 'kysely';
import type { ColumnTypes, MigrationDb } from './column-types.ts';

/**
 * Revocation: a device may be disabled (its logins refused, its record and history kept) and an
 * operator's token revoked (the row stays, for the audit trail; `token_hash` then holds a value no token
 * hashes to).
 */
export async function up(db: MigrationDb, t: ColumnTypes): Promise<void> {
  const off = t.dialect === 'postgres' ? sql`false` : sql`0`;
  await db.schema
    .alterTable('devices')
    .addColumn('disabled', t.bool, (c) => c.notNull().defaultTo(off))
    .execute();
  await db.schema.alterTable('operators').addColumn('revoked_at', t.time).execute();
}
