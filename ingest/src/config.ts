import {
  ID_PATTERN,
  INGEST_STREAM,
  loadConfig,
  mqttUrlOf,
  optionalString,
  sharedEnv,
} from '@citytel/contract';
import { z } from 'zod';

const int = (fallback: number, min: number, max: number) =>
  z.coerce.number().int().min(min).max(max).default(fallback);

/** The ingest worker's environment (CONTRACT §5): every variable, its default for one machine, its meaning. */
export const ingestEnvSchema = z.object({
  ...sharedEnv,
  INGEST_ID: z
    .string()
    .regex(ID_PATTERN, 'must match [A-Za-z0-9_-]{1,64}')
    .default('main')
    .describe(
      'instance name: MQTT client id `citytel-ingest-{id}` (its persistent session), stats topic, and in ' +
        'cluster mode its consumer name in the group — must be unique per worker, and kept across its restarts ' +
        '(a restarted worker first takes back its own pending entries)',
    ),
  INFLUX_URL: z.url().default('http://127.0.0.1:8086').describe('InfluxDB that receives the points'),
  INFLUX_DB: z
    .string()
    .min(1)
    .default('telemetry')
    .describe('InfluxDB 1.x database (bucket when INFLUX_BUCKET unset)'),
  INFLUX_TOKEN: optionalString.describe('InfluxDB 2.x/3.x token; when set, writes go to /api/v2/write'),
  INFLUX_ORG: optionalString.describe('InfluxDB 2.x/3.x organisation'),
  INFLUX_BUCKET: optionalString.describe('InfluxDB 2.x/3.x bucket (default INFLUX_DB)'),
  INFLUX_USERNAME: optionalString.describe('InfluxDB 1.x user, when its HTTP auth is enabled'),
  INFLUX_PASSWORD: optionalString.describe('InfluxDB 1.x password'),
  INGEST_BATCH_LINES: int(5000, 1, 100_000).describe('points per InfluxDB write request, at most'),
  INGEST_BATCH_BYTES: int(4_000_000, 10_000, 25_000_000).describe('bytes per write request, at most'),
  INGEST_FLUSH_MS: int(100, 1, 60_000).describe('longest a point waits for its batch to fill'),
  INGEST_GZIP_BYTES: int(1000, 0, 1_000_000_000).describe('write requests larger than this are gzipped'),
  INGEST_MAX_INFLIGHT_POINTS: int(50_000, 100, 5_000_000).describe(
    'points accepted but not yet written; at this bound ingest stops reading the broker (backpressure)',
  ),
  INGEST_MAX_HELD_MESSAGES: int(20_000, 10, 60_000).describe(
    'QoS 1 messages whose PUBACK is held until written (below 65535, the MQTT packet id space)',
  ),
  INGEST_RETRY_MIN_MS: int(500, 10, 600_000).describe('first delay before a failed write is retried'),
  INGEST_RETRY_MAX_MS: int(5000, 10, 600_000).describe('longest delay between write retries'),
  INGEST_WRITE_TIMEOUT_MS: int(10_000, 100, 600_000).describe('HTTP timeout of one write request'),
  METRICS_PORT: z
    .preprocess((v) => (v === '' ? undefined : v), z.coerce.number().int().min(0).max(65535).optional())
    .describe(
      'Prometheus endpoint `GET /metrics` of this worker (its figures and Node process metrics) on its own ' +
        'HTTP listener; off when unset, 0 picks a free port; only Prometheus should reach it',
    ),
  INGEST_STATS_MS: int(5000, 100, 600_000).describe('how often figures are published on the stats topic'),
  INGEST_SEEN_MS: int(5000, 100, 600_000).describe('how often last-seen times are written to the store'),
  INGEST_DEVICE_TTL_MS: int(60_000, 0, 86_400_000).describe('how long a registry lookup is cached'),
  INGEST_UNKNOWN_TTL_MS: int(5000, 0, 86_400_000).describe(
    'how long an unknown device id or token is cached',
  ),
  INGEST_MAX_DEVICE_AGE_H: int(168, 1, 87_600).describe(
    'a device time older than this many hours before its receipt is not used: the broker time is, and the ' +
      'reading is flagged time_replaced (CONTRACT §2)',
  ),
  INGEST_STUCK_READINGS: int(30, 0, 100_000).describe(
    'readings in a row with the same value of a metric that flag it stuck (0: never)',
  ),
  INGEST_REJECTIONS_KEEP: int(100, 1, 10_000).describe('rejections kept per device for the api'),
  INGEST_SHUTDOWN_MS: int(10_000, 0, 600_000).describe('longest a graceful stop waits for held points'),
  MQTT_KEEPALIVE_S: int(60, 5, 3600).describe('MQTT keepalive of the service connection'),
  REDIS_URL: optionalString
    .pipe(z.url().optional())
    .describe(
      'cluster mode: read the Redis Stream the brokers append to instead of subscribing to one broker ' +
        '(MQTT_URL then only carries the stats); unset on one machine',
    ),
  INGEST_STREAM_KEY: z
    .string()
    .min(1)
    .default(INGEST_STREAM.key)
    .describe('cluster mode: key of the stream the brokers append to'),
  INGEST_GROUP: z
    .string()
    .min(1)
    .default(INGEST_STREAM.group)
    .describe('cluster mode: consumer group shared by the ingest workers (each entry goes to one of them)'),
  INGEST_CLAIM_IDLE_MS: int(30_000, 100, 86_400_000).describe(
    'cluster mode: an entry delivered to a worker and not acknowledged for this long is taken over by ' +
      'another (its worker died); live workers keep their own entries fresh',
  ),
  INGEST_STREAM_COUNT: int(1000, 1, 100_000).describe('cluster mode: entries taken per stream read, at most'),
  INGEST_TRIM_MS: int(5000, 100, 600_000).describe(
    'cluster mode: how often acknowledged entries are trimmed from the stream (below what every group has ' +
      'acknowledged) and dead workers are looked for',
  ),
});

export type IngestConfig = Readonly<z.infer<typeof ingestEnvSchema> & { mqttUrl: string }>;

/**
 * Parses and freezes the ingest worker's environment (DATA_DIR resolved from the folder the command was
 * typed in); throws ConfigError naming each wrong variable.
 */
export function loadIngestConfig(env: NodeJS.ProcessEnv = process.env): IngestConfig {
  const c = loadConfig(ingestEnvSchema, env);
  return Object.freeze({ ...c, mqttUrl: mqttUrlOf(c) });
}
