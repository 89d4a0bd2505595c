import type { EventEmitter } from 'node:events';
import { INGEST_STREAM, maskClientId, type ServiceAccount } from '@citytel/contract';
import type { Store } from '@citytel/store';
import { Aedes, type Client } from 'aedes';
import type { Logger } from 'pino';
import { createAuthentication, type Verified } from './auth.ts';
import { createVerifiedCache } from './auth-cache.ts';
import { createAuthorization } from './authorize.ts';
import { type ClusterBackend, createClusterBackend } from './cluster.ts';
import { rememberRemote, remoteAddressOf } from './connection.ts';
import { createConnectionRegistry } from './connections.ts';
import { dedupeByPacketIdentity } from './delivery-dedupe.ts';
import { identityName, identityOf } from './identity.ts';
import { createListeners, type Ports } from './listeners.ts';
import { cacheEmitterMatches } from './match-cache.ts';
import { capPacketSize, MAX_PACKET_BYTES } from './packet-guard.ts';
import { createRefusals } from './refusals.ts';
import { watchRevocations } from './revocation-watch.ts';
import { createSessionStore } from './session-store.ts';
import { type BrokerStats, createStats } from './stats.ts';
import { createLoginThrottle, type LoginThrottleOptions } from './throttle.ts';
import { batchWrites } from './write-batching.ts';

/** What the broker reads of its configuration; a BrokerConfig fits, and tests leave the options out. */
export interface BrokerSettings {
  MQTT_PORT: number;
  MQTT_HOST: string;
  MQTT_WS_PORT?: number | undefined;
  MQTT_TLS_PORT?: number | undefined;
  MQTT_TLS_CERT?: string | undefined;
  MQTT_TLS_KEY?: string | undefined;
  /** A listener for a TCP load balancer that sends the PROXY protocol (proxy-protocol.ts); off when unset. */
  MQTT_PROXY_PORT?: number | undefined;
  /** The WebSocket listener is behind a reverse proxy: addresses come from X-Forwarded-For. */
  MQTT_WS_TRUST_PROXY?: boolean | undefined;
  STATS_INTERVAL_MS: number;
  BROKER_ID: string;
  /** Cluster mode when set (cluster.ts); unset, one broker with everything in memory. */
  REDIS_URL?: string | undefined;
  /** Cluster mode: the ingest stream's key; INGEST_STREAM.key when unset. */
  INGEST_STREAM_KEY?: string | undefined;
  /** Cluster mode: longest wait for an append before the device is disconnected; 5 s when unset. */
  REDIS_APPEND_TIMEOUT_MS?: number | undefined;
  /** Let `svc:sim` log in (demos, load tests): it may publish any kit's readings and any car's status. */
  MQTT_ALLOW_SIM?: boolean | undefined;
  /** Connections one device or kit may hold at once on this broker (default 4). */
  MQTT_MAX_CONNECTIONS_PER_DEVICE?: number | undefined;
  /** Connections one service account may hold at once on this broker (default 256). */
  MQTT_MAX_CONNECTIONS_PER_SERVICE?: number | undefined;
  /** QoS 1/2 messages kept unacknowledged or queued for one device's session (default 100; one machine). */
  MQTT_MAX_QUEUED_PER_DEVICE?: number | undefined;
  /** How often the broker reads the store's revocations (default 2000 ms). */
  REVOCATION_POLL_MS?: number | undefined;
  /** With REDIS_URL: `memory` keeps deliveries in this broker (one broker, durable); `redis` when unset. */
  BROKER_EMITTER?: 'redis' | 'memory' | undefined;
}

export interface BrokerDeps {
  config: BrokerSettings;
  store: Pick<Store, 'devices' | 'audit'>;
  /** Each service account's own password (store's resolveServiceSecrets). */
  serviceSecrets: Readonly<Record<ServiceAccount, string>>;
  log: Logger;
  /** Tests shorten or lengthen the login slow-down; defaults are CONTRACT §1's. */
  throttle?: Partial<LoginThrottleOptions>;
}

export interface Broker {
  aedes: Aedes;
  /** Starts the listeners; port 0 in the config picks a free port, and the one chosen is returned. */
  listen(): Promise<Ports>;
  /** Stops listening, disconnects every client, closes the servers. */
  close(): Promise<void>;
  stats(): BrokerStats;
  /** Reads the store's revocations now rather than at the next poll. */
  checkRevocations(): Promise<void>;
}

const HOUSEKEEPING_MS = 30_000;
/** Messages in flight at once through the broker's emitter; the ingest subscriber takes nearly all. */
const EMITTER_CONCURRENCY = 500;

export function createBroker({
  config,
  store,
  serviceSecrets,
  log: parentLog,
  throttle: throttleOptions,
}: BrokerDeps): Broker {
  const log = parentLog.child({ component: 'broker' });
  const refusals = createRefusals(parentLog.child({ component: 'refusals' }));
  const cluster: ClusterBackend | undefined = config.REDIS_URL
    ? createClusterBackend(
        {
          url: config.REDIS_URL,
          streamKey: config.INGEST_STREAM_KEY ?? INGEST_STREAM.key,
          appendTimeoutMs: config.REDIS_APPEND_TIMEOUT_MS ?? 5000,
          brokerId: config.BROKER_ID,
          concurrency: EMITTER_CONCURRENCY,
          emitter: config.BROKER_EMITTER ?? 'redis',
        },
        parentLog.child({ component: 'cluster' }),
      )
    : undefined;
  const streamKey = config.INGEST_STREAM_KEY ?? INGEST_STREAM.key;
  const throttle = createLoginThrottle(
    throttleOptions,
    undefined,
    cluster && { redis: cluster.redis, prefix: `${streamKey}:login-throttle:`, log },
  );
  const connections = createConnectionRegistry({
    perDevice: config.MQTT_MAX_CONNECTIONS_PER_DEVICE ?? 4,
    perService: config.MQTT_MAX_CONNECTIONS_PER_SERVICE ?? 256,
  });
  // Logins verified lately, each checked against the store's current credential when used again.
  const cache = createVerifiedCache<Verified>({ ttlMs: 30 * 60_000 });
  const auth = createAuthentication({
    devices: store.devices,
    serviceSecrets,
    allowSim: config.MQTT_ALLOW_SIM ?? false,
    throttle,
    cache,
    connections,
    refusals,
    log,
  });
  const revocations = watchRevocations({
    audit: store.audit,
    intervalMs: config.REVOCATION_POLL_MS ?? 2000,
    log,
    onRevoked(deviceId, entry) {
      cache.clear();
      const dropped = connections.drop(deviceId);
      log.info({ device: deviceId, action: entry.action, by: entry.actor, dropped }, 'credential revoked');
    },
  });
  let stats: ReturnType<typeof createStats> | undefined;
  const authorization = createAuthorization(refusals, () => stats?.countForward(), cluster?.append);

  const aedes = new Aedes({
    // With the Redis persistence a stored packet is keyed by Aedes' id and its counter, which starts again
    // at 0 in every process: a broker restarted under the same BROKER_ID would number new packets as the
    // ones still queued for offline sessions, and those were lost (test/durable.test.ts). One id per boot.
    id: cluster
      ? `${config.BROKER_ID}.${Date.now().toString(36)}${process.pid.toString(36)}`
      : config.BROKER_ID,
    ...(cluster
      ? { ...(cluster.mq ? { mq: cluster.mq } : {}), persistence: cluster.persistence }
      : // Indexed outgoing queues: a PUBACK costs the same whatever the subscriber holds (session-store.ts).
        {
          persistence: createSessionStore({
            maxQueuedPerDevice: config.MQTT_MAX_QUEUED_PER_DEVICE ?? 100,
          }),
        }),
    preConnect: auth.preConnect,
    authenticate: auth.authenticate,
    authorizePublish: authorization.authorizePublish,
    authorizeSubscribe: authorization.authorizeSubscribe,
    authorizeForward: authorization.authorizeForward,
    // MQTT 3.1's 23-character client id limit is too short for device ids (up to 64) plus a suffix.
    maxClientsIdLength: 128,
    // An hour at most between packets; a keepalive of 0 (never) is refused, so a dead car's last will fires.
    keepaliveLimit: 3600,
    connectTimeout: 10_000,
    // A subscriber that stops reading is dropped after 30 s rather than stalling delivery to everyone.
    drainTimeout: 30_000,
    concurrency: EMITTER_CONCURRENCY,
    // Our topics have at most 5 levels; deeper ones are refused before they reach the topic trees.
    maxTopicLevels: 16,
    // Devices publish at QoS 0 or 1; a small QoS 2 window is plenty.
    maxInflightInbound: 100,
  });
  stats = createStats(aedes, refusals, config.BROKER_ID, log);
  if (!cacheEmitterMatches((aedes as unknown as { mq: unknown }).mq))
    log.warn('emitter without a qlobber matcher: topic matches not cached');

  // emitted when publishing stale wills fails; an 'error' nobody listens to would crash the process
  (aedes as EventEmitter).on('error', (err: Error) => log.error({ err }, 'broker error'));
  // Aedes never logs (conventions: hooks). Refusals are logged by refusals.ts; these are socket resets, keepalive
  // timeouts and the errors that close a refused client, so they stay at debug.
  aedes.on('clientError', (client, err) =>
    log.debug({ clientId: maskClientId(client.id), err: err.message }, 'client error'),
  );
  aedes.on('connectionError', (client, err) =>
    log.debug(
      { clientId: maskClientId(client.id), remoteAddress: remoteAddressOf(client), err: err.message },
      'connection error',
    ),
  );
  aedes.on('clientReady', (client) =>
    log.debug({ clientId: maskClientId(client.id), as: nameOf(client) }, 'client connected'),
  );
  aedes.on('clientDisconnect', (client) =>
    log.debug({ clientId: maskClientId(client.id), as: nameOf(client) }, 'client disconnected'),
  );

  let capWarned = false;
  const listeners = createListeners(
    {
      host: config.MQTT_HOST,
      port: config.MQTT_PORT,
      wsPort: config.MQTT_WS_PORT,
      tlsPort: config.MQTT_TLS_PORT,
      tlsCertFile: config.MQTT_TLS_CERT,
      tlsKeyFile: config.MQTT_TLS_KEY,
      maxWsMessageBytes: 4 * MAX_PACKET_BYTES,
      proxyPort: config.MQTT_PROXY_PORT,
      wsTrustProxy: config.MQTT_WS_TRUST_PROXY,
      onProxyRefused: (detail, remoteAddress) =>
        refusals.refuse('proxy_header', {
          clientId: undefined,
          remoteAddress: remoteAddress ?? 'unknown',
          detail,
        }),
    },
    (stream, remoteAddress) => {
      batchWrites(stream);
      const client = aedes.handle(stream);
      if (cluster) dedupeByPacketIdentity(client);
      rememberRemote(client, remoteAddress);
      const capped = capPacketSize(client, MAX_PACKET_BYTES, (declared) =>
        refusals.refuse('packet_too_large', {
          clientId: client.id,
          username: nameOf(client),
          remoteAddress: remoteAddressOf(client),
          detail: `${declared} bytes declared`,
        }),
      );
      if (!capped && !capWarned) {
        capWarned = true;
        log.warn(
          'packet size cap unavailable (mqtt-packet parser changed): large packets are read before refusal',
        );
      }
    },
  );

  let housekeeping: NodeJS.Timeout | undefined;
  let closing: Promise<void> | undefined;

  return {
    aedes,
    async listen() {
      await aedes.listen();
      await revocations.start();
      const ports = await listeners.listen();
      stats?.start(config.STATS_INTERVAL_MS);
      housekeeping = setInterval(() => {
        refusals.flush();
        throttle.sweep();
      }, HOUSEKEEPING_MS);
      housekeeping.unref();
      log.info(
        { ...ports, host: config.MQTT_HOST, brokerId: config.BROKER_ID, cluster: cluster !== undefined },
        'broker listening',
      );
      return ports;
    },
    close() {
      closing ??= (async () => {
        clearInterval(housekeeping);
        stats?.stop();
        await revocations.stop();
        const stopped = listeners.stopAccepting();
        const aedesClosed = new Promise<void>((resolve) => aedes.close(() => resolve()));
        await (cluster ? cluster.close(aedesClosed) : aedesClosed);
        listeners.dropAll();
        await stopped;
        refusals.flush();
        log.info('broker closed');
      })();
      return closing;
    },
    stats: () => stats!.snapshot(),
    checkRevocations: () => revocations.check(),
  };
}

function nameOf(client: Client): string | undefined {
  const identity = identityOf(client);
  return identity ? identityName(identity) : undefined;
}
