import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { PROM_CONTENT_TYPE } from '../prom.ts';

/** GET /metrics: Prometheus text exposition (CONTRACT §4). */
export const metricsRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/metrics',
    {
      schema: {
        tags: ['operations'],
        summary: 'Prometheus metrics',
        description:
          'HTTP request counts and durations by route and status, Node process metrics, and the figures the ' +
          'broker and ingest publish on their stats topics (`$SYS/citytel/broker/{id}/stats`, ' +
          '`citytel/ingest/{id}/stats`), under the names their own /metrics give them, with an `instance` label.',
        response: {
          200: {
            description: 'Prometheus text exposition format 0.0.4',
            content: { 'text/plain': { schema: z.string() } },
          },
        },
      },
    },
    async (_request, reply) => reply.type(PROM_CONTENT_TYPE).send(await app.metrics.render()),
  );
};
