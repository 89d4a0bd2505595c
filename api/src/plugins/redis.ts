import { Redis } from 'ioredis';
import type { Logger } from 'pino';

/**
 * The api's Redis connection in cluster mode (REDIS_URL): the rate limits' shared counters and the
 * command signal's publisher. Nothing the api answers depends on Redis being up: the store holds every
 * truth, so a command answered by a Redis outage is only slower (the waits' re-read) and limits are
 * lenient for that while. Commands therefore fail fast instead of queueing: one retry, then an error.
 */
export function connectApiRedis(url: string, parentLog: Logger): Redis {
  const log = parentLog.child({ component: 'redis' });
  const redis = new Redis(url, {
    connectionName: 'citytel-api',
    maxRetriesPerRequest: 1,
    commandTimeout: 2000,
    // Reconnects forever, at most every 2 s.
    retryStrategy: (times) => Math.min(times * 100, 2000),
  });
  watchConnection(redis, log);
  return redis;
}

/** One line per outage and one per recovery, not one per reconnect attempt (conventions: logs). */
export function watchConnection(redis: Redis, log: Logger): void {
  let down = false;
  redis.on('ready', () => {
    if (down) log.info('reconnected to Redis');
    else log.info('connected to Redis');
    down = false;
  });
  redis.on('error', (err: Error) => {
    if (down) log.debug({ err: err.message }, 'redis client error');
    else log.warn({ err: err.message }, 'Redis unreachable; reconnecting');
    down = true;
  });
}

/** Closes politely when connected; otherwise drops the connection (quit() would wait for Redis to return). */
export async function closeApiRedis(redis: Redis): Promise<void> {
  if (redis.status === 'ready') await redis.quit().catch(() => redis.disconnect());
  else redis.disconnect();
}
