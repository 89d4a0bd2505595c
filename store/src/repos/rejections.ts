import type { Kysely } from 'kysely';
import { iso, toRejection } from '../mapping.ts';
import type { Database } from '../schema.ts';
import type { RejectionRepo } from '../types.ts';

const SAMPLE_MAX = 512;
const CHUNK = 500;

/** "Newest" is the order of arrival (the autoincrement id), for both keeping and listing. */
export function createRejectionRepo(db: Kysely<Database>): RejectionRepo {
  return {
    async add(rows, keep = 100) {
      for (let i = 0; i < rows.length; i += CHUNK) {
        await db
          .insertInto('rejections')
          .values(
            rows.slice(i, i + CHUNK).map((r) => ({
              device_id: r.deviceId,
              at: iso(r.at),
              topic: r.topic,
              reason: r.reason,
              detail: r.detail,
              sample: r.sample === null ? null : r.sample.slice(0, SAMPLE_MAX),
            })),
          )
          .execute();
      }
      // Everything at or below the id of the device's (keep+1)-th newest row goes; none when there are fewer.
      for (const deviceId of new Set(rows.map((r) => r.deviceId))) {
        await db
          .deleteFrom('rejections')
          .where('device_id', '=', deviceId)
          .where(
            'id',
            '<=',
            db
              .selectFrom('rejections')
              .select('id')
              .where('device_id', '=', deviceId)
              .orderBy('id', 'desc')
              .limit(1)
              .offset(keep),
          )
          .execute();
      }
    },

    async list(deviceId, limit = 100) {
      const rows = await db
        .selectFrom('rejections')
        .selectAll()
        .where('device_id', '=', deviceId)
        .orderBy('id', 'desc')
        .limit(limit)
        .execute();
      return rows.map(toRejection);
    },
  };
}
