import type { CommandAction, CommandState } from '@citytel/contract';
import { type Kysely, type Selectable, sql } from 'kysely';
import { isUniqueViolation } from '../errors.ts';
import { iso } from '../mapping.ts';
import type { CommandEventsTable, CommandsTable, Database } from '../schema.ts';
import type { Command, CommandEvent, CommandRepo } from '../types.ts';
import { newPrefixedId } from '../ulid.ts';

const toDate = (v: Date | string): Date => (v instanceof Date ? v : new Date(v));

/** Why a command expired, in its history. */
export const NO_ANSWER = 'no_answer';
const OPEN: readonly CommandState[] = ['pending', 'sent'];
/** Bounded so an `in (...)` list stays well under both backends' parameter limits. */
const CHUNK = 500;

function toEvent(row: Selectable<CommandEventsTable>): CommandEvent {
  return { state: row.state as CommandState, at: toDate(row.at), reason: row.reason };
}

function toCommand(row: Selectable<CommandsTable>, history: CommandEvent[]): Command {
  return {
    id: row.id,
    vehicleId: row.vehicle_id,
    operatorId: row.operator_id,
    requestedBy: row.requested_by,
    memberId: row.member_id,
    bookingId: row.booking_id,
    homeOperatorId: row.home_operator_id ?? row.operator_id,
    action: row.action as CommandAction,
    state: row.state as CommandState,
    reason: row.reason,
    issuedAt: toDate(row.issued_at),
    expiresAt: toDate(row.expires_at),
    updatedAt: toDate(row.updated_at),
    idempotencyKey: row.idempotency_key,
    requestHash: row.request_hash,
    history,
  };
}

export function createCommandRepo(db: Kysely<Database>): CommandRepo {
  /** Histories of many commands in one query per chunk, each oldest first. */
  async function historiesOf(ids: string[]): Promise<Map<string, CommandEvent[]>> {
    const out = new Map<string, CommandEvent[]>(ids.map((id) => [id, []]));
    for (let i = 0; i < ids.length; i += CHUNK) {
      const rows = await db
        .selectFrom('command_events')
        .selectAll()
        .where('command_id', 'in', ids.slice(i, i + CHUNK))
        .orderBy('id')
        .execute();
      for (const r of rows) out.get(r.command_id)?.push(toEvent(r));
    }
    return out;
  }

  const withHistories = async (rows: Selectable<CommandsTable>[]): Promise<Command[]> => {
    if (rows.length === 0) return [];
    const histories = await historiesOf(rows.map((r) => r.id));
    return rows.map((r) => toCommand(r, histories.get(r.id) ?? []));
  };

  const get = async (id: string): Promise<Command | undefined> => {
    const row = await db.selectFrom('commands').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? (await withHistories([row]))[0] : undefined;
  };

  const findByIdempotencyKey = async (requestedBy: string, key: string): Promise<Command | undefined> => {
    const row = await db
      .selectFrom('commands')
      .selectAll()
      .where('requested_by', '=', requestedBy)
      .where('idempotency_key', '=', key)
      .executeTakeFirst();
    return row ? (await withHistories([row]))[0] : undefined;
  };

  const transition: CommandRepo['transition'] = async (id, from, to, at, reason = null, only = {}) => {
    if (from.length === 0) return undefined;
    // The WHERE on state is the compare-and-set: of two writers, only the first finds the row still in
    // `from` (PostgreSQL re-checks it after waiting for the other's row lock; SQLite runs them one by one).
    // The history row is added by the database (migration 005's trigger) within this statement.
    let update = db
      .updateTable('commands')
      .set({ state: to, reason, updated_at: iso(at) })
      .where('id', '=', id)
      .where('state', 'in', [...from]);
    if (only.vehicleId !== undefined) update = update.where('vehicle_id', '=', only.vehicleId);
    const row = await update.returningAll().executeTakeFirst();
    return row ? (await withHistories([row]))[0] : undefined;
  };

  return {
    get,
    findByIdempotencyKey,
    transition,

    async create(input) {
      const id = newPrefixedId('cmd');
      const at = iso(input.issuedAt);
      try {
        // One statement: the trigger of migration 005 records the first `pending` with it.
        await db
          .insertInto('commands')
          .values({
            id,
            vehicle_id: input.vehicleId,
            operator_id: input.operatorId,
            requested_by: input.requestedBy,
            member_id: input.memberId ?? null,
            booking_id: input.bookingId,
            home_operator_id:
              input.homeOperatorId && input.homeOperatorId !== input.operatorId ? input.homeOperatorId : null,
            action: input.action,
            state: 'pending',
            reason: null,
            issued_at: at,
            expires_at: iso(input.expiresAt),
            updated_at: at,
            idempotency_key: input.idempotencyKey,
            request_hash: input.requestHash,
          })
          .execute();
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
        // The key was used first by a concurrent twin of this request: that command is the answer.
        const first = await findByIdempotencyKey(input.requestedBy, input.idempotencyKey);
        if (!first) throw err;
        return { command: first, created: false };
      }
      const command: Command = {
        id,
        vehicleId: input.vehicleId,
        operatorId: input.operatorId,
        requestedBy: input.requestedBy,
        memberId: input.memberId ?? null,
        bookingId: input.bookingId,
        homeOperatorId: input.homeOperatorId ?? input.operatorId,
        action: input.action,
        state: 'pending',
        reason: null,
        issuedAt: new Date(at),
        expiresAt: new Date(iso(input.expiresAt)),
        updatedAt: new Date(at),
        idempotencyKey: input.idempotencyKey,
        requestHash: input.requestHash,
        history: [{ state: 'pending', at: new Date(at), reason: null }],
      };
      return { command, created: true };
    },

    async cancelForEndedBookings(now, limit = 500) {
      const due = await db
        .selectFrom('commands as c')
        .innerJoin('bookings as b', 'b.id', 'c.booking_id')
        .select(['c.id', 'b.cancelled_at', 'b.end_at'])
        .where(sql<boolean>`c.state in ('pending', 'sent')`)
        // Only commands of the booking's own time: a lock asked after its end is the operator closing the car.
        .where('c.issued_at', '<', (eb) => eb.ref('b.end_at'))
        .where((eb) =>
          eb.or([
            eb.and([eb('b.cancelled_at', 'is not', null), eb('c.issued_at', '<=', eb.ref('b.cancelled_at'))]),
            eb('b.end_at', '<=', iso(now)),
          ]),
        )
        .orderBy('c.id')
        .limit(limit)
        .execute();
      const cancelled: Command[] = [];
      for (const d of due) {
        // Recorded at the moment the booking stopped, however late the sweep runs (never in the future).
        const end = toDate(d.end_at);
        const cancelledAt = d.cancelled_at === null ? undefined : toDate(d.cancelled_at);
        const byCancel = cancelledAt !== undefined && cancelledAt < end;
        const stoppedAt = byCancel ? cancelledAt : end;
        const at = new Date(Math.min(stoppedAt.getTime(), now.getTime()));
        const reason = byCancel ? 'booking_cancelled' : 'booking_ended';
        const c = await transition(d.id, OPEN, 'cancelled', at, reason);
        if (c) cancelled.push(c);
      }
      return cancelled;
    },

    async expireDue(now, limit = 500) {
      const due = await db
        .selectFrom('commands')
        .select(['id', 'expires_at'])
        // Literal, not bound: only then can SQLite's planner use the partial index on open commands.
        .where(sql<boolean>`state in ('pending', 'sent')`)
        .where('expires_at', '<=', iso(now))
        .orderBy('expires_at')
        .limit(limit)
        .execute();
      const expired: Command[] = [];
      for (const d of due) {
        // Recorded at expiresAt, the moment the car stopped accepting it, however late the sweep runs.
        const c = await transition(d.id, OPEN, 'expired', toDate(d.expires_at), NO_ANSWER);
        if (c) expired.push(c);
      }
      return expired;
    },

    async list(f = {}) {
      let q = db.selectFrom('commands').selectAll();
      if (f.vehicleId) q = q.where('vehicle_id', '=', f.vehicleId);
      if (f.bookingId) q = q.where('booking_id', '=', f.bookingId);
      if (f.operatorId) q = q.where('operator_id', '=', f.operatorId);
      const visibleTo = f.visibleTo;
      if (visibleTo)
        q = q.where((eb) =>
          eb.or([eb('operator_id', '=', visibleTo), eb('home_operator_id', '=', visibleTo)]),
        );
      if (f.before) q = q.where('id', '<', f.before);
      const rows = await q
        .orderBy('id', 'desc')
        .limit(f.limit ?? 50)
        .execute();
      return withHistories(rows);
    },
  };
}
