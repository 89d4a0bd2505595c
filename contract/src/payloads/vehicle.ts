import { z } from 'zod';
import type { Position } from '../geo.ts';
import { METRIC_NAMES, type MetricValues } from '../metrics.ts';
import {
  checkMetric,
  checkPosition,
  type DecodedReading,
  type FieldRejection,
  hasValues,
  isPlainObject,
  metricSchemas,
  parseDeviceTime,
  parseJson,
  type RejectionReason,
} from '../reading.ts';

/** Numeric vehicle fields and their plausible ranges (CONTRACT §2.4). */
export const VEHICLE_FIELDS = {
  speed_kmh: { min: 0, max: 300 },
  heading: { min: 0, max: 360 },
  odometer_km: { min: 0, max: 5_000_000 },
  fuel_pct: { min: 0, max: 100 },
  battery_pct: { min: 0, max: 100 },
  // 12 V auxiliary batteries up to 800 V traction packs.
  battery_v: { min: 0, max: 1000 },
} as const;
export type VehicleNumericField = keyof typeof VEHICLE_FIELDS;
export const VEHICLE_BOOLEANS = ['ignition', 'locked', 'doors_closed'] as const;
export type VehicleBooleanField = (typeof VEHICLE_BOOLEANS)[number];

const numberField = (f: VehicleNumericField) =>
  z.number().min(VEHICLE_FIELDS[f].min).max(VEHICLE_FIELDS[f].max).nullable().optional();

export const vehicleTelemetrySchema = z
  .object({
    ts: z.iso.datetime({ offset: true }).optional(),
    lat: z.number().min(-90).max(90),
    lon: z.number().min(-180).max(180),
    speed_kmh: numberField('speed_kmh'),
    heading: numberField('heading'),
    odometer_km: numberField('odometer_km'),
    fuel_pct: numberField('fuel_pct'),
    battery_pct: numberField('battery_pct'),
    battery_v: numberField('battery_v'),
    ignition: z.boolean().optional(),
    locked: z.boolean().optional(),
    doors_closed: z.boolean().optional(),
    air: z.object(Object.fromEntries(METRIC_NAMES.map((m) => [m, metricSchemas[m].optional()]))).optional(),
  })
  .describe('On-board unit telemetry (CONTRACT §2.4)');
export type VehicleTelemetry = z.infer<typeof vehicleTelemetrySchema>;

export interface DecodedVehicle {
  ts?: Date;
  position?: Position;
  numbers: Partial<Record<VehicleNumericField, number>>;
  flags: Partial<Record<VehicleBooleanField, boolean>>;
  /** The optional air block, as a mobile reading at the car's position. */
  air?: DecodedReading;
}

export type VehicleDecodeResult =
  | { ok: true; vehicle: DecodedVehicle; rejections: FieldRejection[] }
  | { ok: false; reason: RejectionReason; detail: string; rejections: FieldRejection[] };

export function decodeVehicleTelemetry(payload: string): VehicleDecodeResult {
  const parsed = parseJson(payload);
  if (!parsed.ok) return { ok: false, reason: 'not_json', detail: parsed.detail, rejections: [] };
  const o = parsed.value;
  if (!isPlainObject(o))
    return { ok: false, reason: 'schema', detail: 'payload must be a JSON object', rejections: [] };
  const rejections: FieldRejection[] = [];
  const vehicle: DecodedVehicle = { numbers: {}, flags: {} };
  for (const [f, range] of Object.entries(VEHICLE_FIELDS) as [
    VehicleNumericField,
    { min: number; max: number },
  ][]) {
    const raw = o[f];
    if (raw === undefined || raw === null) continue;
    if (typeof raw !== 'number' || !Number.isFinite(raw)) {
      rejections.push({ field: f, reason: 'wrong_type', detail: `${f} must be a finite number` });
    } else if (raw < range.min || raw > range.max) {
      rejections.push({
        field: f,
        reason: 'out_of_range',
        detail: `${f} ${raw} outside ${range.min}..${range.max}`,
      });
    } else vehicle.numbers[f] = raw;
  }
  for (const f of VEHICLE_BOOLEANS) {
    const raw = o[f];
    if (raw === undefined || raw === null) continue;
    if (typeof raw === 'boolean') vehicle.flags[f] = raw;
    else rejections.push({ field: f, reason: 'wrong_type', detail: `${f} must be true or false` });
  }
  const ts = parseDeviceTime(o.ts, 'ts', rejections);
  if (ts) vehicle.ts = ts;
  const position = checkPosition(o.lat, o.lon, rejections);
  if (position) vehicle.position = position;
  if (o.air !== undefined && o.air !== null) {
    if (!isPlainObject(o.air))
      rejections.push({ field: 'air', reason: 'schema', detail: 'air must be an object' });
    else {
      const values: MetricValues = {};
      for (const m of METRIC_NAMES) {
        const v = checkMetric(m, o.air[m], `air.${m}`, rejections);
        if (v !== undefined) values[m] = v;
      }
      if (hasValues(values)) {
        // A reading without a position cannot be placed on the map: the car's own position is required.
        if (position) vehicle.air = { values, position, ...(ts ? { ts } : {}) };
        else
          rejections.push({
            field: 'air',
            reason: 'missing_position',
            detail: 'air reading without a valid position',
          });
      }
    }
  }
  if (!position && !hasValues(vehicle.numbers) && !hasValues(vehicle.flags)) {
    return { ok: false, reason: 'no_valid_values', detail: 'no valid field in the telemetry', rejections };
  }
  return { ok: true, vehicle, rejections };
}

/** Retained `vehicles/{id}/status`, also the last will `{"online":false}`. */
export const vehicleStatusSchema = z.object({
  online: z.boolean(),
  locked: z.boolean().optional(),
  ts: z.union([z.string(), z.number()]).optional(),
});
export type VehicleStatus = z.infer<typeof vehicleStatusSchema>;
