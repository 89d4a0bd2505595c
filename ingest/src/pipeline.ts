import { isAscii } from 'node:buffer';
import {
  DEFAULT_MAX_DEVICE_AGE_MS,
  type DecodedReading,
  type DecodeResult,
  decodeSensorMessage,
  decodeSensorText,
  decodeVehicleTelemetry,
  type FieldRejection,
  geohash,
  implausibleTimeReason,
  isPlainObject,
  isPlausibleTime,
  type LocationClass,
  MAX_PAYLOAD_BYTES,
  type Position,
  parseJson,
  parseTopic,
  pmCorrectionFields,
  QUALITY_FLAGS,
  type RejectionReason,
  STAMPED_TOPIC_KINDS,
  type TopicKind,
  takeSensorErrors,
  unstamp,
  vehicleStatusSchema,
} from '@citytel/contract';
import type { Device } from '@citytel/store';
import type { DeviceCache, Lookup } from './devices.ts';
import {
  type Line,
  nanos,
  positionFields,
  ReadingPoint,
  type ReadingTags,
  readingKey,
  readingLine,
  Series,
  type TimeSource,
  vehicleLine,
} from './points.ts';
import { QualityState } from './quality.ts';

export interface InboundMessage {
  topic: string;
  payload: Buffer;
  /** A retained message replayed on subscribe: a state already ingested when it was live. */
  retain?: boolean;
}

/** What one message became: points to write, or the reason nothing could be kept. */
export interface Outcome {
  topic: string;
  kind?: TopicKind;
  /** Id or SCK token from the topic: names the sender in logs even when it is not registered. */
  owner: string;
  /** Registry id, when the sender is registered. */
  deviceId?: string;
  /** The payload without the broker's stamp, for the rejection sample. */
  payload: Buffer;
  /** Its points, as the writer takes them (`lineText` gives one as text). */
  lines: Line[];
  readings: number;
  /** Set when the whole message was refused. */
  rejected?: { reason: RejectionReason; detail: string };
  /** Fields dropped from a message whose rest was kept (or explaining a refusal). */
  fields: FieldRejection[];
  /** Readings by the clock their time came from. */
  times: Record<TimeSource, number>;
  /** Readings stored with a quality flag set (contract quality.ts). */
  flagged?: number;
  seen?: { id: string; at: Date; firmware?: string };
}

export interface Pipeline {
  /** Never throws; answers now when the device is cached, else once the registry has answered. */
  process(msg: InboundMessage): Outcome | Promise<Outcome>;
}

export interface PipelineDeps {
  devices: DeviceCache;
  now?: () => Date;
  /** Oldest device time taken, before its receipt (default 7 days; CONTRACT §2). */
  maxDeviceAgeMs?: number;
  /** Readings in a row with one value that flag a metric `stuck` (default 30; 0: never). */
  stuckReadings?: number;
}

/** Turns a topic and its bytes into line-protocol points: decode → device → position → time → points. */
export function createPipeline(deps: PipelineDeps): Pipeline {
  const now = deps.now ?? (() => new Date());
  const maxAgeMs = deps.maxDeviceAgeMs ?? DEFAULT_MAX_DEVICE_AGE_MS;
  const quality = new QualityState({ stuckReadings: deps.stuckReadings ?? 30 });

  // No closure is made per message (tsx keeps function names: each one would cost a defineProperty too).
  return {
    process(msg) {
      const parsed = parseTopic(msg.topic);
      if (!parsed)
        return refuse(outcome(msg, undefined, msg.payload), 'schema', 'topic is not one ingest handles');
      let payload = msg.payload;
      let receivedAt: Date | undefined;
      if (STAMPED_TOPIC_KINDS.has(parsed.kind)) ({ receivedAt, payload } = unstamp(msg.payload));
      const out = outcome(msg, parsed, payload);
      if (payload.length > MAX_PAYLOAD_BYTES)
        return refuse(out, 'too_large', `payload of ${payload.length} bytes`);
      const at = receivedAt ?? now();
      const clock: Clock = {
        at,
        ms: at.getTime(),
        source: receivedAt ? 'broker' : 'ingest',
        maxAgeMs,
        quality,
      };

      const lookup: Lookup = parsed.kind.startsWith('sck-')
        ? deps.devices.byToken(parsed.owner)
        : deps.devices.byId(parsed.owner);
      const retain = msg.retain === true;
      return lookup instanceof Promise
        ? lookup.then((device) => withDevice(out, parsed, device, payload, clock, retain))
        : withDevice(out, parsed, lookup, payload, clock, retain);
    },
  };
}

type Parsed = NonNullable<ReturnType<typeof parseTopic>>;

function outcome(msg: InboundMessage, parsed: Parsed | undefined, payload: Buffer): Outcome {
  const out: Outcome = {
    topic: msg.topic,
    owner: parsed?.owner ?? msg.topic.slice(0, 128),
    payload,
    lines: [],
    readings: 0,
    fields: [],
    times: { device: 0, broker: 0, ingest: 0 },
    flagged: 0,
  };
  if (parsed) out.kind = parsed.kind;
  return out;
}

function withDevice(
  out: Outcome,
  parsed: Parsed,
  device: Device | null,
  payload: Buffer,
  clock: Clock,
  retain: boolean,
): Outcome {
  if (!device) return refuse(out, 'unknown_device', `no registered device for ${parsed.owner}`);
  out.deviceId = device.id;
  try {
    return route(out, parsed.kind, device, payload, clock, retain);
  } catch (e) {
    // Every step is written not to throw; this keeps one bug from stopping the stream.
    out.lines = [];
    out.readings = 0;
    return refuse(out, 'malformed', `ingest error: ${String((e as Error)?.message).slice(0, 200)}`);
  }
}

/** `readings[i].` in a batch, nothing for a single reading: built only to name a refused field. */
const prefixOf = (many: boolean, i: number) => (many ? `readings[${i}].` : '');

interface Clock {
  at: Date;
  /** `at` in epoch ms. */
  ms: number;
  source: 'broker' | 'ingest';
  /** Oldest device time taken, before `ms`. */
  maxAgeMs: number;
  /** The worker's per-device state of the flags that need history. */
  quality: QualityState;
}

function refuse(out: Outcome, reason: RejectionReason, detail: string): Outcome {
  out.rejected = { reason, detail };
  return out;
}

function route(
  out: Outcome,
  kind: TopicKind,
  device: Device,
  payload: Buffer,
  clock: Clock,
  retain: boolean,
): Outcome {
  switch (kind) {
    case 'native':
    case 'airrohr':
    case 'sck-raw':
    case 'sck-json': {
      const decoded = decodeSensor(kind, payload);
      out.seen = { id: device.id, at: clock.at };
      if (decoded.firmware) out.seen.firmware = decoded.firmware;
      return sensorPoints(out, device, decoded, clock);
    }
    case 'vehicle-telemetry':
      out.seen = { id: device.id, at: clock.at };
      return vehiclePoints(out, device, payload, clock);
    case 'vehicle-status':
      return vehicleStatus(out, device, payload, clock, retain);
    case 'sck-hello':
      // `{token}:Hello`: the kit is alive; nothing to store as a reading.
      out.seen = { id: device.id, at: clock.at };
      return out;
    case 'sck-info':
      out.seen = { id: device.id, at: clock.at, ...sckFirmware(payload) };
      return out;
    default:
      return refuse(out, 'schema', `ingest does not consume ${kind} messages`);
  }
}

/**
 * `decodeSensorMessage`, with a shortcut for what kits send: ASCII bytes (checked natively) are their text
 * as latin1, with no UTF-8 decoding nor replacement character to look for.
 */
const decodeSensor = (kind: TopicKind, payload: Buffer): DecodeResult =>
  isAscii(payload) ? decodeSensorText(kind, payload.toString('latin1')) : decodeSensorMessage(kind, payload);

const locationOf = (d: Device): LocationClass =>
  d.kind === 'vehicle' || d.mobile ? 'mobile' : d.indoor ? 'indoor' : 'fixed';

const registered = (d: Device): Position | undefined =>
  d.lat !== null && d.lon !== null && !(d.lat === 0 && d.lon === 0) ? { lat: d.lat, lon: d.lon } : undefined;

/**
 * Which clock the i-th reading of a message takes its time from: the device's when plausible, else the
 * broker's stamp (CONTRACT §2; `resolveTime`), counted. The time is then the device's (`r.ts`), or the
 * clock's with the reading's index as nanoseconds (see `nanos`). A replaced device time is reported as a
 * field rejection so the kit's owner can see the clock drift. Returns the source only: nothing is
 * allocated for a reading.
 */
function sourceOf(
  out: Outcome,
  r: { ts?: Date | undefined },
  i: number,
  many: boolean,
  clock: Clock,
): TimeSource {
  // `"ts":1e308` parses to an Invalid Date (NaN), which is not plausible.
  if (r.ts !== undefined && isPlausibleTime(r.ts.getTime(), clock.ms, clock.maxAgeMs)) {
    out.times.device++;
    return 'device';
  }
  if (r.ts) {
    const t = r.ts.getTime();
    out.fields.push({
      field: `${prefixOf(many, i)}ts`,
      reason: 'bad_time',
      detail: `device time ${Number.isNaN(t) ? 'invalid' : `${r.ts.toISOString()} is ${implausibleTimeReason(t, clock.ms, clock.maxAgeMs)}`}; receive time used`,
    });
  }
  out.times[clock.source]++;
  return clock.source;
}

/** The time of `sourceOf`, as line-protocol text (vehicle points, mobile kits). */
function timeOf(out: Outcome, r: { ts?: Date | undefined }, i: number, many: boolean, clock: Clock) {
  const source = sourceOf(out, r, i, many, clock);
  return { time: source === 'device' ? nanos(r.ts!) : nanos(clock.at, i), source };
}

/**
 * A fixed or indoor kit's series key and position text: the same for every point until the registry
 * entry changes (a refreshed entry is a new object, so it gets its own).
 */
const fixedSeries = new WeakMap<Device, Series>();

function seriesAt(device: Device, loc: LocationClass, home: Position): Series {
  let s = fixedSeries.get(device);
  if (!s) {
    const tags: ReadingTags = { device: device.id, kind: device.kind, loc, geohash: geohash(home) };
    s = new Series(readingKey(tags), positionFields(home));
    fixedSeries.set(device, s);
  }
  return s;
}

function sensorPoints(out: Outcome, device: Device, decoded: DecodeResult, clock: Clock): Outcome {
  if (decoded.rejections.length > 0) out.fields.push(...decoded.rejections);
  if (decoded.error) return refuse(out, decoded.error.reason, decoded.error.detail);
  const loc = locationOf(device);
  const home = loc === 'mobile' ? undefined : registered(device);
  const homeSeries = home ? seriesAt(device, loc, home) : undefined;
  const readings: DecodedReading[] = decoded.readings;
  for (let i = 0; i < readings.length; i++) {
    const r = readings[i]!;
    const many = readings.length > 1;
    // Fixed kits stand where they were registered; mobile kits report where they are.
    const position = loc === 'mobile' ? r.position : (home ?? r.position);
    if (!position) {
      out.fields.push({
        field: `${prefixOf(many, i)}position`,
        reason: 'missing_position',
        detail: loc === 'mobile' ? 'a mobile kit must send lat and lon' : 'kit has no registered position',
      });
      continue;
    }
    // A sensor's error value leaves its metric field for `qerr` (contract quality.ts): never a measurement.
    const qerr = takeSensorErrors(r.values);
    let flags = qerr === undefined ? 0 : QUALITY_FLAGS.sensor_error;
    // The humidity-corrected PM beside the measured one, or why there is none (contract pm-correction.ts).
    const pmc = pmCorrectionFields(r.values, r.pmSensor);
    // An indoor kit's exact position is stored too: the api serves it blurred to its 7-cell.
    if (homeSeries && position === home) {
      const source = sourceOf(out, r, i, many, clock);
      const own = source === 'device';
      const ms = own ? r.ts!.getTime() : clock.ms;
      if (!own && r.ts !== undefined) flags |= QUALITY_FLAGS.time_replaced;
      flags |= clock.quality.flags(device.id, r.values, ms);
      if (flags !== 0) out.flagged = (out.flagged ?? 0) + 1;
      out.lines.push(new ReadingPoint(homeSeries, r.values, source, ms, own ? 0 : i, flags, qerr, pmc));
    } else {
      const source = sourceOf(out, r, i, many, clock);
      const own = source === 'device';
      if (!own && r.ts !== undefined) flags |= QUALITY_FLAGS.time_replaced;
      flags |= clock.quality.flags(device.id, r.values, own ? r.ts!.getTime() : clock.ms);
      if (flags !== 0) out.flagged = (out.flagged ?? 0) + 1;
      const time = own ? nanos(r.ts!) : nanos(clock.at, i);
      const tags = { device: device.id, kind: device.kind, loc, geohash: geohash(position) };
      out.lines.push(readingLine(tags, r.values, position, source, time, flags, qerr, pmc));
    }
    out.readings++;
  }
  if (out.readings === 0) return refuse(out, 'missing_position', 'no reading could be placed');
  return out;
}

function vehiclePoints(out: Outcome, device: Device, payload: Buffer, clock: Clock): Outcome {
  const text = utf8(payload);
  if (text === undefined) return refuse(out, 'malformed', 'payload is not valid UTF-8 text');
  const decoded = decodeVehicleTelemetry(text);
  out.fields.push(...decoded.rejections);
  if (!decoded.ok) return refuse(out, decoded.reason, decoded.detail);
  const v = decoded.vehicle;
  const { time, source } = timeOf(out, v, 0, false, clock);
  const cell = v.position ? geohash(v.position) : undefined;
  out.lines.push(vehicleLine(device.id, v.numbers, v.flags, v.position, cell, source, time));
  if (v.air?.position) {
    // The car's air sensor: a mobile reading at the car's position and time.
    const tags = {
      device: device.id,
      kind: device.kind,
      loc: 'mobile' as const,
      geohash: geohash(v.air.position),
    };
    out.lines.push(readingLine(tags, v.air.values, v.air.position, source, time));
  }
  out.readings = out.lines.length;
  return out;
}

/**
 * `vehicles/{id}/status`, retained, also the last will `{"online":false}`. A retained copy replayed on
 * subscribe was ingested when it was live. The broker does not stamp status messages: a status without
 * its own `ts` takes ingest's clock, so a redelivered one may land on a second point.
 */
function vehicleStatus(
  out: Outcome,
  device: Device,
  payload: Buffer,
  clock: Clock,
  retain: boolean,
): Outcome {
  if (retain) return out;
  const text = utf8(payload);
  if (text === undefined) return refuse(out, 'malformed', 'payload is not valid UTF-8 text');
  const json = parseJson(text);
  if (!json.ok) return refuse(out, 'not_json', json.detail);
  const status = vehicleStatusSchema.safeParse(json.value);
  if (!status.success)
    return refuse(out, 'schema', 'status must be {"online":boolean,"locked"?:boolean,"ts"?}');
  const s = status.data;
  const deviceTs = typeof s.ts === 'string' || typeof s.ts === 'number' ? parseStatusTime(s.ts) : undefined;
  const { time, source } = timeOf(out, { ts: deviceTs }, 0, false, clock);
  const flags = { online: s.online, ...(s.locked === undefined ? {} : { locked: s.locked }) };
  out.lines.push(vehicleLine(device.id, {}, flags, undefined, undefined, source, time));
  out.readings = 1;
  if (s.online) out.seen = { id: device.id, at: clock.at };
  return out;
}

function parseStatusTime(ts: string | number): Date | undefined {
  const ms = typeof ts === 'number' ? (ts > 1e12 ? ts : ts * 1000) : Date.parse(ts);
  return Number.isFinite(ms) ? new Date(ms) : undefined;
}

/** Smart Citizen `info` JSON carries the SAM and ESP firmware versions. */
function sckFirmware(payload: Buffer): { firmware?: string } {
  const text = utf8(payload);
  const json = text === undefined ? undefined : parseJson(text);
  if (!json?.ok || !isPlainObject(json.value)) return {};
  const o = json.value;
  const parts = [
    typeof o.sam_ver === 'string' ? `sam ${o.sam_ver}` : undefined,
    typeof o.esp_ver === 'string' ? `esp ${o.esp_ver}` : undefined,
    typeof o.hw_ver === 'string' ? `hw ${o.hw_ver}` : undefined,
  ].filter(Boolean);
  return parts.length ? { firmware: parts.join(' / ').slice(0, 200) } : {};
}

const decoder = new TextDecoder('utf-8', { fatal: false });

function utf8(payload: Buffer): string | undefined {
  const text = decoder.decode(payload);
  return text.includes('\uFFFD') ? undefined : text;
}
