import type { ColumnTypes, MigrationDb } from './column-types.ts';

/**
 * Roaming between the operators of the network: a booking made by a member's home operator on another
 * operator's car keeps both (`operator_id` the car's, `home_operator_id` the member's; null on older rows,
 * which are the car operator's own members), and so do its commands, so each operator sees its cars' use and
 * its members' trips. The odometer at the first unlock and at the end gives the kilometres the operators
 * settle. Each operator's policy says whose members may book its cars. (Also offline unlock, below.)
 */
export async function up(db: MigrationDb, t: ColumnTypes): Promise<void> {
  await db.schema.alterTable('bookings').addColumn('home_operator_id', 'text').execute();
  await db.schema.alterTable('bookings').addColumn('odometer_start_km', 'double precision').execute();
  await db.schema.alterTable('bookings').addColumn('odometer_end_km', 'double precision').execute();
  await db.schema
    .createIndex('bookings_home_operator_idx')
    .on('bookings')
    .columns(['home_operator_id', 'start_at'])
    .execute();
  await db.schema.alterTable('commands').addColumn('home_operator_id', 'text').execute();
  await db.schema
    .createIndex('commands_home_operator_idx')
    .on('commands')
    .columns(['home_operator_id', 'id'])
    .execute();
  // Offline unlock: the member's credential (a hash of the card id or phone key, never the id itself) the car
  // checks with no network, and what cars did offline, each event once (vehicle, the car's own sequence).
  await db.schema.alterTable('bookings').addColumn('credential_hash', 'text').execute();
  await db.schema
    .createTable('offline_events')
    .addColumn('vehicle_id', 'text', (c) => c.notNull())
    .addColumn('seq', 'bigint', (c) => c.notNull())
    .addColumn('at', t.time, (c) => c.notNull())
    .addColumn('event', 'text', (c) => c.notNull())
    .addColumn('booking_id', 'text')
    .addColumn('reason', 'text')
    .addColumn('received_at', t.time, (c) => c.notNull())
    .addPrimaryKeyConstraint('offline_events_pk', ['vehicle_id', 'seq'])
    .execute();
  await db.schema
    .createTable('roaming_policies')
    .addColumn('operator_id', 'text', (c) => c.primaryKey())
    .addColumn('accepts', 'text', (c) => c.notNull())
    .addColumn('updated_at', t.time, (c) => c.notNull())
    .execute();
}
