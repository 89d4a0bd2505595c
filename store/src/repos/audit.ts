import type { Kysely } from 'kysely';
import { iso, toAuditEntry } from '../mapping.ts';
import type { Database } from '../schema.ts';
import type { AuditRepo } from '../types.ts';

/** The credential audit trail (migration 007): append-only, read by admins and by the brokers' revocation watch. */
export function createAuditRepo(db: Kysely<Database>): AuditRepo {
  return {
    async add(entry) {
      const row = await db
        .insertInto('audit')
        .values({
          at: iso(new Date()),
          actor: entry.actor,
          action: entry.action,
          target: entry.target,
          detail: entry.detail ?? null,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return toAuditEntry(row);
    },

    async list(filter = {}) {
      let q = db
        .selectFrom('audit')
        .selectAll()
        .orderBy('id', 'desc')
        .limit(filter.limit ?? 100);
      if (filter.target) q = q.where('target', '=', filter.target);
      if (filter.actor) q = q.where('actor', '=', filter.actor);
      if (filter.before !== undefined) q = q.where('id', '<', filter.before);
      return (await q.execute()).map(toAuditEntry);
    },

    async after(id, limit = 500) {
      const rows = await db
        .selectFrom('audit')
        .selectAll()
        .where('id', '>', id)
        .orderBy('id')
        .limit(limit)
        .execute();
      return rows.map(toAuditEntry);
    },

    async latestId() {
      const row = await db
        .selectFrom('audit')
        .select((eb) => eb.fn.max('id').as('latest'))
        .executeTakeFirst();
      return Number(row?.latest ?? 0);
    },
  };
}
