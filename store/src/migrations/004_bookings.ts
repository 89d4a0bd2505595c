import { sql } from 'kysely';
import type { ColumnTypes, MigrationDb } from './column-types.ts';

/**
 * Carsharing bookings (CONTRACT §4). A booking is the half-open interval [start_at, end_at) of one car for
 * one member of one operator; a cancelled one keeps its row (the audit trail points at it).
 *
 * Two bookings of one car must not overlap. PostgreSQL enforces it itself with an exclusion constraint over
 * `tstzrange(start_at, end_at)` (btree_gist provides the `=` on text inside a GiST index), so concurrent
 * transactions cannot both win. SQLite has no such constraint: the repo checks and inserts in one
 * transaction that holds SQLite's single write lock (`BEGIN IMMEDIATE`, dialect.ts), which serializes them.
 */
export async function up(db: MigrationDb, t: ColumnTypes): Promise<void> {
  await db.schema
    .createTable('bookings')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('operator_id', 'text', (c) => c.notNull())
    .addColumn('vehicle_id', 'text', (c) => c.notNull())
    .addColumn('member_id', 'text', (c) => c.notNull())
    .addColumn('start_at', t.time, (c) => c.notNull())
    .addColumn('end_at', t.time, (c) => c.notNull())
    .addColumn('created_at', t.time, (c) => c.notNull())
    .addColumn('cancelled_at', t.time)
    .addCheckConstraint('bookings_end_after_start', sql`end_at > start_at`)
    .execute();
  await db.schema
    .createIndex('bookings_vehicle_idx')
    .on('bookings')
    .columns(['vehicle_id', 'start_at'])
    .execute();
  await db.schema
    .createIndex('bookings_operator_idx')
    .on('bookings')
    .columns(['operator_id', 'start_at'])
    .execute();

  if (t.dialect === 'postgres') {
    // Trusted since PostgreSQL 13: the database owner may create it without superuser rights.
    await sql`create extension if not exists btree_gist`.execute(db);
    await sql`
      alter table bookings add constraint bookings_no_overlap
      exclude using gist (vehicle_id with =, tstzrange(start_at, end_at, '[)') with &&)
      where (cancelled_at is null)`.execute(db);
  }
}
