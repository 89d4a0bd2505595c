import { z } from 'zod';
import { METRIC_NAMES, type Metric, type MetricValues } from '../metrics.ts';
import {
  checkMetric,
  checkPosition,
  type DecodedReading,
  type DecodeResult,
  deviceTimeMs,
  type FieldRejection,
  failed,
  inRange,
  isPlainObject,
  metricSchemas,
  parseDeviceTime,
  parseJson,
} from '../reading.ts';

/** The native reading of CONTRACT §2.1, as a zod object (documentation, simulator, OpenAPI). */
export const nativeReadingSchema = z
  .object({
    ts: z.iso.datetime({ offset: true }).optional(),
    lat: z.number().min(-90).max(90).optional(),
    lon: z.number().min(-180).max(180).optional(),
    ...Object.fromEntries(METRIC_NAMES.map((m) => [m, metricSchemas[m].optional()])),
  })
  .describe('Native sensor kit reading (CONTRACT §2.1)');
export type NativeReading = { ts?: string; lat?: number; lon?: number } & MetricValues;

export const nativeBatchSchema = z.object({ readings: z.array(nativeReadingSchema).min(1).max(1000) });

export const MAX_BATCH_READINGS = 1000;

const KNOWN_KEYS = new Set(['ts', 'lat', 'lon', ...METRIC_NAMES]);

/** `readings[i].` in a batch, nothing for a single reading: built only to name a refused field. */
const prefixOf = (index: number | undefined) => (index === undefined ? '' : `readings[${index}].`);

function decodeOne(
  o: Record<string, unknown>,
  index: number | undefined,
  rejections: FieldRejection[],
): DecodedReading | undefined {
  const values = plainValues(o) ?? checkedValues(o, index, rejections);
  if (values === undefined) return undefined;
  const raw = o.ts;
  let ms: number | undefined;
  if (raw !== undefined && raw !== null && raw !== '') {
    ms = deviceTimeMs(raw);
    if (ms === undefined) parseDeviceTime(raw, `${prefixOf(index)}ts`, rejections);
  }
  // Made whole, with its time, rather than given `ts` afterwards: the same keys in the same order, but the
  // object is allocated at its final shape instead of growing a property store per reading.
  const r: DecodedReading = ms === undefined ? { values } : { values, ts: new Date(ms) };
  const position = checkPosition(o.lat, o.lon, rejections);
  if (position) r.position = position;
  return r;
}

/**
 * The values of a reading with nothing to refuse — the usual one: only known keys, every metric a plausible
 * number, metrics in METRIC_NAMES order — found by walking its own keys (for…in, cached by V8) instead of
 * looking every metric up by name (a keyed load each, most of a reading's decoding). The same object
 * `checkedValues` would build, keys in the same order. Undefined for any other reading, which
 * `checkedValues` then decodes and explains.
 *
 * Each key is looked for in METRIC_NAMES from just after the previous one: keys parsed from JSON are
 * internalized strings, so each comparison is a pointer compare, far cheaper than a Map lookup per key; a
 * metric out of order is not found ahead, which sends the reading to `checkedValues` as it must.
 */
function plainValues(o: Record<string, unknown>): MetricValues | undefined {
  const values: MetricValues = {};
  const names = METRIC_NAMES;
  let next = 0;
  for (const k in o) {
    let i = next;
    while (i < names.length && names[i] !== k) i++;
    if (i === names.length) {
      if (k === 'ts' || k === 'lat' || k === 'lon') continue;
      return undefined;
    }
    const raw = o[k];
    if (typeof raw !== 'number' || !Number.isFinite(raw) || !inRange(names[i]!, raw)) return undefined;
    next = i + 1;
    values[k as Metric] = raw;
  }
  return next > 0 ? values : undefined;
}

/** A reading's kept values, each refused one and each unknown key explained; undefined when none is kept. */
function checkedValues(
  o: Record<string, unknown>,
  index: number | undefined,
  rejections: FieldRejection[],
): MetricValues | undefined {
  const values: MetricValues = {};
  let kept = 0;
  for (const m of METRIC_NAMES) {
    const raw = o[m];
    if (raw === undefined) continue;
    // The usual value is kept without building its field name, which only a rejection needs.
    if (typeof raw === 'number' && Number.isFinite(raw) && inRange(m, raw)) {
      values[m] = raw;
      kept++;
    } else {
      const v = checkMetric(m, raw, `${prefixOf(index)}${m}`, rejections);
      if (v !== undefined) {
        values[m] = v;
        kept++;
      }
    }
  }
  for (const k in o) {
    if (!KNOWN_KEYS.has(k))
      rejections.push({ field: `${prefixOf(index)}${k}`, reason: 'schema', detail: `unknown field ${k}` });
  }
  return kept === 0 ? undefined : values;
}

/** Decodes a native reading or a `{"readings":[...]}` batch. */
export function decodeNative(payload: string): DecodeResult {
  const parsed = parseJson(payload);
  if (!parsed.ok) return failed('not_json', parsed.detail);
  const body = parsed.value;
  if (!isPlainObject(body)) return failed('schema', 'payload must be a JSON object');
  const rejections: FieldRejection[] = [];
  const readings: DecodedReading[] = [];
  if ('readings' in body) {
    const list = body.readings;
    if (!Array.isArray(list)) return failed('schema', 'readings must be an array');
    if (list.length > MAX_BATCH_READINGS) {
      return failed('too_many_readings', `batch of ${list.length} readings, at most ${MAX_BATCH_READINGS}`);
    }
    for (let i = 0; i < list.length; i++) {
      const item: unknown = list[i];
      if (!isPlainObject(item)) {
        rejections.push({ field: `readings[${i}]`, reason: 'schema', detail: 'reading must be an object' });
        continue;
      }
      const r = decodeOne(item, i, rejections);
      if (r) readings.push(r);
    }
  } else {
    const r = decodeOne(body, undefined, rejections);
    if (r) readings.push(r);
  }
  if (readings.length === 0) return failed('no_valid_values', 'no valid metric in the message', rejections);
  return { readings, rejections };
}
