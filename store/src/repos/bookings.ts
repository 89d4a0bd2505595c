import type { Kysely, Selectable } from 'kysely';
import { iso } from '../mapping.ts';
import type { BookingsTable, Database } from '../schema.ts';
import { type Booking, BookingConflictError, type BookingRepo } from '../types.ts';
import { newPrefixedId } from '../ulid.ts';

const toDate = (v: Date | string): Date => (v instanceof Date ? v : new Date(v));

function toBooking(row: Selectable<BookingsTable>): Booking {
  return {
    id: row.id,
    operatorId: row.operator_id,
    vehicleId: row.vehicle_id,
    memberId: row.member_id,
    start: toDate(row.start_at),
    end: toDate(row.end_at),
    createdAt: toDate(row.created_at),
    cancelledAt: row.cancelled_at === null ? null : toDate(row.cancelled_at),
    returnedAt: row.returned_at == null ? null : toDate(row.returned_at),
    homeOperatorId: row.home_operator_id ?? row.operator_id,
    odometerStartKm: row.odometer_start_km == null ? null : Number(row.odometer_start_km),
    odometerEndKm: row.odometer_end_km == null ? null : Number(row.odometer_end_km),
    credentialHash: row.credential_hash ?? null,
  };
}

/** PostgreSQL SQLSTATE 23P01: the `bookings_no_overlap` exclusion constraint refused a row. */
const isExclusionViolation = (err: unknown): boolean => (err as { code?: unknown } | null)?.code === '23P01';

export function createBookingRepo(db: Kysely<Database>): BookingRepo {
  /** The first live booking of the car that overlaps [start, end): intervals are half-open, so back to back is fine. */
  const firstOverlap = (q: Kysely<Database>, vehicleId: string, start: Date, end: Date) =>
    q
      .selectFrom('bookings')
      .select('id')
      .where('vehicle_id', '=', vehicleId)
      .where('cancelled_at', 'is', null)
      .where('start_at', '<', iso(end))
      .where('end_at', '>', iso(start))
      .orderBy('start_at')
      .limit(1)
      .executeTakeFirst();

  const conflict = (vehicleId: string, id: string | undefined) =>
    new BookingConflictError(
      id
        ? `vehicle ${vehicleId} is already booked by ${id} over part of this time`
        : `vehicle ${vehicleId} is already booked over part of this time`,
      id,
    );

  const get = async (id: string): Promise<Booking | undefined> => {
    const row = await db.selectFrom('bookings').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toBooking(row);
  };

  return {
    get,

    async create(input) {
      if (!(input.end.getTime() > input.start.getTime()))
        throw new RangeError('a booking must end after it starts');
      const values = {
        id: newPrefixedId('bk'),
        operator_id: input.operatorId,
        vehicle_id: input.vehicleId,
        member_id: input.memberId,
        start_at: iso(input.start),
        end_at: iso(input.end),
        created_at: iso(new Date()),
        cancelled_at: null,
        returned_at: null,
        home_operator_id:
          input.homeOperatorId && input.homeOperatorId !== input.operatorId ? input.homeOperatorId : null,
        odometer_start_km: null,
        odometer_end_km: null,
        credential_hash: input.credentialHash ?? null,
      };
      try {
        // On SQLite this transaction begins IMMEDIATE, holding the one write lock from the check to the
        // insert: a concurrent request (this process or another) waits and then sees this booking. On
        // PostgreSQL the check only makes the common case cheap; the exclusion constraint settles races.
        return await db.transaction().execute(async (trx) => {
          const clash = await firstOverlap(trx, input.vehicleId, input.start, input.end);
          if (clash) throw conflict(input.vehicleId, clash.id);
          return toBooking(
            await trx.insertInto('bookings').values(values).returningAll().executeTakeFirstOrThrow(),
          );
        });
      } catch (err) {
        if (!isExclusionViolation(err)) throw err;
        const clash = await firstOverlap(db, input.vehicleId, input.start, input.end);
        throw conflict(input.vehicleId, clash?.id);
      }
    },

    async cancel(id, at = new Date()) {
      await db
        .updateTable('bookings')
        .set({ cancelled_at: iso(at) })
        .where('id', '=', id)
        .where('cancelled_at', 'is', null)
        .execute();
      return get(id);
    },

    async returnEarly(id, at = new Date()) {
      const row = await db
        .updateTable('bookings')
        .set({ end_at: iso(at), returned_at: iso(at) })
        .where('id', '=', id)
        .where('cancelled_at', 'is', null)
        .where('start_at', '<=', iso(at))
        .where('end_at', '>', iso(at))
        .returningAll()
        .executeTakeFirst();
      return row && toBooking(row);
    },

    async setOdometerStart(id, km) {
      await db
        .updateTable('bookings')
        .set({ odometer_start_km: km })
        .where('id', '=', id)
        .where('odometer_start_km', 'is', null)
        .execute();
    },

    async setOdometerEnd(id, km) {
      await db
        .updateTable('bookings')
        .set({ odometer_end_km: km })
        .where('id', '=', id)
        .where('odometer_end_km', 'is', null)
        .execute();
    },

    async latestStarts(at) {
      const rows = await db
        .selectFrom('bookings')
        .select(['vehicle_id', (eb) => eb.fn.max('start_at').as('start')])
        .where('cancelled_at', 'is', null)
        .where('start_at', '<=', iso(at))
        .groupBy('vehicle_id')
        .execute();
      return new Map(rows.map((r) => [r.vehicle_id, toDate(r.start as Date | string)] as const));
    },

    async nextStarts(from, to) {
      const rows = await db
        .selectFrom('bookings')
        .select(['vehicle_id', (eb) => eb.fn.min('start_at').as('start')])
        .where('cancelled_at', 'is', null)
        .where('start_at', '>', iso(from))
        .where('start_at', '<', iso(to))
        .groupBy('vehicle_id')
        .execute();
      return new Map(rows.map((r) => [r.vehicle_id, toDate(r.start as Date | string)] as const));
    },

    async list(f = {}) {
      let q = db.selectFrom('bookings').selectAll();
      if (f.operatorId) q = q.where('operator_id', '=', f.operatorId);
      const visibleTo = f.visibleTo;
      if (visibleTo)
        q = q.where((eb) =>
          eb.or([eb('operator_id', '=', visibleTo), eb('home_operator_id', '=', visibleTo)]),
        );
      if (f.vehicleId) q = q.where('vehicle_id', '=', f.vehicleId);
      if (f.memberId) q = q.where('member_id', '=', f.memberId);
      if (f.activeAt) {
        q = q.where('start_at', '<=', iso(f.activeAt)).where('end_at', '>', iso(f.activeAt));
      }
      if (f.from) q = q.where('end_at', '>', iso(f.from));
      if (f.to) q = q.where('start_at', '<', iso(f.to));
      if (f.endedFrom) q = q.where('end_at', '>=', iso(f.endedFrom));
      if (f.endedTo) q = q.where('end_at', '<', iso(f.endedTo));
      if (!f.includeCancelled || f.activeAt) q = q.where('cancelled_at', 'is', null);
      const rows = await q
        .orderBy('start_at', 'desc')
        .orderBy('id', 'desc')
        .limit(f.limit ?? 100)
        .offset(f.offset ?? 0)
        .execute();
      return rows.map(toBooking);
    },
  };
}
