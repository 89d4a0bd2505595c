import fp from 'fastify-plugin';
import type { Redis } from 'ioredis';
import { type CommandSignal, redisCommandSignal } from '../commands/signal.ts';

export interface ClusterParts {
  /** Cluster mode's Redis connection (REDIS_URL); undefined on one machine. */
  redis: Redis | undefined;
  /** "Command X ended", across instances; undefined on one machine. */
  commandSignal: CommandSignal | undefined;
}

declare module 'fastify' {
  interface FastifyInstance {
    cluster: ClusterParts;
  }
}

/** What several api instances share beyond the store: built from the caller's Redis connection, if any. */
export const clusterPlugin = fp<{ redis?: Redis | undefined; keyPrefix: string }>(
  async (app, opts) => {
    const redis = opts.redis;
    app.decorate('cluster', {
      redis,
      commandSignal: redis
        ? redisCommandSignal({ redis, channel: `${opts.keyPrefix}commands`, log: app.log })
        : undefined,
    });
  },
  { name: 'citytel-cluster', fastify: '5.x' },
);
