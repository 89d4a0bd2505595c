import type { ColumnTypes, MigrationDb } from './column-types.ts';

/**
 * A mobile citizen kit's exact track is public only when its owner opted in at provisioning; by default its
 * readings are served at the centre of their cell. Existing kits keep the private default.
 */
export async function up(db: MigrationDb, t: ColumnTypes): Promise<void> {
  await db.schema
    .alterTable('devices')
    .addColumn('public_track', t.bool, (c) => c.notNull().defaultTo(t.dialect === 'postgres' ? false : 0))
    .execute();
}
