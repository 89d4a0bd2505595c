/**
 * The figures broker and ingest publish as JSON on their stats topics (statsTopic), as Prometheus metric
 * families: one table per process, read by the process's own /metrics and by the api's /metrics, which
 * relays what it hears on the stats topics. One table, so a figure has one name wherever it is scraped.
 *
 * Names follow https://prometheus.io/docs/practices/naming/: `citytel_{process}_` prefix, snake_case,
 * counters end in `_total`, base units (seconds, bytes) named in the suffix, latencies as histograms.
 * The JSON keeps its own keys (camelCase for the broker, ms for ingest's times): readers of the topics
 * (benches, tests, operators' scripts) keep working, and the table converts.
 */

export type PromType = 'counter' | 'gauge' | 'histogram';

export interface PromValue {
  value: number;
  labels?: Record<string, string>;
  /** A histogram's `_bucket`, `_sum` and `_count` lines. */
  metricName?: string;
}

export interface StatsFamily {
  name: string;
  help: string;
  type: PromType;
  /** The family's values in one process's figures; none when the figure is absent. */
  values(figures: Record<string, unknown>): PromValue[];
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** A top-level number, divided by `divisor` (1000 turns ms into seconds). */
const figure =
  (key: string, divisor = 1) =>
  (f: Record<string, unknown>): PromValue[] => {
    const v = f[key];
    return isNum(v) ? [{ value: v / divisor }] : [];
  };

/** A `{name: number}` map (`key.sub` reaches one level down), one value per name as label `label`. */
const byName =
  (key: string, label: string) =>
  (f: Record<string, unknown>): PromValue[] => {
    const v = f[key];
    if (!isObject(v)) return [];
    return Object.entries(v)
      .filter((e): e is [string, number] => isNum(e[1]))
      .map(([name, value]) => ({ value, labels: { [label]: name } }));
  };

/** One number of a nested object (`registry.hits`). */
const nested =
  (key: string, sub: string) =>
  (f: Record<string, unknown>): PromValue[] => {
    const v = f[key];
    return isObject(v) && isNum(v[sub]) ? [{ value: v[sub] }] : [];
  };

/**
 * A histogram from a summary carrying `count`, `sum`, `le` and cumulative `buckets` (ingest's sampler).
 * `divisor` 1000 turns ms into seconds; bounds are divided, not multiplied, so 2.5 ms is exactly 0.0025.
 */
const histogram =
  (name: string, key: string, divisor = 1) =>
  (f: Record<string, unknown>): PromValue[] => {
    const h = f[key];
    if (!isObject(h) || !isNum(h.count) || !isNum(h.sum) || !Array.isArray(h.le) || !Array.isArray(h.buckets))
      return [];
    const le = h.le as unknown[];
    const buckets = h.buckets as unknown[];
    if (le.length !== buckets.length || !le.every(isNum) || !buckets.every(isNum)) return [];
    const out: PromValue[] = le.map((bound, i) => ({
      metricName: `${name}_bucket`,
      labels: { le: String(bound / divisor) },
      value: buckets[i] as number,
    }));
    out.push({ metricName: `${name}_bucket`, labels: { le: '+Inf' }, value: h.count });
    out.push({ metricName: `${name}_sum`, value: h.sum / divisor });
    out.push({ metricName: `${name}_count`, value: h.count });
    return out;
  };

const family = (name: string, type: PromType, help: string, values: StatsFamily['values']): StatsFamily => ({
  name,
  type,
  help,
  values,
});

const hist = (name: string, help: string, key: string, divisor = 1) =>
  family(name, 'histogram', help, histogram(name, key, divisor));

/** The broker's figures (broker/src/stats.ts). */
export const BROKER_FAMILIES: readonly StatsFamily[] = [
  family('citytel_broker_clients', 'gauge', 'Connected, authenticated MQTT clients', figure('clients')),
  family(
    'citytel_broker_connects_total',
    'counter',
    'Clients that connected and authenticated',
    figure('connects'),
  ),
  family('citytel_broker_disconnects_total', 'counter', 'Clients that disconnected', figure('disconnects')),
  family(
    'citytel_broker_messages_received_total',
    'counter',
    'PUBLISH packets accepted from clients, wills included',
    figure('messagesIn'),
  ),
  family(
    'citytel_broker_received_payload_bytes_total',
    'counter',
    'Payload bytes of the accepted PUBLISH packets, as forwarded (receive-time stamp included)',
    figure('bytesIn'),
  ),
  family(
    'citytel_broker_messages_sent_total',
    'counter',
    'Messages written to subscribers, retained ones included',
    figure('messagesOut'),
  ),
  family(
    'citytel_broker_deliveries_acknowledged_total',
    'counter',
    'QoS 1 and 2 deliveries the subscriber acknowledged',
    figure('acks'),
  ),
  family(
    'citytel_broker_refusals_total',
    'counter',
    'Connections, publishes and subscriptions the broker refused, by reason',
    byName('refusals', 'reason'),
  ),
];

/** Ingest's figures (ingest/src/stats.ts). */
export const INGEST_FAMILIES: readonly StatsFamily[] = [
  family(
    'citytel_ingest_messages_received_total',
    'counter',
    'Messages taken from the source',
    figure('received'),
  ),
  family(
    'citytel_ingest_received_bytes_total',
    'counter',
    'Payload bytes of the messages taken from the source',
    figure('received_bytes'),
  ),
  family(
    'citytel_ingest_messages_accepted_total',
    'counter',
    'Messages that produced at least one point',
    figure('accepted'),
  ),
  family(
    'citytel_ingest_messages_rejected_total',
    'counter',
    'Messages refused whole, by reason',
    byName('rejected_messages', 'reason'),
  ),
  family(
    'citytel_ingest_fields_rejected_total',
    'counter',
    'Fields dropped from messages otherwise kept, by reason',
    byName('rejected_fields', 'reason'),
  ),
  family(
    'citytel_ingest_rejection_rows_dropped_total',
    'counter',
    'Rejection records the store could not take (diagnostics, not data)',
    figure('rejection_rows_dropped'),
  ),
  family(
    'citytel_ingest_messages_acknowledged_total',
    'counter',
    'Messages acknowledged to the source once all their points were written',
    figure('acked'),
  ),
  family(
    'citytel_ingest_points_total',
    'counter',
    'Points produced, by whose clock gave their time (device, broker, ingest)',
    byName('time_source', 'time_source'),
  ),
  family('citytel_ingest_points_written_total', 'counter', 'Points InfluxDB took', figure('points_written')),
  family(
    'citytel_ingest_points_refused_total',
    'counter',
    'Points in batches InfluxDB refused for good (400, 422)',
    figure('points_refused'),
  ),
  family(
    'citytel_ingest_points_requeued_total',
    'counter',
    'Points the InfluxDB client gave up on and the writer queued again (404, 401, 413...)',
    figure('influx_requeued'),
  ),
  family(
    'citytel_ingest_batches_written_total',
    'counter',
    'Write requests InfluxDB took',
    figure('batches'),
  ),
  hist('citytel_ingest_batch_points', 'Points per write request', 'batch_lines'),
  hist(
    'citytel_ingest_write_duration_seconds',
    'HTTP round trip of each InfluxDB write attempt',
    'write_ms',
    1000,
  ),
  hist(
    'citytel_ingest_queue_duration_seconds',
    "From a message's points entering the writer to the last of them written, batching wait included",
    'queue_ms',
    1000,
  ),
  family(
    'citytel_ingest_backlog_points',
    'gauge',
    'Points held and not yet written to InfluxDB',
    figure('backlog_points'),
  ),
  family(
    'citytel_ingest_backlog_messages',
    'gauge',
    'Messages delivered and not yet acknowledged',
    figure('backlog_messages'),
  ),
  family(
    'citytel_ingest_influx_up',
    'gauge',
    '1 while InfluxDB takes writes, 0 after a failure',
    figure('influx_up'),
  ),
  family(
    'citytel_ingest_influx_write_failures_total',
    'counter',
    'InfluxDB write attempts that failed (each is retried)',
    figure('influx_failed_attempts'),
  ),
  family(
    'citytel_ingest_mqtt_connected',
    'gauge',
    '1 while the source is connected',
    figure('mqtt_connected'),
  ),
  family(
    'citytel_ingest_mqtt_reconnects_total',
    'counter',
    'Reconnections of the source',
    figure('mqtt_reconnects'),
  ),
  family(
    'citytel_ingest_source_paused',
    'gauge',
    '1 while the source is held back by backpressure',
    figure('mqtt_paused'),
  ),
  family(
    'citytel_ingest_source_paused_seconds_total',
    'counter',
    'Time the source was held back by backpressure',
    figure('mqtt_paused_ms', 1000),
  ),
  family(
    'citytel_ingest_device_cache_entries',
    'gauge',
    'Devices in the registry cache',
    nested('registry', 'entries'),
  ),
  family(
    'citytel_ingest_device_cache_hits_total',
    'counter',
    'Registry lookups answered by the cache',
    nested('registry', 'hits'),
  ),
  family(
    'citytel_ingest_device_cache_misses_total',
    'counter',
    'Registry lookups that went to the store',
    nested('registry', 'misses'),
  ),
  family(
    'citytel_ingest_device_cache_store_errors_total',
    'counter',
    'Registry lookups the store failed',
    nested('registry', 'store_errors'),
  ),
  family(
    'citytel_ingest_stream_claimed_total',
    'counter',
    'Cluster mode: stream entries taken over from silent workers',
    nested('stream', 'claimed'),
  ),
  family(
    'citytel_ingest_stream_trimmed_total',
    'counter',
    'Cluster mode: stream entries trimmed once every group had them',
    nested('stream', 'trimmed'),
  ),
  family(
    'citytel_ingest_stream_missing_total',
    'counter',
    'Cluster mode: pending entries gone from the stream before they were read',
    nested('stream', 'missing'),
  ),
];

export const STATS_FAMILIES: Readonly<Record<'broker' | 'ingest', readonly StatsFamily[]>> = {
  broker: BROKER_FAMILIES,
  ingest: INGEST_FAMILIES,
};

/** The figures of one process, with the labels that tell it from others (the api relays several). */
export interface LabelledFigures {
  figures: Record<string, unknown>;
  labels: Record<string, string>;
}

/**
 * A family as prom-client's `Registry.registerMetric` takes it: any object with name, help, type and a
 * `get()` of values; `read` is called on each scrape. Structural, so the contract needs no prom-client.
 */
export interface PromMetric {
  name: string;
  help: string;
  type: PromType;
  aggregator: 'sum';
  get(): Promise<{ name: string; help: string; type: PromType; aggregator: 'sum'; values: PromValue[] }>;
}

export function statsMetrics(
  families: readonly StatsFamily[],
  read: () => Iterable<LabelledFigures>,
): PromMetric[] {
  return families.map((f) => ({
    name: f.name,
    help: f.help,
    type: f.type,
    aggregator: 'sum',
    async get() {
      const values: PromValue[] = [];
      for (const { figures, labels } of read()) {
        for (const v of f.values(figures)) values.push({ ...v, labels: { ...labels, ...v.labels } });
      }
      return { name: f.name, help: f.help, type: f.type, aggregator: 'sum', values };
    },
  }));
}
