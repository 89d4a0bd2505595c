import {
  INGEST_SUBSCRIPTIONS,
  influxTarget,
  maskTopic,
  serviceClientId,
  statsTopic,
} from '@citytel/contract';
import type { Store } from '@citytel/store';
import type { Logger } from 'pino';
import type { IngestConfig } from './config.ts';
import { createDeviceCache, StoppedError } from './devices.ts';
import { createInfluxSetup } from './influx-setup.ts';
import { createLastSeen } from './last-seen.ts';
import type { Outcome } from './outcome.ts';
import { createPipeline } from './pipeline.ts';
import { createRejections } from './rejections.ts';
import { createMqttSource } from './source/mqtt.ts';
import { createRedisStreamSource, type RedisStreamSource } from './source/redis-stream.ts';
import type { MessageSource, SourceMessage } from './source/types.ts';
import { assembleStats, type IngestStats, newCounters } from './stats.ts';
import { createStatsPublisher } from './stats-publisher.ts';
import { createWriter } from './writer.ts';

export interface IngestDeps {
  config: IngestConfig;
  store: Pick<Store, 'devices' | 'rejections' | 'touchMany'>;
  log: Logger;
  /** Password of the `svc:ingest` MQTT account; required unless `source` is given (cluster mode: stats only). */
  serviceSecret?: string;
  /** Another message source (tests); default: the broker at MQTT_URL, or the Redis Stream when REDIS_URL is set. */
  source?: MessageSource & { publish?(topic: string, payload: string, retain: boolean): void };
}

export interface Ingest {
  start(): Promise<void>;
  /** Takes no more messages, writes what it holds (up to INGEST_SHUTDOWN_MS), acknowledges it, disconnects. */
  stop(): Promise<void>;
  stats(): IngestStats;
}

/** Below this share of a bound, a source held back by backpressure is let go again. */
const LOW_WATER = 0.75;

/** The worker's parts, built from its config: registry, pipeline, writer, side stores, message source. */
function createParts(deps: IngestDeps, log: Logger) {
  const { config, store } = deps;
  const devices = createDeviceCache(store.devices, {
    ttlMs: config.INGEST_DEVICE_TTL_MS,
    unknownTtlMs: config.INGEST_UNKNOWN_TTL_MS,
    log: log.child({ component: 'registry' }),
  });
  const pipeline = createPipeline({
    devices,
    maxDeviceAgeMs: config.INGEST_MAX_DEVICE_AGE_H * 3_600_000,
    stuckReadings: config.INGEST_STUCK_READINGS,
  });
  const writer = createWriter(
    {
      ...influxTarget(config),
      batchLines: config.INGEST_BATCH_LINES,
      batchBytes: config.INGEST_BATCH_BYTES,
      flushMs: config.INGEST_FLUSH_MS,
      gzipBytes: config.INGEST_GZIP_BYTES,
      maxInFlight: config.INGEST_MAX_INFLIGHT_POINTS,
      retryMinMs: config.INGEST_RETRY_MIN_MS,
      retryMaxMs: config.INGEST_RETRY_MAX_MS,
      timeoutMs: config.INGEST_WRITE_TIMEOUT_MS,
    },
    deps.log.child({ component: 'writer' }),
  );
  const influxSetup = createInfluxSetup(config, deps.log.child({ component: 'influx-setup' }));
  const rejections = createRejections({
    store: store.rejections,
    keep: config.INGEST_REJECTIONS_KEEP,
    log: deps.log.child({ component: 'rejections' }),
  });
  const lastSeen = createLastSeen({
    touchMany: (seen) => store.touchMany(seen),
    flushMs: config.INGEST_SEEN_MS,
    log: deps.log.child({ component: 'last-seen' }),
  });
  // Cluster mode: the stream the brokers append to replaces the subscription to one broker.
  const stream: RedisStreamSource | undefined =
    !deps.source && config.REDIS_URL
      ? createRedisStreamSource({
          url: config.REDIS_URL,
          key: config.INGEST_STREAM_KEY,
          group: config.INGEST_GROUP,
          consumer: config.INGEST_ID,
          claimIdleMs: config.INGEST_CLAIM_IDLE_MS,
          count: config.INGEST_STREAM_COUNT,
          trimEveryMs: config.INGEST_TRIM_MS,
          log: deps.log.child({ component: 'stream' }),
        })
      : undefined;
  const source: MessageSource & { publish?(topic: string, payload: string, retain: boolean): void } =
    deps.source ??
    stream ??
    createMqttSource({
      url: config.mqttUrl,
      clientId: serviceClientId('svc:ingest', config.INGEST_ID),
      username: 'svc:ingest',
      password: deps.serviceSecret ?? '',
      subscriptions: INGEST_SUBSCRIPTIONS,
      keepaliveS: config.MQTT_KEEPALIVE_S,
      log: deps.log.child({ component: 'mqtt' }),
    });

  // The stream source has no MQTT connection; its figures still go to the broker, for the api's /metrics.
  const statsLink =
    stream && deps.serviceSecret !== undefined
      ? createStatsPublisher({
          url: config.mqttUrl,
          clientId: serviceClientId('svc:ingest', `${config.INGEST_ID}-stats`),
          username: 'svc:ingest',
          password: deps.serviceSecret,
          keepaliveS: config.MQTT_KEEPALIVE_S,
          log: deps.log.child({ component: 'stats-mqtt' }),
        })
      : undefined;
  const publish = source.publish?.bind(source) ?? statsLink?.publish;
  return { devices, pipeline, writer, influxSetup, rejections, lastSeen, stream, source, statsLink, publish };
}

/**
 * The ingest worker: messages from the source go through the pipeline into the writer, and each is
 * acknowledged only once every point it produced is in InfluxDB (at least once, end to end).
 */
export function createIngest(deps: IngestDeps): Ingest {
  const { config } = deps;
  const log = deps.log.child({ component: 'ingest' });
  // Destructured: the per-message path reads its parts as plain bindings, as when they were built here.
  const { devices, pipeline, writer, influxSetup, rejections, lastSeen, stream, source, statsLink, publish } =
    createParts(deps, log);

  const counters = newCounters();
  const startedAt = Date.now();
  /** Messages delivered and not yet acknowledged (held for their points, or waiting for the registry). */
  let open = 0;
  let openWaiters: Array<() => void> = [];
  let stopping = false;
  let closed = false;
  let statsTimer: NodeJS.Timeout | undefined;

  // Called with its message by the writer, so no closure is made per message.
  const settled = (m: SourceMessage) => {
    open--;
    m.ack();
    if (openWaiters.length && open < config.INGEST_MAX_HELD_MESSAGES * LOW_WATER) {
      const w = openWaiters;
      openWaiters = [];
      for (const resolve of w) resolve();
    }
  };

  function handle(m: SourceMessage, o: Outcome) {
    rejections.record(o);
    if (o.seen) lastSeen.record(o.seen);
    counters.deviceTime += o.times.device;
    counters.brokerTime += o.times.broker;
    counters.ingestTime += o.times.ingest;
    if (o.flagged) counters.flagged += o.flagged;
    if (o.rejected) counters.rejected++;
    else if (o.lines.length) counters.accepted++;
    counters.kept += o.lines.length;
    // After the writer closed nothing is written, so nothing is acknowledged: the broker resends it.
    if (!closed) writer.write(o.lines, settled, m);
  }

  function onMessage(m: SourceMessage) {
    counters.received++;
    counters.bytes += m.payload.length;
    open++;
    const o = pipeline.process(m);
    if (!(o instanceof Promise)) return handle(m, o);
    o.then(
      (outcome) => handle(m, outcome),
      (err) => {
        if (!(err instanceof StoppedError))
          log.error({ err, topic: maskTopic(m.topic) }, 'message could not be processed');
      },
    );
  }

  async function capacity(): Promise<void> {
    for (;;) {
      if (stopping) return;
      if (writer.pending() >= config.INGEST_MAX_INFLIGHT_POINTS) {
        await writer.waitBelow(Math.floor(config.INGEST_MAX_INFLIGHT_POINTS * LOW_WATER));
      } else if (open >= config.INGEST_MAX_HELD_MESSAGES) {
        await new Promise<void>((resolve) => openWaiters.push(resolve));
      } else return;
    }
  }

  const backpressure = () =>
    writer.pending() >= config.INGEST_MAX_INFLIGHT_POINTS || open >= config.INGEST_MAX_HELD_MESSAGES
      ? capacity()
      : undefined;

  const stats = (): IngestStats => {
    const src = source.stats();
    const s = assembleStats({
      id: config.INGEST_ID,
      startedAt,
      counters,
      open,
      writer: writer.stats(),
      source: src,
      rejections: rejections.stats(),
      registry: devices.stats(),
    });
    if ('claimed' in src) {
      const { claimed, trimmed, missing } = src as ReturnType<RedisStreamSource['stats']>;
      s.stream = { claimed, trimmed, missing };
    }
    return s;
  };

  const publishStats = () => {
    const s = stats();
    publish?.(statsTopic('ingest', config.INGEST_ID), JSON.stringify(s), true);
    log.debug({ stats: s }, 'stats');
  };

  return {
    async start() {
      await influxSetup.start();
      rejections.start();
      lastSeen.start();
      await source.start({ onMessage, backpressure });
      statsTimer = setInterval(publishStats, config.INGEST_STATS_MS);
      statsTimer.unref();
      publishStats();
      log.info(
        {
          influx: config.INFLUX_URL,
          db: config.INFLUX_BUCKET ?? config.INFLUX_DB,
          id: config.INGEST_ID,
          source: stream ? `redis stream ${config.INGEST_STREAM_KEY}` : deps.source ? 'given' : 'mqtt',
        },
        'ingest started',
      );
    },
    async stop() {
      if (stopping) return;
      source.pause();
      stopping = true;
      influxSetup.stop();
      devices.close();
      for (const resolve of openWaiters) resolve();
      openWaiters = [];
      const drained = await writer.drain(config.INGEST_SHUTDOWN_MS);
      clearInterval(statsTimer);
      publishStats();
      await source.close();
      await statsLink?.close();
      closed = true;
      writer.close();
      await Promise.all([rejections.stop(), lastSeen.stop()]);
      log.info({ drained, unwritten: writer.pending() }, 'ingest stopped');
    },
    stats,
  };
}
