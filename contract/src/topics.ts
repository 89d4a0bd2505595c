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

/** Where processes publish their own figures for the api's /metrics: `$SYS/citytel/{process}/{instance}/stats`. */
export const statsTopic = (process: 'broker' | 'ingest', instance: string) =>
  `$SYS/citytel/${process}/${instance}/stats`;
export const STATS_SUBSCRIPTION = '$SYS/citytel/+/+/stats';
