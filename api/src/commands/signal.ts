import type { CommandState } from '@citytel/contract';
import type { FastifyBaseLogger as Logger } from 'fastify';
import type { Redis } from 'ioredis';

/**
 * "Command X changed", heard by every api instance: a `?wait=` held by one instance ends as soon as
 * another applies the car's answer (or expires the command), not at its next re-read of the store.
 *
 * Redis pub/sub rather than PostgreSQL LISTEN/NOTIFY: REDIS_URL is already the cluster-mode switch (the
 * shared rate limits need it), so this works whatever the store is; LISTEN needs a connection of its own
 * per instance held out of the pool, which a transaction-pooling PgBouncer in front of PostgreSQL does not
 * keep, and the transition would have to NOTIFY inside the store's transaction. The signal is only a
 * hint: the waiter re-reads its command from the store before answering, so a message lost (pub/sub is
 * at most once; Redis down, a reconnection) costs nothing but time, and the 1 s re-read still ends the
 * wait.
 */
export interface CommandSignal {
  /** Tells every instance (this one too) that a command reached `state`. Never throws. */
  publish(c: { id: string; state: CommandState }): void;
  /** Listens; resolves once subscribed, or after `timeoutMs` with Redis down (it keeps trying). */
  start(onChange: (id: string) => void, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface RedisCommandSignalOptions {
  /** The publisher (also the rate limits' client); the subscriber is a duplicate of it. */
  redis: Redis;
  channel: string;
  log: Logger;
}

export function redisCommandSignal(opts: RedisCommandSignalOptions): CommandSignal {
  const { redis, channel } = opts;
  const log = opts.log.child({ component: 'command-signal' });
  let sub: Redis | undefined;

  return {
    publish(c) {
      redis.publish(channel, JSON.stringify({ id: c.id, state: c.state })).catch((err: Error) => {
        log.debug({ err: err.message, command: c.id }, 'command signal not sent; waits re-read the store');
      });
    },

    async start(onChange, timeoutMs = 3000) {
      // A connection in subscriber mode can do nothing else; ioredis subscribes it again on reconnection.
      // Its SUBSCRIBE waits for Redis however long it is away (no retry limit, no timeout): given up, it
      // would leave this instance deaf to the signal until restarted.
      sub = redis.duplicate({
        connectionName: 'citytel-api-signal',
        maxRetriesPerRequest: null,
        commandTimeout: undefined,
      });
      sub.on('error', (err: Error) => log.debug({ err: err.message }, 'command signal subscriber error'));
      sub.on('message', (_channel: string, message: string) => {
        let id: unknown;
        try {
          id = (JSON.parse(message) as { id?: unknown }).id;
        } catch {
          return;
        }
        if (typeof id === 'string') onChange(id);
      });
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => {
        timer = setTimeout(() => resolve('late'), timeoutMs);
      });
      const subscribed = sub.subscribe(channel).then(
        () => 'ok' as const,
        (err: Error) => {
          log.warn({ err: err.message }, 'command signal: subscribe failed');
          return 'late' as const;
        },
      );
      const outcome = await Promise.race([subscribed, late]);
      clearTimeout(timer);
      if (outcome === 'late')
        log.warn('command signal not subscribed yet (Redis unreachable); waits re-read the store meanwhile');
    },

    async stop() {
      const s = sub;
      sub = undefined;
      if (!s) return;
      s.removeAllListeners('message');
      // quit() waits for a connection that may never come; disconnect() does not.
      if (s.status === 'ready') await s.quit().catch(() => s.disconnect());
      else s.disconnect();
    },
  };
}
