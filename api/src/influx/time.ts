/**
 * Times and durations as the api accepts them, in one place: `from`/`to` are ISO 8601 times or relative to
 * now (`now`, `-24h`, `now-90m`); `every` and `window` are durations (`5m`, `1h`, `7d`). Everything is
 * resolved to epoch milliseconds before it reaches a query.
 */

export const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
export type DurationUnit = keyof typeof UNIT_MS;

const DURATION = /^([1-9][0-9]{0,5})([smhdw])$/;
const RELATIVE = /^(?:now)?(?:-([1-9][0-9]{0,5})([smhdw]))?$/;
// Date, or date and time with seconds optional, fraction optional, and a Z or ±hh:mm offset.
const ISO = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2}))?$/;

/** `90m` → 5 400 000; undefined when not a duration. */
export function parseDuration(text: string): number | undefined {
  const m = DURATION.exec(text);
  if (!m) return undefined;
  return Number(m[1]) * UNIT_MS[m[2] as DurationUnit];
}

/** The shortest spelling of a duration: 3 600 000 → `1h`, 5 400 000 → `90m`. */
export function formatDuration(ms: number): string {
  for (const u of ['w', 'd', 'h', 'm', 's'] as const) {
    if (ms % UNIT_MS[u] === 0) return `${ms / UNIT_MS[u]}${u}`;
  }
  return `${ms}ms`;
}

/**
 * An ISO 8601 time (a bare date is midnight UTC) or a time relative to `nowMs`; undefined when neither.
 * Years outside 2000–2999 are refused, so a typo cannot ask InfluxDB for ten millennia of buckets.
 */
export function parseTime(text: string, nowMs: number): number | undefined {
  if (text === '') return undefined;
  const rel = RELATIVE.exec(text);
  if (rel) {
    if (!rel[1]) return text === 'now' ? nowMs : undefined;
    return nowMs - Number(rel[1]) * UNIT_MS[rel[2] as DurationUnit];
  }
  if (!ISO.test(text)) return undefined;
  const ms = Date.parse(text.length === 10 ? `${text}T00:00:00Z` : text);
  if (Number.isNaN(ms)) return undefined;
  const year = new Date(ms).getUTCFullYear();
  return year >= 2000 && year <= 2999 ? ms : undefined;
}

export const floorTo = (ms: number, step: number): number => Math.floor(ms / step) * step;
export const ceilTo = (ms: number, step: number): number => Math.ceil(ms / step) * step;

export const iso = (ms: number): string => new Date(ms).toISOString().replace('.000Z', 'Z');
