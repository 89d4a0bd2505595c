import { STATS_SUBSCRIPTIONS } from '@citytel/contract';
import { processRegistry } from '@citytel/store';
import fp from 'fastify-plugin';
import { Counter, Histogram, Registry } from 'prom-client';
import { DEFAULT_BUCKETS } from '../prom.ts';
import { createStatsBoard, type StatsBoard } from '../stats-board.ts';

export interface MetricsRegistry {
  httpRequests: Counter<'method' | 'route' | 'status'>;
  httpDuration: Histogram<'method' | 'route'>;
  stats: StatsBoard;
  /** Adds a family renderer (a route group's own figures, in exposition text); called on every scrape. */
  addCollector(render: () => string): void;
  render(): Promise<string>;
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: MetricsRegistry;
  }
}

const startedAt = Symbol('citytel.startedAt');
declare module 'fastify' {
  interface FastifyRequest {
    [startedAt]?: bigint;
  }
}

/**
 * What /metrics serves (prom-client): request counts and durations of every route (a global onResponse
 * hook, so the plugin is not encapsulated), Node's standard process metrics, and the figures the broker and
 * ingest publish on their stats topics, relayed under their own names (stats-board.ts).
 */
export const metricsRegistryPlugin = fp(
  async (app) => {
    const own = new Registry();
    const collectors: Array<() => string> = [];
    const stats = createStatsBoard();
    for (const m of stats.metrics())
      own.registerMetric(m as unknown as Parameters<Registry['registerMetric']>[0]);
    const registry: MetricsRegistry = {
      httpRequests: new Counter({
        name: 'citytel_api_http_requests_total',
        help: 'HTTP requests answered, by route and status',
        labelNames: ['method', 'route', 'status'],
        registers: [own],
      }),
      httpDuration: new Histogram({
        name: 'citytel_api_http_request_duration_seconds',
        help: 'HTTP request duration, by route',
        labelNames: ['method', 'route'],
        buckets: DEFAULT_BUCKETS,
        registers: [own],
      }),
      stats,
      addCollector: (render) => collectors.push(render),
      async render() {
        const text = await Registry.merge([processRegistry(), own]).metrics();
        return text + collectors.map((c) => c()).join('');
      },
    };
    app.decorate('metrics', registry);

    app.addHook('onRequest', async (request) => {
      request[startedAt] = process.hrtime.bigint();
    });
    app.addHook('onResponse', async (request, reply) => {
      // Unmatched urls share one label: any path a scanner tries would otherwise become a series.
      const route = request.routeOptions.url ?? 'unmatched';
      const status = String(reply.statusCode);
      registry.httpRequests.inc({ method: request.method, route, status });
      const start = request[startedAt];
      if (start !== undefined) {
        registry.httpDuration.observe(
          { method: request.method, route },
          Number(process.hrtime.bigint() - start) / 1e9,
        );
      }
    });

    const unsubscribe: Array<() => void> = [];
    app.addHook('onReady', async () => {
      for (const filter of STATS_SUBSCRIPTIONS) {
        const off = app.mqtt?.subscribe(filter, (topic, payload) => {
          registry.stats.update(topic, payload);
        });
        if (off) unsubscribe.push(off);
      }
    });
    app.addHook('onClose', async () => {
      for (const off of unsubscribe) off();
    });
  },
  { name: 'citytel-metrics', fastify: '5.x', dependencies: ['citytel-context'] },
);
