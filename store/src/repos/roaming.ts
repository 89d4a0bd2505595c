import type { Kysely } from 'kysely';
import { iso } from '../mapping.ts';
import type { Database } from '../schema.ts';
import type { RoamingAccepts, RoamingRepo } from '../types.ts';

export function createRoamingRepo(db: Kysely<Database>): RoamingRepo {
  return {
    async accepts(operatorId) {
      const row = await db
        .selectFrom('roaming_policies')
        .select('accepts')
        .where('operator_id', '=', operatorId)
        .executeTakeFirst();
      if (!row) return [];
      if (row.accepts === '*') return '*';
      return JSON.parse(row.accepts) as string[];
    },
    async setAccepts(operatorId, accepts: RoamingAccepts) {
      const value = accepts === '*' ? '*' : JSON.stringify([...new Set(accepts)].sort());
      await db
        .insertInto('roaming_policies')
        .values({ operator_id: operatorId, accepts: value, updated_at: iso(new Date()) })
        .onConflict((oc) =>
          oc.column('operator_id').doUpdateSet({ accepts: value, updated_at: iso(new Date()) }),
        )
        .execute();
    },
  };
}
