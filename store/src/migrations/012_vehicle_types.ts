import type { ColumnTypes, MigrationDb } from './column-types.ts';

/**
 * What a car is and where it lives, for GBFS: an operator's vehicle types (make, model, propulsion, range)
 * and each car's type and home station. Kept beside `devices` (the radio's registry) rather than in it:
 * a car changes station or type without touching its credentials.
 */
export async function up(db: MigrationDb, t: ColumnTypes): Promise<void> {
  await db.schema
    .createTable('vehicle_types')
    .addColumn('operator_id', 'text', (c) => c.notNull())
    .addColumn('id', 'text', (c) => c.notNull())
    .addColumn('propulsion', 'text', (c) => c.notNull())
    .addColumn('make', 'text', (c) => c.notNull())
    .addColumn('model', 'text', (c) => c.notNull())
    .addColumn('max_range_m', 'double precision', (c) => c.notNull())
    .addColumn('g_co2_km', 'integer')
    .addColumn('rider_capacity', 'integer')
    .addColumn('updated_at', t.time, (c) => c.notNull())
    .addPrimaryKeyConstraint('vehicle_types_pk', ['operator_id', 'id'])
    .execute();
  await db.schema
    .createTable('vehicle_placements')
    .addColumn('vehicle_id', 'text', (c) => c.primaryKey())
    .addColumn('vehicle_type_id', 'text', (c) => c.notNull())
    .addColumn('station_id', 'text')
    .addColumn('updated_at', t.time, (c) => c.notNull())
    .execute();
}
