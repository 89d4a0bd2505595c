import { isId, isSckToken } from './ids.ts';

/**
 * Every topic of CONTRACT §1, as builders and one parser. The parser is the single place that
 * decides what a topic means; broker ACLs, ingest routing and the api's listeners all use it.
 */
export const topics = {
  sensorReadings: (deviceId: string) => `sensors/${deviceId}/readings`,
  sensorAirrohr: (deviceId: string) => `sensors/${deviceId}/airrohr`,
  sckRaw: (token: string) => `device/sck/${token}/readings/raw`,
  sckJson: (token: string) => `device/sck/${token}/readings`,
  sckHello: (token: string) => `device/sck/${token}/hello`,
  sckInfo: (token: string) => `device/sck/${token}/info`,
  vehicleTelemetry: (vehicleId: string) => `vehicles/${vehicleId}/telemetry`,
  vehicleStatus: (vehicleId: string) => `vehicles/${vehicleId}/status`,
  vehicleCommands: (vehicleId: string) => `vehicles/${vehicleId}/commands`,
  vehicleAck: (vehicleId: string) => `vehicles/${vehicleId}/commands/ack`,
  /** api → car, retained, QoS 1: its upcoming bookings, signed (offline unlock; optional for units). */
  vehicleBookings: (vehicleId: string) => `vehicles/${vehicleId}/bookings`,
  /** car → api, QoS 1: what it did with no network, uploaded when back. */
  vehicleLog: (vehicleId: string) => `vehicles/${vehicleId}/log`,
} as const;

/** Subscriptions of the ingest service: everything devices publish as data. */
export const INGEST_SUBSCRIPTIONS = [
  'sensors/+/readings',
  'sensors/+/airrohr',
  'device/sck/+/readings/raw',
  'device/sck/+/readings',
  'device/sck/+/hello',
  'device/sck/+/info',
  'vehicles/+/telemetry',
  'vehicles/+/status',
] as const;

export type TopicKind =
  | 'native'
  | 'airrohr'
  | 'sck-raw'
  | 'sck-json'
  | 'sck-hello'
  | 'sck-info'
  | 'vehicle-telemetry'
  | 'vehicle-status'
  | 'vehicle-commands'
  | 'vehicle-ack'
  | 'vehicle-bookings'
  | 'vehicle-log';

/** `owner` is a device or vehicle id, or an SCK token for `sck-*` kinds. */
export interface ParsedTopic {
  kind: TopicKind;
  owner: string;
}

export function parseTopic(topic: string): ParsedTopic | undefined {
  // Most messages are sensor readings: read without splitting the topic. The same answers as below.
  if (topic.startsWith('sensors/')) {
    const slash = topic.indexOf('/', 8);
    if (slash < 0 || topic.indexOf('/', slash + 1) >= 0) return undefined;
    const owner = topic.slice(8, slash);
    if (!isId(owner)) return undefined;
    const leaf = topic.length - slash - 1;
    if (leaf === 8 && topic.endsWith('readings')) return { kind: 'native', owner };
    if (leaf === 7 && topic.endsWith('airrohr')) return { kind: 'airrohr', owner };
    return undefined;
  }
  const p = topic.split('/');
  if (p[0] === 'sensors' && p.length === 3 && isId(p[1]!)) {
    if (p[2] === 'readings') return { kind: 'native', owner: p[1]! };
    if (p[2] === 'airrohr') return { kind: 'airrohr', owner: p[1]! };
    return undefined;
  }
  if (p[0] === 'device' && p[1] === 'sck' && p.length >= 4 && isSckToken(p[2]!)) {
    const rest = p.slice(3).join('/');
    const kind = (
      { 'readings/raw': 'sck-raw', readings: 'sck-json', hello: 'sck-hello', info: 'sck-info' } as const
    )[rest];
    return kind ? { kind, owner: p[2]! } : undefined;
  }
  if (p[0] === 'vehicles' && p.length >= 3 && isId(p[1]!)) {
    const rest = p.slice(2).join('/');
    const kind = (
      {
        telemetry: 'vehicle-telemetry',
        status: 'vehicle-status',
        commands: 'vehicle-commands',
        'commands/ack': 'vehicle-ack',
        bookings: 'vehicle-bookings',
        log: 'vehicle-log',
      } as const
    )[rest];
    return kind ? { kind, owner: p[1]! } : undefined;
  }
  return undefined;
}

/** Device data the broker stamps with its receive time (see stamp.ts). */
export const STAMPED_TOPIC_KINDS: ReadonlySet<TopicKind> = new Set([
  'native',
  'airrohr',
  'sck-raw',
  'sck-json',
  'vehicle-telemetry',
]);

/**
 * Where processes publish their own figures, retained JSON (process-stats.ts), for the api's /metrics. The
 * broker's are the server's own, under `$SYS/` (MQTT reserves `$`-topics for the server, [MQTT-4.7.2-1]);
 * ingest is a client, so its figures are on a platform topic.
 */
export const statsTopic = (process: 'broker' | 'ingest', instance: string) =>
  process === 'broker' ? `$SYS/citytel/broker/${instance}/stats` : `citytel/ingest/${instance}/stats`;

/** Where ingest published its figures before this release; the api still reads it, for one release. */
export const LEGACY_INGEST_STATS_SUBSCRIPTION = '$SYS/citytel/ingest/+/stats';

/** What a reader of every process's figures subscribes to. */
export const STATS_SUBSCRIPTIONS: string[] = Object.freeze([
  '$SYS/citytel/broker/+/stats',
  'citytel/ingest/+/stats',
  LEGACY_INGEST_STATS_SUBSCRIPTION,
]) as string[];
/** @deprecated the former single filter; the same list as STATS_SUBSCRIPTIONS (MQTT.js takes a list). */
export const STATS_SUBSCRIPTION = STATS_SUBSCRIPTIONS;

export interface ParsedStatsTopic {
  process: 'broker' | 'ingest';
  instance: string;
  /** Ingest's former `$SYS/citytel/ingest/{id}/stats`. */
  legacy: boolean;
}

const STATS_TOPIC = /^(?:(\$SYS\/)citytel\/(broker|ingest)|citytel\/(ingest))\/([^/+#$]+)\/stats$/;

/** A stats topic of STATS_SUBSCRIPTIONS (one level of instance, no wildcard), or undefined. */
export function parseStatsTopic(topic: string): ParsedStatsTopic | undefined {
  const m = STATS_TOPIC.exec(topic);
  if (!m) return undefined;
  const process = (m[2] ?? m[3]) as 'broker' | 'ingest';
  return { process, instance: m[4]!, legacy: m[1] !== undefined && process === 'ingest' };
}
