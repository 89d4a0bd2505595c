import {
  type DeviceKind,
  type LocationClass,
  MEASUREMENTS,
  METRIC_NAMES,
  type MetricValues,
  POSITION_FIELDS,
  type Position,
  READING_TAGS,
  TIME_SOURCE_FIELD,
  VEHICLE_TAGS,
  type VehicleBooleanField,
  type VehicleNumericField,
} from '@citytel/contract';

/**
 * The InfluxDB schema of the contract (influx-schema.ts, documented in ../README.md), as line protocol
 * built by hand: one string per point, no intermediate objects on the hot path.
 *
 * Tag values need no escaping: device ids are `[A-Za-z0-9_-]` (CONTRACT §1), geohashes are base32, and
 * kinds and location classes are fixed words. Tag keys are written in lexical order, as InfluxDB sorts them.
 */

/** Which clock a point's time comes from: the device's, the broker's stamp, or ingest's own (unstamped). */
export type TimeSource = 'device' | 'broker' | 'ingest';

export interface ReadingTags {
  device: string;
  kind: DeviceKind;
  loc: LocationClass;
  geohash: string;
}

const T = READING_TAGS;
/** The series of a reading point: measurement and tags, the part before the first space. */
export const readingKey = (t: ReadingTags): string =>
  `${MEASUREMENTS.readings},${T.device}=${t.device},${T.geohash}=${t.geohash},${T.kind}=${t.kind},${T.loc}=${t.loc}`;

/** `geohash` is absent on vehicle points sent without a valid position. */
const vehicleKey = (vehicle: string, geohash: string | undefined): string =>
  geohash === undefined
    ? `${MEASUREMENTS.vehicles},${VEHICLE_TAGS.vehicle}=${vehicle}`
    : `${MEASUREMENTS.vehicles},${VEHICLE_TAGS.geohash}=${geohash},${VEHICLE_TAGS.vehicle}=${vehicle}`;

/** `lat=…,lon=…,` (with its trailing comma), or nothing. */
export const positionFields = (p: Position | undefined): string =>
  p ? `${POSITION_FIELDS.lat}=${num(p.lat)},${POSITION_FIELDS.lon}=${num(p.lon)},` : '';

/**
 * Nanosecond timestamp. `offset` separates readings of one message that share a time (a batch without
 * device times all get the broker's stamp): still deterministic, so a redelivered message lands on the
 * same points, and invisible at the millisecond precision anything reads.
 */
export function nanos(t: Date, offset = 0): string {
  const ms = t.getTime();
  return offset === 0 ? `${ms}000000` : `${ms}${String(offset % 1_000_000).padStart(6, '0')}`;
}

/**
 * Finite numbers only (the decoders guarantee it); JS number text is valid line-protocol float text.
 * Unit conversions leave binary noise (101.23 kPa × 10 = 1012.3000000000001 hPa): 12 significant digits
 * are far beyond any sensor's and give back the number that was meant.
 */
function num(v: number): string {
  const t = String(v);
  return t.length > 15 ? String(Number(v.toPrecision(12))) : t;
}

export function readingLine(
  tags: ReadingTags,
  values: MetricValues,
  at: Position,
  timeSource: TimeSource,
  time: string,
): string {
  return readingLineOf(readingKey(tags), values, positionFields(at), timeSource, time);
}

/**
 * A reading point from its series key and position text made beforehand (`readingKey`, `positionFields`):
 * a fixed kit's are the same for every point it sends.
 */
export function readingLineOf(
  key: string,
  values: MetricValues,
  position: string,
  timeSource: TimeSource,
  time: string,
): string {
  let fields = '';
  for (const m of METRIC_NAMES) {
    const v = values[m];
    if (v !== undefined) fields += `${m}=${num(v)},`;
  }
  return `${key} ${fields}${position}${TIME_SOURCE_FIELD}="${timeSource}" ${time}`;
}

export function vehicleLine(
  vehicle: string,
  numbers: Partial<Record<VehicleNumericField, number>>,
  flags: Partial<Record<VehicleBooleanField | 'online', boolean>>,
  at: Position | undefined,
  geohash: string | undefined,
  timeSource: TimeSource,
  time: string,
): string {
  let fields = '';
  for (const [k, v] of Object.entries(numbers)) fields += `${k}=${num(v)},`;
  for (const [k, v] of Object.entries(flags)) fields += `${k}=${v ? 'true' : 'false'},`;
  return `${vehicleKey(vehicle, geohash)} ${fields}${positionFields(at)}${TIME_SOURCE_FIELD}="${timeSource}" ${time}`;
}
