import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { DialectName } from '../dialect.ts';
import type { Database } from '../schema.ts';

export type Seen = { id: string; at: Date; firmware?: string | undefined };
export type Toucher = (seen: Seen[]) => Promise<void>;

/** Bounded so a statement stays well under both backends' parameter limits (SQLite 32766, PG 65535). */
const CHUNK = 500;

/** Per device, the latest time heard and the latest firmware reported. */
function coalesce(seen: Seen[]): Seen[] {
  const byId = new Map<string, Seen>();
  for (const s of seen) {
    const prev = byId.get(s.id);
    if (!prev) byId.set(s.id, { ...s });
    else {
      const newer = s.at > prev.at;
      byId.set(s.id, {
        id: s.id,
        at: newer ? s.at : prev.at,
        firmware: (newer ? (s.firmware ?? prev.firmware) : (prev.firmware ?? s.firmware)) ?? undefined,
      });
    }
  }
  return [...byId.values()];
}

/**
 * One UPDATE ... FROM (VALUES ...) per chunk, which SQLite (3.33+) and PostgreSQL both speak. Last seen
 * only moves forward, so a late batch from a slow consumer cannot set it back.
 */
export function createToucher(db: Kysely<Database>, dialect: DialectName): Toucher {
  // VALUES columns of bind parameters are text in PostgreSQL; compare as timestamptz there.
  const at: RawBuilder<unknown> = dialect === 'postgres' ? sql`cast(seen.at as timestamptz)` : sql`seen.at`;
  return async (seen) => {
    const rows = coalesce(seen);
    for (let i = 0; i < rows.length; i += CHUNK) {
      const values = sql.join(
        rows.slice(i, i + CHUNK).map((s) => sql`(${s.id}, ${s.at.toISOString()}, ${s.firmware ?? null})`),
      );
      await sql`
        with seen(id, at, firmware) as (values ${values})
        update devices set
          last_seen_at = case
            when devices.last_seen_at is null or devices.last_seen_at < ${at} then ${at}
            else devices.last_seen_at end,
          firmware = coalesce(seen.firmware, devices.firmware)
        from seen
        where devices.id = seen.id`.execute(db);
    }
  };
}
