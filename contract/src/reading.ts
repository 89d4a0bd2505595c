import { z } from 'zod';
import { type Position, positionProblem } from './geo.ts';
import { METRICS, type Metric, type MetricValues } from './metrics.ts';

/** Why a message or a field was refused. Stable codes: they are counted, logged and served by the api. */
export const REJECTION_REASONS = [
  'not_json',
  'malformed',
  'schema',
  'no_valid_values',
  'too_many_readings',
  'wrong_type',
  'out_of_range',
  'bad_position',
  'missing_position',
  'bad_time',
  'unknown_sensor',
  'unknown_device',
  'too_large',
] as const;
export type RejectionReason = (typeof REJECTION_REASONS)[number];

export interface FieldRejection {
  field: string;
  reason: RejectionReason;
  detail: string;
}

/** One reading as a decoder sees it, before the registry and the broker's clock are applied. */
export interface DecodedReading {
  /** Device time, when the payload carried a parseable one. */
  ts?: Date;
  /** The PM sensor as the payload names it (airrohr `SDS`, `PMS`...), which picks its humidity correction. */
  pmSensor?: string;
  position?: Position;
  values: MetricValues;
}

export interface DecodeResult {
  readings: DecodedReading[];
  /** Fields dropped while the rest of their message was kept. */
  rejections: FieldRejection[];
  /** Set when nothing of the message could be kept. */
  error?: { reason: RejectionReason; detail: string };
  /** The firmware version the message itself names (airrohr `software_version`), kept as the device's. */
  firmware?: string;
}

export const failed = (
  reason: RejectionReason,
  detail: string,
  rejections: FieldRejection[] = [],
): DecodeResult => ({
  readings: [],
  rejections,
  error: { reason, detail },
});

/** One zod schema per metric with its plausible range, built once from the METRICS table. */
export const metricSchemas = Object.fromEntries(
  Object.entries(METRICS).map(([m, d]) => [m, z.number().finite().min(d.min).max(d.max)]),
) as Record<Metric, z.ZodNumber>;

/**
 * The range of `metricSchemas`, checked directly: decoders call this for every value of every reading, and
 * a zod parse per value (its result object included) was most of a reading's validation cost.
 */
export function inRange(metric: Metric, v: number): boolean {
  const d = METRICS[metric];
  return v >= d.min && v <= d.max;
}

/** Checks one metric value; pushes a rejection and returns undefined when it is not kept. */
export function checkMetric(
  metric: Metric,
  raw: unknown,
  field: string,
  rejections: FieldRejection[],
): number | undefined {
  if (raw === null || raw === undefined) return undefined;
  if (typeof raw !== 'number' || !Number.isFinite(raw)) {
    rejections.push({ field, reason: 'wrong_type', detail: `${field} must be a finite number` });
    return undefined;
  }
  if (!inRange(metric, raw)) {
    const d = METRICS[metric];
    rejections.push({
      field,
      reason: 'out_of_range',
      detail: `${field} ${raw} outside ${d.min}..${d.max} ${d.unit}`,
    });
    return undefined;
  }
  return raw;
}

/** Checks a lat/lon pair; returns the position or pushes the reason it was refused. */
export function checkPosition(
  lat: unknown,
  lon: unknown,
  rejections: FieldRejection[],
): Position | undefined {
  if (lat === undefined && lon === undefined) return undefined;
  if (lat === null && lon === null) return undefined;
  const problem = positionProblem(lat, lon);
  if (problem) {
    rejections.push({ field: 'position', reason: 'bad_position', detail: problem });
    return undefined;
  }
  return { lat: lat as number, lon: lon as number };
}

/** Devices whose clock is unset report 1970 or 2000; no kit we accept was sold before 2010. */
const EARLIEST_PLAUSIBLE = Date.UTC(2010, 0, 1);
export const MAX_FUTURE_MS = 5 * 60 * 1000;

/** The largest time a Date holds (ECMA-262 §21.4.1.1); beyond it, `new Date(ms)` is Invalid. */
const MAX_DATE_MS = 8.64e15;

/** Parses a device timestamp: ISO 8601 text, or epoch seconds / milliseconds as many Arduino kits send. */
export function parseDeviceTime(raw: unknown, field: string, rejections: FieldRejection[]): Date | undefined {
  if (raw === undefined || raw === null || raw === '') return undefined;
  const ms = deviceTimeMs(raw);
  if (ms === undefined) {
    rejections.push({ field, reason: 'bad_time', detail: `${field} is not an ISO 8601 time or epoch` });
    return undefined;
  }
  return new Date(ms);
}

/** The time `parseDeviceTime` reads, in ms, or undefined when it is none (without naming the field). */
export function deviceTimeMs(raw: unknown): number | undefined {
  let ms: number | undefined;
  if (typeof raw === 'number' && Number.isFinite(raw)) ms = raw > 1e12 ? raw : raw * 1000;
  else if (typeof raw === 'string') ms = isoUtcMs(raw) ?? (ISO_START.test(raw) ? Date.parse(raw) : undefined);
  // Beyond ±8.64e15 ms a Date is Invalid: such a number is no time either.
  if (ms === undefined || !Number.isFinite(ms) || Math.abs(ms) > MAX_DATE_MS) return undefined;
  return ms;
}

const ISO_START = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}/;

/**
 * `Date.parse` of the form kits and `toISOString` write, `YYYY-MM-DDTHH:MM:SS[.sss]Z`, read by hand:
 * Date.parse's general parser was most of the cost of a reading's time. Any other text (another form, an
 * offset, a field out of range, a year below 100 that Date.UTC would take for 19xx) gives undefined and
 * is left to Date.parse. Days up to 31 roll over into the next month in both, as ECMA-262's MakeDay does.
 */
function isoUtcMs(s: string): number | undefined {
  const n = s.length;
  if ((n !== 20 && n !== 24) || s.charCodeAt(n - 1) !== 90) return undefined; // Z
  if (s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || s.charCodeAt(10) !== 84) return undefined; // - - T
  if (s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58) return undefined; // : :
  if (n === 24 && s.charCodeAt(19) !== 46) return undefined; // .
  const y = two(s, 0) * 100 + two(s, 2);
  const mo = two(s, 5);
  const d = two(s, 8);
  const h = two(s, 11);
  const mi = two(s, 14);
  const sec = two(s, 17);
  const ms = n === 24 ? two(s, 20) * 10 + digit(s, 22) : 0;
  // A non-digit makes its field negative (see `two`), which every bound below refuses.
  if (y < 100 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59)
    return undefined;
  if (sec < 0 || sec > 59 || ms < 0) return undefined;
  return daysFromCivil(y, mo, d) * 86_400_000 + h * 3_600_000 + mi * 60_000 + sec * 1000 + ms;
}

/** The digit at `at`, or a large negative number if it is none. */
function digit(s: string, at: number): number {
  const c = s.charCodeAt(at) - 48;
  return c >= 0 && c <= 9 ? c : -100_000;
}

/** The two digits at `at` as a number, negative if either is no digit (even times 100 plus two more). */
const two = (s: string, at: number): number => digit(s, at) * 10 + digit(s, at + 1);

/**
 * Days since 1970-01-01 of year y (≥ 100), month 1–12, day 1–31, by H. Hinnant's days_from_civil: the
 * day of Date.UTC (MakeDay; a day past its month's end rolls over, the count being linear in the day)
 * without calling it, which cost as much as the rest of the reading's time.
 */
function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y; // years begin in March, so a leap day ends its year
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

export type TimeSource = 'device' | 'broker';

/** Oldest device time taken by default: older, a kit's clock is wrong (or it replays a week-old buffer). */
export const DEFAULT_MAX_DEVICE_AGE_MS = 7 * 86_400_000;

/**
 * CONTRACT §2: a device time more than 5 minutes in the future, older than `maxAgeMs` (default 7 days)
 * before its receipt, absent, or from an unset clock is replaced by the broker's receive time.
 */
export function resolveTime(
  device: Date | undefined,
  receivedAt: Date,
  maxAgeMs = DEFAULT_MAX_DEVICE_AGE_MS,
): { ts: Date; source: TimeSource } {
  const t = device?.getTime();
  if (t === undefined || !isPlausibleTime(t, receivedAt.getTime(), maxAgeMs))
    return { ts: receivedAt, source: 'broker' };
  return { ts: device!, source: 'device' };
}

/** `resolveTime`'s test alone, on epoch ms (NaN is not plausible): what ingest asks of every reading. */
export const isPlausibleTime = (
  t: number,
  receivedAtMs: number,
  maxAgeMs = DEFAULT_MAX_DEVICE_AGE_MS,
): boolean => t >= EARLIEST_PLAUSIBLE && t <= receivedAtMs + MAX_FUTURE_MS && t >= receivedAtMs - maxAgeMs;

/** Why `isPlausibleTime` refused a time, in words (for the field rejection a kit's owner reads). */
export function implausibleTimeReason(
  t: number,
  receivedAtMs: number,
  maxAgeMs = DEFAULT_MAX_DEVICE_AGE_MS,
): string {
  if (Number.isNaN(t)) return 'invalid';
  if (t > receivedAtMs + MAX_FUTURE_MS)
    return `more than ${MAX_FUTURE_MS / 60_000} min ahead of the receive time`;
  if (t < EARLIEST_PLAUSIBLE) return 'before 2010 (clock unset)';
  return `older than ${Math.round(maxAgeMs / 3_600_000)} h before its receipt`;
}

export const hasValues = (v: object): boolean => Object.keys(v).length > 0;

/** Parses JSON without throwing. */
export function parseJson(text: string): { ok: true; value: unknown } | { ok: false; detail: string } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (e) {
    return { ok: false, detail: (e as Error).message.slice(0, 200) };
  }
}

export const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Converts a value to the stored unit without binary noise (101.23 kPa × 10 is 1012.3000000000001 in
 * floating point; kits report at most a few decimals, so 6 are kept).
 */
export const convertUnit = (value: number, factor: number): number => Math.round(value * factor * 1e6) / 1e6;
