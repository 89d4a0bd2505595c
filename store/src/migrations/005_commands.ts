import { sql } from 'kysely';
import type { ColumnTypes, MigrationDb } from './column-types.ts';

/**
 * Commands to cars (CONTRACT §3) and their history. `state` only moves by compare-and-set
 * (`update ... where state in (...)`), so two api instances can never both finish one command.
 *
 * The audit trail is written by the database itself: a trigger appends a `command_events` row for the
 * first state and for every change of state, with the row's `updated_at` and `reason`, inside the very
 * statement that made it. No code path can move a command without leaving its trace, and a move costs one
 * statement instead of a transaction of three.
 */
export async function up(db: MigrationDb, t: ColumnTypes): Promise<void> {
  await db.schema
    .createTable('commands')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('vehicle_id', 'text', (c) => c.notNull())
    .addColumn('operator_id', 'text', (c) => c.notNull())
    .addColumn('requested_by', 'text', (c) => c.notNull())
    .addColumn('member_id', 'text')
    .addColumn('booking_id', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('reason', 'text')
    .addColumn('issued_at', t.time, (c) => c.notNull())
    .addColumn('expires_at', t.time, (c) => c.notNull())
    .addColumn('updated_at', t.time, (c) => c.notNull())
    .addColumn('idempotency_key', 'text', (c) => c.notNull())
    .addColumn('request_hash', 'text', (c) => c.notNull())
    .addUniqueConstraint('commands_idempotency_key', ['requested_by', 'idempotency_key'])
    .execute();
  // Ids are ULIDs: ordering by id is ordering by creation, newest first with `desc`.
  await db.schema.createIndex('commands_vehicle_idx').on('commands').columns(['vehicle_id', 'id']).execute();
  await db.schema.createIndex('commands_booking_idx').on('commands').columns(['booking_id', 'id']).execute();
  await db.schema
    .createIndex('commands_operator_idx')
    .on('commands')
    .columns(['operator_id', 'id'])
    .execute();
  // The expiry sweep reads only the commands still in flight.
  await db.schema
    .createIndex('commands_open_idx')
    .on('commands')
    .column('expires_at')
    .where(sql.ref('state'), 'in', ['pending', 'sent'])
    .execute();

  await t
    .serialPk(db.schema.createTable('command_events'), 'id')
    .addColumn('command_id', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('at', t.time, (c) => c.notNull())
    .addColumn('reason', 'text')
    .execute();
  await db.schema
    .createIndex('command_events_command_idx')
    .on('command_events')
    .columns(['command_id', 'id'])
    .execute();

  const record = sql`insert into command_events (command_id, state, at, reason)
    values (new.id, new.state, new.updated_at, new.reason)`;
  if (t.dialect === 'postgres') {
    await sql`create function command_event() returns trigger language plpgsql as $$
      begin ${record}; return null; end $$`.execute(db);
    await sql`create trigger commands_created after insert on commands
      for each row execute function command_event()`.execute(db);
    await sql`create trigger commands_moved after update of state on commands
      for each row when (old.state is distinct from new.state) execute function command_event()`.execute(db);
  } else {
    await sql`create trigger commands_created after insert on commands begin ${record}; end`.execute(db);
    await sql`create trigger commands_moved after update of state on commands
      when old.state is not new.state begin ${record}; end`.execute(db);
  }
}
