import type { ColumnTypes, MigrationDb } from './column-types.ts';

/**
 * Who did what to which credential: device created, disabled, deleted, secret rotated; operator token
 * rotated or revoked. Append-only. The brokers also read it as the revocation log: every few seconds each
 * reads the rows after the last it saw, so one indexed range read tells every broker of every revocation,
 * whichever process (api instance or CLI) made it.
 */
export async function up(db: MigrationDb, t: ColumnTypes): Promise<void> {
  await t
    .serialPk(db.schema.createTable('audit'), 'id')
    .addColumn('at', t.time, (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('target', 'text', (c) => c.notNull())
    .addColumn('detail', 'text')
    .execute();
  await db.schema.createIndex('audit_target_idx').on('audit').columns(['target', 'id']).execute();
}
