import {
  DEFAULT_MAX_DEVICE_AGE_MS,
  isPlainObject,
  MAX_PAYLOAD_BYTES,
  parseJson,
  parseTopic,
  STAMPED_TOPIC_KINDS,
  type TopicKind,
  unstamp,
} from '@citytel/contract';
import type { Device } from '@citytel/store';
import type { Clock } from './clock.ts';
import type { DeviceCache, Lookup } from './devices.ts';
import { type Outcome, refuse } from './outcome.ts';
import { QualityState } from './quality.ts';
import { decodeSensor, sensorPoints } from './sensor-points.ts';
import { utf8 } from './utf8.ts';
import { vehiclePoints, vehicleStatus } from './vehicle-points.ts';

export interface InboundMessage {
  topic: string;
  payload: Buffer;
  /** A retained message replayed on subscribe: a state already ingested when it was live. */
  retain?: boolean;
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
