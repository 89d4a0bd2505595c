import type { Kysely } from 'kysely';
import { iso } from '../mapping.ts';
import type { Database } from '../schema.ts';
import type { OfflineEvent, OfflineEventRepo } from '../types.ts';

const toDate = (v: Date | string): Date => (v instanceof Date ? v : new Date(v));

export function createOfflineEventRepo(db: Kysely<Database>): OfflineEventRepo {
  return {
    async add(events) {
      let added = 0;
      for (const e of events) {
        // The primary key (vehicle, the car's seq) makes a re-upload a no-op: each event lands once.
        const r = await db
          .insertInto('offline_events')
          .values({
            vehicle_id: e.vehicleId,
            seq: e.seq,
            at: iso(e.at),
            event: e.event,
            booking_id: e.bookingId,
            reason: e.reason,
            received_at: iso(e.receivedAt),
          })
          .onConflict((oc) => oc.columns(['vehicle_id', 'seq']).doNothing())
          .executeTakeFirst();
        added += Number(r.numInsertedOrUpdatedRows ?? 0);
      }
      return added;
    },
    async list(f) {
      let q = db.selectFrom('offline_events').selectAll();
      if (f.vehicleId) q = q.where('vehicle_id', '=', f.vehicleId);
      if (f.bookingId) q = q.where('booking_id', '=', f.bookingId);
      const rows = await q
        .orderBy('at', 'desc')
        .orderBy('seq', 'desc')
        .limit(f.limit ?? 100)
        .execute();
      return rows.map(
        (r): OfflineEvent => ({
          vehicleId: r.vehicle_id,
          seq: Number(r.seq),
          at: toDate(r.at),
          event: r.event as OfflineEvent['event'],
          bookingId: r.booking_id,
          reason: r.reason,
          receivedAt: toDate(r.received_at),
        }),
      );
    },
  };
}
