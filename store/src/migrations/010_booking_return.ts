import type { ColumnTypes, MigrationDb } from './column-types.ts';

/**
 * A booking may end early when its member returns the car (`POST /api/v1/bookings/{id}/return`): `end_at`
 * moves back to the return time, so the car is free at once and the overlap rule still reads one column,
 * and `returned_at` keeps that it ended so (the booked end is not kept: the operator bills the real use).
 */
export async function up(db: MigrationDb, t: ColumnTypes): Promise<void> {
  await db.schema.alterTable('bookings').addColumn('returned_at', t.time).execute();
  // The auto-lock job and the end-of-booking sweep read bookings by their end.
  await db.schema.createIndex('bookings_end_idx').on('bookings').column('end_at').execute();
}
