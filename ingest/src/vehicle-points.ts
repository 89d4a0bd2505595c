import { decodeVehicleTelemetry, geohash, parseJson, vehicleStatusSchema } from '@citytel/contract';
import type { Device } from '@citytel/store';
import { type Clock, timeOf } from './clock.ts';
import { type Outcome, refuse } from './outcome.ts';
import { readingLine, vehicleLine } from './points.ts';
import { utf8 } from './utf8.ts';

export function vehiclePoints(out: Outcome, device: Device, payload: Buffer, clock: Clock): Outcome {
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
export function vehicleStatus(
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
