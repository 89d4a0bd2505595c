import type { ColumnTypes, MigrationDb } from './column-types.ts';

/**
 * Each operator's public face in GBFS (`system_information`, `system_pricing_plans`), as JSON the api
 * validates: the fields are GBFS's own and change with its versions, the store only keeps them.
 */
export async function up(db: MigrationDb, t: ColumnTypes): Promise<void> {
  await db.schema
    .createTable('gbfs_systems')
    .addColumn('operator_id', 'text', (c) => c.primaryKey())
    .addColumn('info', 'text', (c) => c.notNull())
    .addColumn('pricing_plans', 'text')
    .addColumn('updated_at', t.time, (c) => c.notNull())
    .execute();
}
