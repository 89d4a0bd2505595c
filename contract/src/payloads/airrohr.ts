import { z } from 'zod';
import { AIRROHR_TYPE_FOR_METRIC, airrohrField } from '../airrohr-types.ts';
import type { MetricValues } from '../metrics.ts';
import {
  checkMetric,
  checkPosition,
  convertUnit,
  type DecodedReading,
  type DecodeResult,
  type FieldRejection,
  failed,
  hasValues,
  isPlainObject,
  parseJson,
} from '../reading.ts';

/** The body of the stock firmware's "send to own API" option (CONTRACT §2.3). */
export const airrohrBodySchema = z.object({
  esp8266id: z.string().optional(),
  software_version: z.string().optional(),
  sensordatavalues: z.array(z.object({ value_type: z.string(), value: z.union([z.string(), z.number()]) })),
});
export type AirrohrBody = z.infer<typeof airrohrBodySchema>;

const NUMBER = /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/;

/** Decodes an airrohr body. It carries no time: the receive time is always used. */
export function decodeAirrohr(payload: string): DecodeResult {
  const parsed = parseJson(payload);
  if (!parsed.ok) return failed('not_json', parsed.detail);
  const body = parsed.value;
  if (!isPlainObject(body) || !Array.isArray(body.sensordatavalues)) {
    return failed('schema', 'payload must have a sensordatavalues array');
  }
  if (body.sensordatavalues.length > 500)
    return failed('too_many_readings', 'more than 500 sensordatavalues');
  const rejections: FieldRejection[] = [];
  const values: MetricValues = {};
  let lat: number | undefined;
  let lon: number | undefined;
  let pmSensor: string | undefined;
  for (const item of body.sensordatavalues) {
    if (!isPlainObject(item) || typeof item.value_type !== 'string') {
      rejections.push({
        field: 'sensordatavalues',
        reason: 'schema',
        detail: 'item must be {value_type,value}',
      });
      continue;
    }
    const type = item.value_type.slice(0, 64);
    const field = airrohrField(type);
    if (!field) continue; // samples, signal, min_micro...: firmware diagnostics, not measurements
    const raw = item.value;
    const num =
      typeof raw === 'number' ? raw : typeof raw === 'string' && NUMBER.test(raw) ? Number(raw) : raw;
    if ('position' in field) {
      if (typeof num !== 'number')
        rejections.push({ field: type, reason: 'wrong_type', detail: `${type} must be a number` });
      else if (field.position === 'lat') lat = num;
      else lon = num;
      continue;
    }
    const scaled = typeof num === 'number' && field.factor ? convertUnit(num, field.factor) : num;
    const v = checkMetric(field.metric, scaled, type, rejections);
    if (v !== undefined) {
      values[field.metric] = v;
      if (field.metric.startsWith('pm')) pmSensor = type.slice(0, type.lastIndexOf('_'));
    }
  }
  if (!hasValues(values))
    return failed('no_valid_values', 'no valid sensor value in the message', rejections);
  const reading: DecodedReading = { values };
  if (pmSensor) reading.pmSensor = pmSensor;
  const position = checkPosition(lat, lon, rejections);
  if (position) reading.position = position;
  const result: DecodeResult = { readings: [reading], rejections };
  if (typeof body.software_version === 'string' && body.software_version)
    result.firmware = body.software_version.slice(0, 200);
  return result;
}

/** The chip id the firmware puts in `X-Sensor: esp8266-{chipid}` (or `esp32-`). */
export const AIRROHR_SENSOR_HEADER = /^esp(8266|32)-(\d+)$/;

/** What the stock firmware POSTs (values as strings, no time), for the simulator and tests. */
export function encodeAirrohr(
  chipId: string,
  values: MetricValues,
  position?: { lat: number; lon: number },
): AirrohrBody {
  const sensordatavalues: AirrohrBody['sensordatavalues'] = [];
  for (const [m, v] of Object.entries(values)) {
    const type = AIRROHR_TYPE_FOR_METRIC[m as keyof MetricValues];
    if (!type || v === undefined) continue;
    const sent = m === 'pressure' ? v * 100 : v;
    sensordatavalues.push({ value_type: type, value: sent.toFixed(2) });
  }
  if (position) {
    sensordatavalues.push({ value_type: 'GPS_lat', value: position.lat.toFixed(6) });
    sensordatavalues.push({ value_type: 'GPS_lon', value: position.lon.toFixed(6) });
  }
  sensordatavalues.push({ value_type: 'samples', value: '880000' }, { value_type: 'signal', value: '-70' });
  return { esp8266id: chipId, software_version: 'NRZ-2024-135', sensordatavalues };
}
