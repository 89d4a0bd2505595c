import {
  type DeviceKind,
  METRIC_NAMES,
  type MetricValues,
  type Position,
  type VehicleBooleanField,
  type VehicleNumericField,
} from '@citytel/contract';

/**
 * The InfluxDB schema ingest writes (documented in ../README.md), as line protocol built by hand: one
 * string per point, with no intermediate objects on the hot path.
 *
 * Tag values need no escaping: device ids are `[A-Za-z0-9_-]` (CONTRACT §1), geohashes are base32, and
 * kind and place are fixed words. Tag keys are written in lexical order, as InfluxDB stores them.
 */
export const MEASUREMENT = {
  /** Environmental readings: kits, and the air block of vehicle telemetry. */
  reading: 'reading',
  /** Vehicle telemetry and live status. */
  vehicle: 'vehicle',
} as const;

/** Where a device stands: `indoor` kits are fixed kits whose readings stay off the city map. */
export type Place = 'fixed' | 'mobile' | 'indoor';

/** Which clock a point's time comes from: the device's, the broker's stamp, or ingest's own (unstamped). */
export type TimeSource = 'device' | 'broker' | 'ingest';

export interface SeriesTags {
  device: string;
  kind: DeviceKind;
  place: Place;
  /** Absent only on vehicle points sent without a valid position. */
  geohash?: string | undefined;
}

const tagSet = (measurement: string, t: SeriesTags): string =>
  t.geohash === undefined
    ? `${measurement},device=${t.device},kind=${t.kind},place=${t.place}`
    : `${measurement},device=${t.device},geohash=${t.geohash},kind=${t.kind},place=${t.place}`;

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
  tags: SeriesTags,
  values: MetricValues,
  position: Position | undefined,
  timeSource: TimeSource,
  time: string,
): string {
  let fields = '';
  for (const m of METRIC_NAMES) {
    const v = values[m];
    if (v !== undefined) fields += `${m}=${num(v)},`;
  }
  if (position) fields += `lat=${num(position.lat)},lon=${num(position.lon)},`;
  return `${tagSet(MEASUREMENT.reading, tags)} ${fields}time_source="${timeSource}" ${time}`;
}

export function vehicleLine(
  tags: SeriesTags,
  numbers: Partial<Record<VehicleNumericField, number>>,
  flags: Partial<Record<VehicleBooleanField | 'online', boolean>>,
  position: Position | undefined,
  timeSource: TimeSource,
  time: string,
): string {
  let fields = '';
  for (const [k, v] of Object.entries(numbers)) fields += `${k}=${num(v)},`;
  for (const [k, v] of Object.entries(flags)) fields += `${k}=${v ? 'true' : 'false'},`;
  if (position) fields += `lat=${num(position.lat)},lon=${num(position.lon)},`;
  return `${tagSet(MEASUREMENT.vehicle, tags)} ${fields}time_source="${timeSource}" ${time}`;
}
