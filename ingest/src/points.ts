import {
  type DeviceKind,
  type LocationClass,
  MEASUREMENTS,
  METRIC_NAMES,
  type Metric,
  type MetricValues,
  POSITION_FIELDS,
  type Position,
  QUALITY_ERROR_FIELD,
  QUALITY_FIELD,
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
export function num(v: number): string {
  const t = String(v);
  return t.length > 15 ? String(Number(v.toPrecision(12))) : t;
}

/**
 * A fixed or indoor kit's series: its key and position text (the same for every point it sends until its
 * registry entry changes), and the same as bytes, ready to be copied into a write request's body.
 */
export class Series {
  /** `key ` (with the space that ends the tags). */
  readonly head: Uint8Array;
  /** `position tsrc="…" ` for each time source (the position's trailing comma included). */
  readonly tails: Record<TimeSource, Uint8Array>;
  /** The most bytes a point of this series takes, its `\n` included. */
  readonly maxBytes: number;

  constructor(
    readonly key: string,
    readonly position: string,
  ) {
    this.head = ascii(`${key} `);
    const tail = (s: TimeSource) => ascii(`${position}${TIME_SOURCE_FIELD}="${s}" `);
    this.tails = { device: tail('device'), broker: tail('broker'), ingest: tail('ingest') };
    this.maxBytes =
      this.head.length +
      this.tails.broker.length +
      FIELDS_MAX_BYTES +
      QUALITY_MAX_BYTES +
      EXTRA_MAX_BYTES +
      TIME_MAX_BYTES +
      1;
  }
}

/**
 * A reading point kept as its parts: the writer encodes it straight into its batch body (`encodeReading`),
 * without building its line as a string first (the `+=` of a line's pieces made a rope that V8 then had
 * to flatten to write it: the largest single cost of a message). `lineText` gives the same line as text.
 */
export class ReadingPoint {
  constructor(
    readonly series: Series,
    readonly values: MetricValues,
    readonly source: TimeSource,
    /** The point's time: epoch ms, and the nanosecond offset of `nanos`. */
    readonly ms: number,
    readonly offset: number,
    /** Quality flags (contract quality.ts), 0 for none, and the sensor error values moved out of `values`. */
    readonly flags = 0,
    readonly qerr?: string | undefined,
    /** Preformatted ASCII fields (`k=v,` each): the PM correction of contract pm-correction.ts. */
    readonly extra?: string | undefined,
  ) {}
}

/** What the pipeline hands the writer: a line of text, or a reading point to encode. */
export type Line = string | ReadingPoint;

/** A line as text, whichever form it has (tests, logs). */
export const lineText = (line: Line): string =>
  typeof line === 'string'
    ? line
    : readingLineOf(
        line.series.key,
        line.values,
        line.series.position,
        line.source,
        nanos(new Date(line.ms), line.offset),
        line.flags,
        line.qerr,
        line.extra,
      );

/** Line protocol here is ASCII: ids, geohashes, numbers and fixed words. */
function ascii(s: string): Uint8Array {
  return Buffer.from(s, 'latin1');
}

/** `name=` of each metric, as bytes. */
const FIELD_NAMES = METRIC_NAMES.map((m) => ascii(`${m}=`));
/** The longest number text `num` gives: `-1.2345678901234567e-308`. */
const NUM_MAX_BYTES = 24;
const FIELDS_MAX_BYTES = FIELD_NAMES.reduce((n, f) => n + f.length + NUM_MAX_BYTES + 1, 0);
/** `qf=NNi,qerr="…",`: the flags, and the error values of the metrics that have some (contract quality.ts). */
const QUALITY_MAX_BYTES = 16 + QUALITY_ERROR_FIELD.length + 4 + FIELDS_MAX_BYTES;
/** `pm25_c=…,pm10_c=…,pmc="…",`: two numbers and a method id. */
const EXTRA_MAX_BYTES = 2 * (8 + NUM_MAX_BYTES) + 80;
const QF = ascii(`${QUALITY_FIELD}=`);
const QERR = ascii(`${QUALITY_ERROR_FIELD}="`);
/** Epoch ms (at most 16 digits and a sign) and 6 digits of nanoseconds. */
const TIME_MAX_BYTES = 23;

/**
 * Writes a reading point's line (without its `\n`) into `buf` at `at`, which has room for
 * `point.series.maxBytes`; returns where it ends. The same bytes as `lineText(point)`.
 */
export function encodeReading(p: ReadingPoint, buf: Uint8Array, at: number): number {
  let o = put(buf, at, p.series.head);
  o = putFields(buf, o, p.values);
  if (p.flags !== 0) o = putQuality(buf, o, p.flags, p.qerr);
  const extra = p.extra;
  if (extra !== undefined) for (let i = 0; i < extra.length; i++) buf[o++] = extra.charCodeAt(i);
  const s = p.series;
  o = put(
    buf,
    o,
    p.source === 'device' ? s.tails.device : p.source === 'broker' ? s.tails.broker : s.tails.ingest,
  );
  // Times since 1970 (up to 2286) are 1–13 digits of ms; written as millions of ms and the rest, so every
  // division is a 32-bit one. Anything else (a negative time, one past 2286) takes the general putInt.
  const ms = p.ms;
  if (ms >= 0 && ms < 1e13) {
    const high = Math.floor(ms / 1e6);
    if (high > 0) {
      o = putInt(buf, o, high, 1);
      o = putDigits(buf, o, ms - high * 1e6, 6);
    } else o = putInt(buf, o, ms, 1);
  } else o = putInt(buf, o, ms, 1);
  // `nanos`: 6 digits of offset, zero-padded.
  return putDigits(buf, o, p.offset % 1_000_000, 6);
}

/** `qf=<flags>i,` and `qerr="…",` when there are error values (ASCII: metric names and numbers). */
function putQuality(buf: Uint8Array, at: number, flags: number, qerr: string | undefined): number {
  let o = put(buf, at, QF);
  o = putInt(buf, o, flags, 1);
  buf[o++] = 105; // i
  buf[o++] = 44; // ,
  if (qerr !== undefined) {
    o = put(buf, o, QERR);
    for (let i = 0; i < qerr.length; i++) buf[o++] = qerr.charCodeAt(i);
    buf[o++] = 34; // "
    buf[o++] = 44; // ,
  }
  return o;
}

/** `width` digits of v (0 ≤ v < 10^width ≤ 2^31), zero-padded on the left. */
function putDigits(buf: Uint8Array, at: number, v: number, width: number): number {
  for (let k = at + width - 1; k >= at; k--) {
    const q = (v / 10) | 0;
    buf[k] = 48 + v - q * 10;
    v = q;
  }
  return at + width;
}

/**
 * `name=value,` for each metric of `values`, in METRIC_NAMES order. Decoders add a reading's values in
 * that order, so its own keys are walked (for…in, cached by V8) rather than all metrics looked up by name
 * (a keyed load each, ten times the cost); values in any other order are written by that slower walk. Each
 * key is looked for in METRIC_NAMES from just after the previous one (a pointer compare each for the
 * internalized strings keys are, cheaper than a Map lookup); one not found ahead is out of order (or no
 * metric).
 */
function putFields(buf: Uint8Array, at: number, values: MetricValues): number {
  const names = METRIC_NAMES;
  let o = at;
  let next = 0;
  for (const m in values) {
    let i = next;
    while (i < names.length && names[i] !== m) i++;
    if (i === names.length) return putFieldsInOrder(buf, at, values);
    next = i + 1;
    const v = values[m as Metric];
    if (v === undefined) continue;
    o = put(buf, o, FIELD_NAMES[i]!);
    o = putNum(buf, o, v);
    buf[o++] = 44; // ,
  }
  return o;
}

function putFieldsInOrder(buf: Uint8Array, at: number, values: MetricValues): number {
  let o = at;
  for (let i = 0; i < METRIC_NAMES.length; i++) {
    const v = values[METRIC_NAMES[i]!];
    if (v === undefined) continue;
    o = put(buf, o, FIELD_NAMES[i]!);
    o = putNum(buf, o, v);
    buf[o++] = 44; // ,
  }
  return o;
}

function put(buf: Uint8Array, at: number, bytes: Uint8Array): number {
  // TypedArray#set is a memcpy: several times faster than a loop even for a few bytes.
  buf.set(bytes, at);
  return at + bytes.length;
}

/**
 * `num(v)` as bytes. Sensor values have a few decimals: a number that is exactly k / 10^d (d ≤ 3, the
 * double nearest to it) has that decimal as its shortest round-trip text, which is what `String` gives,
 * so its digits are written from k without making a string. Anything else goes through `num`.
 *
 * The usual value (|v| < 2 000 000) is tried once, at d = 3, with 32-bit integers: a v that is k / 10^d
 * for a smaller d is also k·10^(3−d) / 1000, so the thousandths with their trailing zeros dropped are the
 * same digits the loop below finds at the least d (property-tested against `num`).
 */
function putNum(buf: Uint8Array, at: number, v: number): number {
  if (v < 2_000_000 && v > -2_000_000) {
    let k = Math.round(v * 1000);
    if (k / 1000 === v) {
      let o = at;
      if (k < 0) {
        buf[o++] = 45; // -
        k = -k;
      }
      let decimals = 3;
      while (decimals > 0 && k % 10 === 0) {
        k /= 10;
        decimals--;
      }
      return putInt32(buf, o, k, decimals);
    }
  }
  let scale = 1;
  for (let d = 0; d <= 3; d++) {
    const k = Math.round(v * scale);
    if (k / scale === v && k < 1e12 && k > -1e12) return putInt(buf, at, k, d + 1, d);
    scale *= 10;
  }
  const t = num(v);
  for (let i = 0; i < t.length; i++) buf[at + i] = t.charCodeAt(i);
  return at + t.length;
}

/**
 * `putInt(buf, at, k, decimals + 1, decimals)` for 0 ≤ k < 2^31: the digits of k, a `.` before its last
 * `decimals` (at most 3), zero-padded so that one digit stands before the `.`.
 */
function putInt32(buf: Uint8Array, at: number, k: number, decimals: number): number {
  let digits = k < 10 ? 1 : k < 100 ? 2 : k < 1000 ? 3 : k < 10_000 ? 4 : k < 100_000 ? 5 : k < 1e6 ? 6 : 7;
  while (digits < 10 && k >= POW10[digits]!) digits++;
  if (digits <= decimals) digits = decimals + 1;
  const end = at + digits + (decimals > 0 ? 1 : 0);
  let i = end - 1;
  for (let n = 0; n < digits; n++) {
    if (n === decimals && n > 0) buf[i--] = 46; // .
    const q = (k / 10) | 0;
    buf[i--] = 48 + k - q * 10;
    k = q;
  }
  return end;
}

const POW10 = Array.from({ length: 17 }, (_, i) => 10 ** i);

/**
 * Writes the integer k (|k| < 2^53) with at least `width` digits (zero-padded on the left), a `.` before
 * its last `decimals` digits; -0 is written `0`, as `String(-0)`.
 */
function putInt(buf: Uint8Array, at: number, k: number, width: number, decimals = 0): number {
  let o = at;
  if (k < 0) {
    buf[o++] = 45; // -
    k = -k;
  }
  let digits = 1;
  while (digits < 16 && k >= POW10[digits]!) digits++;
  if (digits < width) digits = width;
  const end = o + digits + (decimals > 0 ? 1 : 0);
  let i = end - 1;
  for (let n = 0; n < digits; n++) {
    if (decimals > 0 && n === decimals) buf[i--] = 46; // .
    // Integer division where it fits 32 bits (times in ms do not, until their last digits).
    const q = k < 2147483648 ? (k / 10) | 0 : Math.floor(k / 10);
    buf[i--] = 48 + k - q * 10;
    k = q;
  }
  return end;
}

export function readingLine(
  tags: ReadingTags,
  values: MetricValues,
  at: Position,
  timeSource: TimeSource,
  time: string,
  flags = 0,
  qerr?: string,
  extra?: string,
): string {
  return readingLineOf(readingKey(tags), values, positionFields(at), timeSource, time, flags, qerr, extra);
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
  flags = 0,
  qerr?: string,
  extra?: string,
): string {
  let fields = '';
  for (const m of METRIC_NAMES) {
    const v = values[m];
    if (v !== undefined) fields += `${m}=${num(v)},`;
  }
  if (flags !== 0) {
    fields += `${QUALITY_FIELD}=${flags}i,`;
    if (qerr !== undefined) fields += `${QUALITY_ERROR_FIELD}="${qerr}",`;
  }
  if (extra !== undefined) fields += extra;
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
