import { z } from 'zod';
import type { MetricValues } from '../metrics.ts';
import {
  checkMetric,
  convertUnit,
  type DecodedReading,
  type DecodeResult,
  type FieldRejection,
  failed,
  hasValues,
  isPlainObject,
  parseDeviceTime,
  parseJson,
} from '../reading.ts';
import { SCK_ID_FOR_METRIC, SCK_SENSORS } from '../sck-sensors.ts';

/** The platform's documented JSON (CONTRACT §2.2), as a zod object. */
export const sckJsonSchema = z.object({
  data: z
    .array(
      z.object({
        recorded_at: z.string(),
        sensors: z.array(z.object({ id: z.number().int(), value: z.number().nullable() })),
      }),
    )
    .min(1),
});

export const MAX_SCK_ENTRIES = 1000;

/** Adds one sensor value to a reading, through the sensor-id table. */
function addSensor(
  id: unknown,
  raw: unknown,
  field: string,
  values: MetricValues,
  rejections: FieldRejection[],
): void {
  const sensor = typeof id === 'number' ? SCK_SENSORS[id] : undefined;
  if (!sensor) {
    rejections.push({
      field,
      reason: 'unknown_sensor',
      detail: `unknown Smart Citizen sensor id ${String(id)}`,
    });
    return;
  }
  if (raw === null) return;
  const scaled = typeof raw === 'number' && sensor.factor ? convertUnit(raw, sensor.factor) : raw;
  const v = checkMetric(sensor.metric, scaled, field, rejections);
  if (v !== undefined) values[sensor.metric] = v;
}

/**
 * The raw format of current kit firmware: not JSON, unquoted ids, one time per message, e.g.
 * `{t:2026-11-22T10:15:00Z,87:8.2,53:58.4}`. Spaces are allowed, `t` may stand anywhere, `:null` is dropped.
 */
export function decodeSckRaw(payload: string): DecodeResult {
  const text = payload.trim();
  if (!text.startsWith('{') || !text.endsWith('}'))
    return failed('malformed', 'raw SCK payload must be {t:...,id:value,...}');
  const body = text.slice(1, -1).trim();
  if (body === '') return failed('no_valid_values', 'empty raw SCK payload');
  const rejections: FieldRejection[] = [];
  const values: MetricValues = {};
  let ts: Date | undefined;
  for (const part of body.split(',')) {
    const colon = part.indexOf(':');
    if (colon < 0) {
      rejections.push({ field: part.trim().slice(0, 32), reason: 'malformed', detail: 'expected id:value' });
      continue;
    }
    const key = part.slice(0, colon).trim();
    const val = part.slice(colon + 1).trim();
    if (key === 't') {
      ts = parseDeviceTime(val, 't', rejections);
      continue;
    }
    if (!/^\d{1,6}$/.test(key)) {
      rejections.push({ field: key.slice(0, 32), reason: 'malformed', detail: 'sensor id must be a number' });
      continue;
    }
    if (val === 'null') continue;
    const num = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(val) ? Number(val) : Number.NaN;
    addSensor(Number(key), Number.isNaN(num) ? val : num, key, values, rejections);
  }
  if (!hasValues(values))
    return failed('no_valid_values', 'no valid sensor value in the message', rejections);
  const reading: DecodedReading = { values };
  if (ts) reading.ts = ts;
  return { readings: [reading], rejections };
}

/** The platform's documented JSON: `{"data":[{"recorded_at":"...","sensors":[{"id":87,"value":8.2}]}]}`. */
export function decodeSckJson(payload: string): DecodeResult {
  const parsed = parseJson(payload);
  if (!parsed.ok) return failed('not_json', parsed.detail);
  const body = parsed.value;
  if (!isPlainObject(body) || !Array.isArray(body.data))
    return failed('schema', 'payload must be {"data":[...]}');
  if (body.data.length > MAX_SCK_ENTRIES)
    return failed('too_many_readings', `more than ${MAX_SCK_ENTRIES} entries`);
  const rejections: FieldRejection[] = [];
  const readings: DecodedReading[] = [];
  body.data.forEach((entry, i) => {
    if (!isPlainObject(entry) || !Array.isArray(entry.sensors)) {
      rejections.push({ field: `data[${i}]`, reason: 'schema', detail: 'entry must have a sensors array' });
      return;
    }
    const values: MetricValues = {};
    entry.sensors.forEach((s, j) => {
      if (!isPlainObject(s)) {
        rejections.push({
          field: `data[${i}].sensors[${j}]`,
          reason: 'schema',
          detail: 'sensor must be {id,value}',
        });
        return;
      }
      addSensor(s.id, s.value, `data[${i}].sensors[${j}]`, values, rejections);
    });
    if (!hasValues(values)) return;
    const r: DecodedReading = { values };
    const ts = parseDeviceTime(entry.recorded_at, `data[${i}].recorded_at`, rejections);
    if (ts) r.ts = ts;
    readings.push(r);
  });
  if (readings.length === 0)
    return failed('no_valid_values', 'no valid sensor value in the message', rejections);
  return { readings, rejections };
}

const sckEntries = (values: MetricValues) =>
  Object.entries(values).flatMap(([m, v]) => {
    const id = SCK_ID_FOR_METRIC[m as keyof MetricValues];
    if (id === undefined || v === undefined) return [];
    const factor = SCK_SENSORS[id]?.factor ?? 1;
    return [{ id, value: Math.round((v / factor) * 1000) / 1000 }];
  });

/** What kit firmware sends on `readings/raw` (used by the simulator and tests). */
export function encodeSckRaw(ts: Date, values: MetricValues): string {
  const parts = sckEntries(values).map((e) => `${e.id}:${e.value}`);
  return `{t:${ts.toISOString().replace(/\.\d{3}Z$/, 'Z')},${parts.join(',')}}`;
}

export function encodeSckJson(ts: Date, values: MetricValues): string {
  return JSON.stringify({ data: [{ recorded_at: ts.toISOString(), sensors: sckEntries(values) }] });
}
