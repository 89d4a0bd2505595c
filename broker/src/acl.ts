import {
  INGEST_SUBSCRIPTIONS,
  MAX_PAYLOAD_BYTES,
  parseStatsTopic,
  parseTopic,
  type ServiceAccount,
  STAMPED_TOPIC_KINDS,
  STATS_SUBSCRIPTIONS,
  type TopicKind,
  topics,
} from '@citytel/contract';
import type { Identity } from './identity.ts';

/**
 * Who may publish and subscribe to what (CONTRACT §1). Pure functions over an identity and a topic, so the
 * whole table is unit tested without a broker; `authorize.ts` applies the verdicts to Aedes' packets.
 */

export type PublishVerdict =
  | {
      ok: true /** keep the retain flag (else it is cleared) */;
      retain: boolean /** prefix the receive time */;
      stamp: boolean;
    }
  | { ok: false; reason: 'publish_denied' | 'payload_too_large' };

export type SubscribeVerdict = { ok: true } | { ok: false; reason: 'subscribe_denied' };

export interface PublishRequest {
  topic: string;
  payloadBytes: number;
  retain: boolean;
}

/** Topic kinds a device publishes under its own id (or, for a Smart Citizen kit, its token). */
const DEVICE_PUBLISH: Record<'native' | 'airrohr' | 'vehicle' | 'sck', ReadonlySet<TopicKind>> = {
  native: new Set(['native', 'airrohr']),
  airrohr: new Set(['native', 'airrohr']),
  vehicle: new Set(['vehicle-telemetry', 'vehicle-status', 'vehicle-ack', 'vehicle-log']),
  sck: new Set(['sck-raw', 'sck-json', 'sck-hello', 'sck-info']),
};

/** Topic kinds a service publishes for any owner. */
const SERVICE_PUBLISH: Record<ServiceAccount, ReadonlySet<TopicKind>> = {
  'svc:ingest': new Set(),
  // commands to cars, and the airrohr HTTP bridge (CONTRACT §2.3) republishing bodies it accepted
  'svc:api': new Set(['vehicle-commands', 'vehicle-bookings', 'airrohr']),
  // the load-test gateway speaks for simulated kits and cars
  'svc:sim': new Set(['native', 'airrohr', 'vehicle-telemetry', 'vehicle-status']),
};

/**
 * Ingest's own figures, `statsTopic('ingest', instance)`, and for one release their former `$SYS/` topic (an
 * older ingest during a rolling upgrade): the one `$SYS/` topic a client may publish.
 */
const isIngestStats = (topic: string) => parseStatsTopic(topic)?.process === 'ingest';

/** Subscription patterns of each service; a filter is granted only when one of them covers it. */
const SERVICE_SUBSCRIBE: Record<ServiceAccount, readonly string[]> = {
  'svc:ingest': INGEST_SUBSCRIPTIONS,
  'svc:api': [
    'vehicles/+/commands/ack',
    'vehicles/+/log',
    'vehicles/+/status',
    'vehicles/+/telemetry',
    'sensors/+/readings',
    'sensors/+/airrohr',
    'device/sck/+/readings/raw',
    'device/sck/+/readings',
    ...STATS_SUBSCRIPTIONS,
    // the former single stats filter: an api of the previous release, for one release
    '$SYS/citytel/+/+/stats',
  ],
  'svc:sim': [],
};

export function checkPublish(identity: Identity, req: PublishRequest): PublishVerdict {
  let kind: TopicKind | undefined;
  if (identity.type === 'service' && identity.account === 'svc:ingest' && isIngestStats(req.topic)) {
    kind = undefined;
  } else {
    const parsed = parseTopic(req.topic);
    if (!parsed || !mayPublishKind(identity, parsed.kind, parsed.owner))
      return { ok: false, reason: 'publish_denied' };
    kind = parsed.kind;
  }
  if (req.payloadBytes > MAX_PAYLOAD_BYTES) return { ok: false, reason: 'payload_too_large' };
  return {
    ok: true,
    // a retained message outlives its sender; only a car's status (and its will) and a service's own
    // figures (kind undefined: the ingest stats topic) are worth that
    retain: req.retain && (kind === 'vehicle-status' || kind === 'vehicle-bookings' || kind === undefined),
    stamp: kind !== undefined && STAMPED_TOPIC_KINDS.has(kind),
  };
}

function mayPublishKind(identity: Identity, kind: TopicKind, owner: string): boolean {
  switch (identity.type) {
    case 'service':
      return SERVICE_PUBLISH[identity.account].has(kind);
    case 'sck':
      return owner === identity.token && DEVICE_PUBLISH.sck.has(kind);
    case 'device':
      return owner === identity.id && DEVICE_PUBLISH[identity.kind].has(kind);
  }
}

export function checkSubscribe(identity: Identity, filter: string): SubscribeVerdict {
  const granted =
    identity.type === 'service'
      ? SERVICE_SUBSCRIBE[identity.account].some((pattern) => covers(pattern, filter)) && wellFormed(filter)
      : identity.type === 'device' &&
        identity.kind === 'vehicle' &&
        (filter === topics.vehicleCommands(identity.id) || filter === topics.vehicleBookings(identity.id));
  return granted ? { ok: true } : { ok: false, reason: 'subscribe_denied' };
}

/** A filter without wildcards must name a real topic (a valid id or token where the pattern has `+`). */
function wellFormed(filter: string): boolean {
  if (/[+#]/.test(filter)) return true;
  return parseTopic(filter) !== undefined || parseStatsTopic(filter) !== undefined;
}

/**
 * True when every topic `filter` matches is also matched by `pattern`. The patterns only use `+`, so the
 * filter must have the same levels, equal where the pattern is literal; a `#` in the filter is never covered.
 */
export function covers(pattern: string, filter: string): boolean {
  const p = pattern.split('/');
  const f = filter.split('/');
  if (p.length !== f.length) return false;
  return p.every((level, i) => {
    const wanted = f[i]!;
    if (level === '+') return wanted === '+' || !/[+#]/.test(wanted);
    return level === wanted;
  });
}
