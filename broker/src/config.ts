import { hostname } from 'node:os';
import { boolFlag, INGEST_STREAM, loadConfig, optionalString, port, sharedEnv } from '@citytel/contract';
import { z } from 'zod';

/** Unset or empty: off (an empty string would otherwise coerce to port 0, a random port). */
const optionalPortVar = z.preprocess(
  (v) => (v === '' ? undefined : v),
  z.coerce.number().int().min(0).max(65535).optional(),
);

/** A single topic level: the instance part of `$SYS/citytel/broker/{BROKER_ID}/stats`. */
const BROKER_ID_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
const defaultBrokerId = () =>
  `${hostname()
    .replace(/[^A-Za-z0-9_.-]/g, '-')
    .slice(0, 50)}-${process.pid}`;

/** The broker's environment (CONTRACT §5). */
export const brokerConfigSchema = z
  .object({
    DATA_DIR: sharedEnv.DATA_DIR,
    DATABASE_URL: sharedEnv.DATABASE_URL,
    LOG_LEVEL: sharedEnv.LOG_LEVEL,
    /**
     * Older shared secret of the svc:* accounts: each account's password is derived from it unless its own
     * MQTT_SECRET_INGEST / MQTT_SECRET_API / MQTT_SECRET_SIM is set; all unset, files under DATA_DIR.
     */
    MQTT_SERVICE_SECRET: sharedEnv.MQTT_SERVICE_SECRET,
    /** Password of svc:ingest (the brokers check all three; each service holds its own). */
    MQTT_SECRET_INGEST: optionalString,
    /** Password of svc:api. */
    MQTT_SECRET_API: optionalString,
    /** Password of svc:sim. */
    MQTT_SECRET_SIM: optionalString,
    /** Let svc:sim log in (it may publish any kit's readings and any car's status): demos and load tests only. */
    MQTT_ALLOW_SIM: boolFlag(false),
    /** Connections one device or kit may hold at once on this broker (client ids `{id}` and `{id}/...`). */
    MQTT_MAX_CONNECTIONS_PER_DEVICE: z.coerce.number().int().min(1).max(1000).default(4),
    /** Connections one service account may hold at once on this broker. */
    MQTT_MAX_CONNECTIONS_PER_SERVICE: z.coerce.number().int().min(1).max(100_000).default(256),
    /**
     * QoS 1/2 messages kept for one device's session, unacknowledged or queued while it is away; past it the
     * oldest are dropped (a car that never acknowledges its commands). Services are not capped here.
     */
    MQTT_MAX_QUEUED_PER_DEVICE: z.coerce.number().int().min(1).max(100_000).default(100),
    /** How often the broker reads the store's revocations and drops revoked devices' connections. */
    REVOCATION_POLL_MS: z.coerce.number().int().min(100).max(10_000).default(2000),
    /** TCP listener; 0 picks a free port. */
    MQTT_PORT: port(1883),
    MQTT_HOST: z.string().min(1).default('0.0.0.0'),
    /** MQTT over WebSocket (browsers, gateways behind HTTP proxies); off when unset. */
    MQTT_WS_PORT: optionalPortVar,
    /** MQTT over TLS; needs MQTT_TLS_CERT and MQTT_TLS_KEY (PEM file paths). */
    MQTT_TLS_PORT: optionalPortVar,
    MQTT_TLS_CERT: optionalString,
    MQTT_TLS_KEY: optionalString,
    /**
     * Behind a TCP load balancer: a second TCP listener whose connections start with a PROXY protocol v1/v2
     * header (HAProxy `send-proxy-v2`), so the broker sees each device's address (login slow-down, logs).
     * Only the load balancer may reach it: the header is believed. Off when unset.
     */
    MQTT_PROXY_PORT: optionalPortVar,
    /** MQTT over WebSocket behind a reverse proxy: a device's address is the last X-Forwarded-For hop. */
    MQTT_WS_TRUST_PROXY: boolFlag(false),
    /**
     * Prometheus endpoint `GET /metrics` of this broker (its figures and Node's process metrics) on its own
     * HTTP listener; off when unset, 0 picks a free port. Only Prometheus should reach it.
     */
    METRICS_PORT: optionalPortVar,
    /** How often the broker publishes its figures on $SYS/citytel/broker/{BROKER_ID}/stats. */
    STATS_INTERVAL_MS: z.coerce.number().int().min(100).default(5000),
    /** This broker's name in stats topics; hostname-pid by default. */
    BROKER_ID: optionalString
      .transform((v) => v ?? defaultBrokerId())
      .pipe(z.string().regex(BROKER_ID_PATTERN, 'must be 1-64 of [A-Za-z0-9_.-] (one topic level)')),
    /**
     * Cluster mode: brokers share sessions, retained messages and deliveries through this Redis, and append
     * every accepted device data message to the ingest stream. Unset: one broker, everything in memory.
     */
    REDIS_URL: optionalString.pipe(
      z
        .string()
        .regex(/^rediss?:\/\/\S+$/, 'must be a redis:// or rediss:// URL')
        .optional(),
    ),
    /** Redis Stream the ingest workers read in cluster mode (several cities may share one Redis). */
    INGEST_STREAM_KEY: optionalString.transform((v) => v ?? INGEST_STREAM.key),
    /**
     * Cluster mode: how long a device's publish may wait for its message to be in the ingest stream. Past it
     * the device is disconnected without a PUBACK and publishes again when it reconnects.
     */
    REDIS_APPEND_TIMEOUT_MS: z.coerce.number().int().min(100).default(5000),
    /**
     * With REDIS_URL, how deliveries travel: `redis` (pub/sub, several brokers share one Redis) or `memory`
     * (one broker: deliveries stay in the process, sessions, retained messages and the ingest stream are
     * in Redis all the same — the durable one-machine mode `npm start` runs).
     */
    BROKER_EMITTER: z.enum(['redis', 'memory']).default('redis'),
  })
  .superRefine((c, ctx) => {
    if (c.MQTT_TLS_PORT === undefined) return;
    for (const key of ['MQTT_TLS_CERT', 'MQTT_TLS_KEY'] as const) {
      if (!c[key])
        ctx.addIssue({ code: 'custom', path: [key], message: 'required when MQTT_TLS_PORT is set' });
    }
  });

export type BrokerConfig = Readonly<z.infer<typeof brokerConfigSchema>>;

export function loadBrokerConfig(env: NodeJS.ProcessEnv = process.env): BrokerConfig {
  return loadConfig(brokerConfigSchema, env);
}
