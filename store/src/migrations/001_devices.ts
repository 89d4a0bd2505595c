import { newInstallSalt } from '../secrets.ts';
import type { ColumnTypes, MigrationDb } from './column-types.ts';

/** The device registry, and the `meta` table with the installation's SCK-token salt (see secrets.ts). */
export async function up(db: MigrationDb, t: ColumnTypes): Promise<void> {
  await db.schema
    .createTable('devices')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('operator_id', 'text')
    .addColumn('name', 'text')
    .addColumn('lat', 'double precision')
    .addColumn('lon', 'double precision')
    .addColumn('mobile', t.bool, (c) => c.notNull())
    .addColumn('indoor', t.bool, (c) => c.notNull())
    .addColumn('secret_hash', 'text')
    .addColumn('token_hash', 'text', (c) => c.unique())
    .addColumn('created_at', t.time, (c) => c.notNull())
    .addColumn('last_seen_at', t.time)
    .addColumn('firmware', 'text')
    .execute();
  await db.schema.createIndex('devices_kind_idx').on('devices').column('kind').execute();
  await db.schema.createIndex('devices_operator_idx').on('devices').column('operator_id').execute();

  await db.schema
    .createTable('meta')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .execute();
  await db.insertInto('meta').values({ key: 'sck_token_salt', value: newInstallSalt() }).execute();
}
