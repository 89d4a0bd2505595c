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
          'HTTP request counts and durations by route and status, process memory, and the figures the broker ' +
          'and ingest publish on `$SYS/citytel/{process}/{instance}/stats`, as gauges `citytel_{process}_{key}`.',
        response: {
          200: {
            description: 'Prometheus text exposition format 0.0.4',
            content: { 'text/plain': { schema: z.string() } },
          },
        },
      },
    },
    async (_request, reply) => reply.type(PROM_CONTENT_TYPE).send(app.metrics.render()),
  );
};
