import type { ColumnTypes, MigrationDb } from './column-types.ts';

export async function up(db: MigrationDb, t: ColumnTypes): Promise<void> {
  await t
    .serialPk(db.schema.createTable('rejections'), 'id')
    .addColumn('device_id', 'text', (c) => c.notNull())
    .addColumn('at', t.time, (c) => c.notNull())
    .addColumn('topic', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('detail', 'text', (c) => c.notNull())
    .addColumn('sample', 'text')
    .execute();
  // Serves both the newest-first listing and the pruning to the newest N of one device.
  await db.schema
    .createIndex('rejections_device_idx')
    .on('rejections')
    .columns(['device_id', 'id'])
    .execute();
}
