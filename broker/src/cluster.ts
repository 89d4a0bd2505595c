import type { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import type { Redis } from 'ioredis';
import MQEmitterRedis from 'mqemitter-redis';
import type { Logger } from 'pino';
import { closeRedis, createRedisConnection } from './redis-connection.ts';
import { type AppendToStream, createStreamAppender } from './stream-append.ts';

const require = createRequire(import.meta.url);
/**
 * The package's main export wraps its promise persistence in aedes-persistence's CallBackPersistence: an
 * async `setup`, promise methods when called without a callback, Readable streams — what Aedes 1.x calls.
 */
const redisPersistence = require('aedes-persistence-redis') as (opts: {
  conn: Redis;
  maxSessionDelivery?: number;
}) => ClusterPersistence;

interface ClusterPersistence {
  destroy(): Promise<void>;
}

const CLOSE_WAIT_MS = 5000;

/** True when `work` settled (either way) within `ms`. */
async function within(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const settled = await Promise.race([
    work.then(
      () => true as const,
      () => true as const,
    ),
    late,
  ]);
  clearTimeout(timer);
  return settled;
}

export interface ClusterOptions {
  url: string;
  streamKey: string;
  /** Longest wait for an append (ioredis command timeout on the appending connection). */
  appendTimeoutMs: number;
  brokerId: string;
  /** Messages in flight at once through the emitter, as Aedes' own emitter is given. */
  concurrency: number;
  /**
   * `redis`: deliveries between brokers over Redis pub/sub (several brokers). `memory`: one broker keeps
   * Aedes' own emitter, so delivering costs no Redis round trip; sessions, retained messages and the ingest
   * stream are in Redis all the same (the durable one-machine mode).
   */
  emitter: 'redis' | 'memory';
}

/** What Aedes and the publish hook need to run as one node of a cluster sharing one Redis. */
export interface ClusterBackend {
  /** Aedes `mq`: deliveries between brokers, over Redis pub/sub; undefined with the in-memory emitter. */
  mq: unknown;
  /** Aedes `persistence`: sessions, subscriptions, offline queues, retained messages and wills, in Redis. */
  persistence: unknown;
  append: AppendToStream;
  /** A shared connection for the login slow-down's counts (throttle.ts). */
  redis: Redis;
  /**
   * Waits for Aedes to close (its clients gone, its emitter closed), then closes the persistence and the
   * connections. Bounded: with Redis unreachable, Aedes' last unsubscribes never answer.
   */
  close(aedesClosed: Promise<void>): Promise<void>;
}

/**
 * Cluster mode (CONTRACT §5, REDIS_URL): every broker uses mqemitter-redis for deliveries and
 * aedes-persistence-redis for sessions, so a device may connect to any of them, and appends device data to
 * the ingest stream. The connections are made here rather than by the libraries so that their errors are
 * logged (an unreachable Redis must not crash the broker) and they close with the broker.
 */
export function createClusterBackend(options: ClusterOptions, log: Logger): ClusterBackend {
  const name = (role: string) => `citytel-broker:${options.brokerId}:${role}`;
  const dbConn = createRedisConnection(options.url, name('sessions'), log, { enableAutoPipelining: true });
  // Auto-pipelined: every append made in one event-loop turn goes to Redis in one write, one round trip.
  const appendConn = createRedisConnection(options.url, name('stream'), log, {
    enableAutoPipelining: true,
    commandTimeout: options.appendTimeoutMs,
  });
  const emitter = options.emitter === 'redis' ? createRedisEmitter(options, name, log) : undefined;
  const persistence = redisPersistence({ conn: dbConn });

  return {
    mq: emitter?.mq,
    persistence,
    append: createStreamAppender(appendConn, options.streamKey, log),
    redis: dbConn,
    async close(aedesClosed) {
      const closed =
        (await within(aedesClosed, CLOSE_WAIT_MS)) &&
        // the session writes of the last clients (wills, retained statuses) land before the disconnect
        (await within(dbConn.ping(), CLOSE_WAIT_MS)) &&
        (await within(
          persistence.destroy().catch((err: unknown) => log.warn({ err }, 'redis persistence close failed')),
          CLOSE_WAIT_MS,
        ));
      if (!closed) log.warn('redis did not answer: cluster connections dropped without waiting');
      await Promise.all([...(emitter?.conns ?? []), dbConn, appendConn].map(closeRedis));
    },
  };
}

/** mqemitter-redis on two connections of its own (pub/sub), their errors logged rather than thrown. */
function createRedisEmitter(options: ClusterOptions, name: (role: string) => string, log: Logger) {
  // Not auto-pipelined: mqemitter-redis closes with QUIT, which ioredis sends at once, ahead of auto-pipelined
  // commands still waiting for the next tick: the last deliveries (a closing broker's disconnect notices
  // and wills) would be refused rather than sent.
  const pubConn = createRedisConnection(options.url, name('pub'), log);
  const subConn = createRedisConnection(options.url, name('sub'), log);
  // [MQTT-4.7.1-3]: `sensors/#` matches `sensors`, as Aedes' own emitter is configured.
  const mq = MQEmitterRedis({
    subConn,
    pubConn,
    matchEmptyLevels: true,
    concurrency: options.concurrency,
  }) as ReturnType<typeof MQEmitterRedis> & { state: EventEmitter };
  // mqemitter-redis re-emits its connections' errors on `state`; unheard, that 'error' would throw.
  mq.state.on('error', () => {});
  // Its close() calls quit() and drops the promise: with Redis down that rejection would be unhandled, which
  // ends a Node process. The caller still gets the promise; this only marks it handled.
  for (const conn of [pubConn, subConn]) {
    const quit = conn.quit.bind(conn);
    conn.quit = ((...args: Parameters<typeof quit>) => {
      const quitting = quit(...args);
      quitting.catch(() => undefined);
      return quitting;
    }) as typeof conn.quit;
  }
  return { mq, conns: [pubConn, subConn] };
}
