import type { ColumnTypes, MigrationDb } from './column-types.ts';

/**
 * Carsharing stations, each an operator's (GBFS `station_information`): where its cars live between trips.
 * `parking_type` is GBFS's enum (`underground_parking` matters: a car there may have no network).
 */
export async function up(db: MigrationDb, t: ColumnTypes): Promise<void> {
  await db.schema
    .createTable('stations')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('operator_id', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('lat', 'double precision', (c) => c.notNull())
    .addColumn('lon', 'double precision', (c) => c.notNull())
    .addColumn('address', 'text')
    .addColumn('parking_type', 'text')
    .addColumn('capacity', 'integer')
    .addColumn('charging', t.bool, (c) => c.notNull())
    .addColumn('updated_at', t.time, (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('stations_operator_idx')
    .on('stations')
    .columns(['operator_id', 'id'])
    .execute();
}
