import { isAscii } from 'node:buffer';
import {
  type DecodedReading,
  type DecodeResult,
  decodeSensorMessage,
  decodeSensorText,
  geohash,
  type LocationClass,
  type Position,
  pmCorrectionFields,
  QUALITY_FLAGS,
  type TopicKind,
  takeSensorErrors,
} from '@citytel/contract';
import type { Device } from '@citytel/store';
import { type Clock, sourceOf } from './clock.ts';
import { type Outcome, prefixOf, refuse } from './outcome.ts';
import {
  nanos,
  positionFields,
  ReadingPoint,
  type ReadingTags,
  readingKey,
  readingLine,
  Series,
} from './points.ts';

/**
 * `decodeSensorMessage`, with a shortcut for what kits send: ASCII bytes (checked natively) are their text
 * as latin1, with no UTF-8 decoding nor replacement character to look for.
 */
export const decodeSensor = (kind: TopicKind, payload: Buffer): DecodeResult =>
  isAscii(payload) ? decodeSensorText(kind, payload.toString('latin1')) : decodeSensorMessage(kind, payload);

const locationOf = (d: Device): LocationClass =>
  d.kind === 'vehicle' || d.mobile ? 'mobile' : d.indoor ? 'indoor' : 'fixed';

const registered = (d: Device): Position | undefined =>
  d.lat !== null && d.lon !== null && !(d.lat === 0 && d.lon === 0) ? { lat: d.lat, lon: d.lon } : undefined;

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

export function sensorPoints(out: Outcome, device: Device, decoded: DecodeResult, clock: Clock): Outcome {
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
