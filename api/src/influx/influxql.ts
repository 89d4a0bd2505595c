import { DB_TO_ENERGY_EXP } from '@citytel/contract';

/**
 * InfluxQL text built from values, never by pasting request strings. Every value a request supplies is
 * first validated by its route's zod schema (ids, metric names, numbers, times), and is then written here
 * through one of these escapes, so that a value that slipped past validation still cannot end a literal or
 * an identifier. Grammar: https://docs.influxdata.com/influxdb/v1/query_language/spec/ (literals, identifiers).
 */

/** A double-quoted identifier (measurement, field, tag key): `"` and `\` escaped, newlines refused. */
export function ident(name: string): string {
  if (/[\n\r\0]/.test(name)) throw new InfluxqlError(`identifier contains a control character`);
  return `"${name.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** A single-quoted string literal (tag values): `'` and `\` escaped, newlines refused. */
export function str(value: string): string {
  if (/[\n\r\0]/.test(value)) throw new InfluxqlError(`string literal contains a control character`);
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** A finite number literal; NaN and ±Infinity have no InfluxQL spelling. */
export function num(value: number): string {
  if (!Number.isFinite(value)) throw new InfluxqlError(`${value} is not a finite number`);
  // Exponent notation (1e-7) is not InfluxQL: write plain decimals.
  return Number.isInteger(value) ? String(value) : value.toFixed(12).replace(/0+$/, '');
}

/** An absolute time as epoch milliseconds: `1764064800000ms`. */
export function time(ms: number): string {
  if (!Number.isSafeInteger(ms)) throw new InfluxqlError(`time ${ms} is not an integer of milliseconds`);
  return `${ms}ms`;
}

/** A duration literal in whole milliseconds, for GROUP BY time(...). */
export function duration(ms: number): string {
  if (!Number.isSafeInteger(ms) || ms <= 0)
    throw new InfluxqlError(`duration ${ms} must be a positive integer`);
  return `${ms}ms`;
}

/** Characters a regex literal may carry unescaped; anything else is escaped or refused. */
const REGEX_SAFE = /^[A-Za-z0-9_-]*$/;

/**
 * A regex literal matching exactly one of `values` (`/^(?:a|b)$/`), or any value starting with one of them
 * when `prefix`. Only plain `[A-Za-z0-9_-]` values are accepted: geohash cells and ids, nothing a user
 * could turn into a pattern.
 */
export function oneOf(values: readonly string[], prefix = false): string {
  if (values.length === 0) throw new InfluxqlError('an alternation needs at least one value');
  for (const v of values) {
    if (!REGEX_SAFE.test(v) || v === '') throw new InfluxqlError(`"${v}" cannot go into a regex literal`);
  }
  return `/^(?:${values.join('|')})${prefix ? '' : '$'}/`;
}

/** `"tag" = 'value'`. */
export const tagEquals = (tag: string, value: string): string => `${ident(tag)} = ${str(value)}`;

/** `time >= from AND time < to`: half-open, like every window of the api. */
export const timeRange = (fromMs: number, toMs: number): string =>
  `time >= ${time(fromMs)} AND time < ${time(toMs)}`;

/** Joins conditions with AND, each in parentheses; empty parts are left out. */
export const and = (...conds: Array<string | undefined | false>): string =>
  conds
    .filter((c): c is string => typeof c === 'string' && c.length > 0)
    .map((c) => `(${c})`)
    .join(' AND ');

export type Aggregate = 'mean' | 'median' | 'min' | 'max' | 'count' | 'sum' | 'first' | 'last';

/** `mean("pm25")`, or `percentile("pm25", 95)` for `p95`. */
export function call(fn: Aggregate | `p${number}`, field: string): string {
  if (fn.startsWith('p')) {
    const n = Number(fn.slice(1));
    if (!Number.isInteger(n) || n < 1 || n > 99) throw new InfluxqlError(`unknown percentile ${fn}`);
    return `percentile(${ident(field)}, ${n})`;
  }
  return `${fn}(${ident(field)})`;
}

/** `expr AS "alias"`. */
export const as = (expr: string, alias: string): string => `${expr} AS ${ident(alias)}`;

export interface SelectParts {
  fields: string[];
  /** A measurement, or a subquery already built by `select` (written in parentheses). */
  from: string | { sub: string };
  /** Retention policy (1.x), when not the database's default. */
  rp?: string | undefined;
  where?: string;
  groupBy?: Array<string | { time: number }>;
  fill?: 'null' | 'none';
  orderDesc?: boolean;
  limit?: number;
}

/** Assembles one SELECT statement from already-escaped parts. */
export function select(p: SelectParts): string {
  if (p.fields.length === 0) throw new InfluxqlError('SELECT needs at least one field');
  const from =
    typeof p.from === 'string' ? `${p.rp ? `${ident(p.rp)}.` : ''}${ident(p.from)}` : `(${p.from.sub})`;
  let q = `SELECT ${p.fields.join(', ')} FROM ${from}`;
  if (p.where) q += ` WHERE ${p.where}`;
  if (p.groupBy?.length) {
    q += ` GROUP BY ${p.groupBy.map((g) => (typeof g === 'string' ? ident(g) : `time(${duration(g.time)})`)).join(', ')}`;
  }
  if (p.fill) q += ` fill(${p.fill})`;
  if (p.orderDesc) q += ' ORDER BY time DESC';
  if (p.limit !== undefined) {
    if (!Number.isSafeInteger(p.limit) || p.limit < 1) throw new InfluxqlError(`bad LIMIT ${p.limit}`);
    q += ` LIMIT ${p.limit}`;
  }
  return q;
}

export class InfluxqlError extends Error {
  override name = 'InfluxqlError';
}

/**
 * `exp("m" * ln10/10) AS "alias"`: the energy 10^(L/10) of a level in dB, per point. InfluxQL has no
 * aggregate of an expression (`sum(exp(...))` is refused), so sums of energy are taken by an outer query
 * over a subquery of these (`energySubquery`), which InfluxDB 1.x has had since 1.2 and 1.6.7 runs.
 */
export const energyOf = (field: string, alias: string): string =>
  as(`exp(${ident(field)} * ${String(DB_TO_ENERGY_EXP)})`, alias);

/**
 * The points of `where` with the energy of `metric` as `"{metric}_e"`, the level itself and `extra` fields
 * beside it, for an outer query to sum, count and take extremes of. Why server-side and not an energy field
 * written at ingest: it is exact on every reading ever stored (no migration, old points included) and
 * costs ingest nothing; InfluxDB sums the same points either way.
 */
export function energySubquery(
  metric: string,
  measurement: string,
  where: string,
  extra: readonly string[] = [],
): { sub: string } {
  return {
    sub: select({
      fields: [energyOf(metric, energyField(metric)), ident(metric), ...extra.map(ident)],
      from: measurement,
      where,
    }),
  };
}

/** The name of a metric's per-point energy in `energySubquery`. */
export const energyField = (metric: string): string => `${metric}_e`;
