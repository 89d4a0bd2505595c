import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';

/** While Redis stays unreachable, one warning per connection per this long (conventions: logs). */
const WARN_EVERY_MS = 60_000;
/** A connection that does not answer QUIT by then is dropped. */
const QUIT_WAIT_MS = 2000;

/**
 * One ioredis connection of the cluster mode, named in the logs. ioredis reconnects by itself and emits
 * 'error' at each failed attempt: that becomes one warning a minute with a count, and one line when the
 * connection is back.
 */
export function createRedisConnection(
  url: string,
  name: string,
  log: Logger,
  options: RedisOptions = {},
): Redis {
  const redis = new Redis(url, { connectionName: name, ...options });
  let lastWarnAt = 0;
  let failures = 0;
  redis.on('error', (err: Error) => {
    failures++;
    const now = Date.now();
    if (now - lastWarnAt < WARN_EVERY_MS) return;
    lastWarnAt = now;
    log.warn({ connection: name, err: err.message, failures }, 'redis unreachable');
  });
  redis.on('ready', () => {
    if (failures > 0) log.info({ connection: name, failures }, 'redis reachable again');
    failures = 0;
    lastWarnAt = 0;
  });
  return redis;
}

/**
 * QUIT (lets the commands already sent finish), or a hard disconnect when Redis does not answer. A
 * connection waiting to reconnect is only disconnected: ioredis 5 then stops retrying but never reaches
 * 'end', so there is nothing to wait for.
 */
export async function closeRedis(redis: Redis): Promise<void> {
  if (redis.status === 'end') return;
  if (redis.status !== 'ready') {
    redis.disconnect();
    return;
  }
  const ended = new Promise<void>((resolve) => redis.once('end', () => resolve()));
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, QUIT_WAIT_MS);
  });
  // PING first: it queues behind auto-pipelined commands, which QUIT would overtake
  redis
    .ping()
    .then(() => redis.quit())
    .catch(() => redis.disconnect());
  await Promise.race([ended, timedOut]);
  clearTimeout(timer);
  if ((redis.status as string) !== 'end') redis.disconnect();
}
