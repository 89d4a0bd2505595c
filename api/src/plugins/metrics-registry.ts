import { STATS_SUBSCRIPTION } from '@citytel/contract';
import fp from 'fastify-plugin';
import { Counter, Histogram, renderFamily } from '../prom.ts';
import { createStatsBoard, type StatsBoard } from '../stats-board.ts';

export interface MetricsRegistry {
  httpRequests: Counter;
  httpDuration: Histogram;
  stats: StatsBoard;
  /** Adds a family renderer (a route group's own figures); called on every scrape. */
  addCollector(render: () => string): void;
  render(): string;
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

function processFamilies(): string {
  const m = process.memoryUsage();
  return [
    renderFamily('process_resident_memory_bytes', 'gauge', 'resident set size', [
      { labels: {}, value: m.rss },
    ]),
    renderFamily('nodejs_heap_used_bytes', 'gauge', 'V8 heap in use', [{ labels: {}, value: m.heapUsed }]),
    renderFamily('nodejs_heap_total_bytes', 'gauge', 'V8 heap allocated', [
      { labels: {}, value: m.heapTotal },
    ]),
    renderFamily('nodejs_external_memory_bytes', 'gauge', 'memory held outside the V8 heap', [
      { labels: {}, value: m.external },
    ]),
    renderFamily('process_uptime_seconds', 'gauge', 'seconds since the process started', [
      { labels: {}, value: Math.round(process.uptime()) },
    ]),
  ].join('');
}

/**
 * What /metrics serves: request counts and durations of every route (a global onResponse hook, so the
 * plugin is not encapsulated), process memory, and the stats other processes publish over MQTT.
 */
export const metricsRegistryPlugin = fp(
  async (app) => {
    const collectors: Array<() => string> = [];
    const registry: MetricsRegistry = {
      httpRequests: new Counter(
        'citytel_api_http_requests_total',
        'HTTP requests answered, by route and status',
      ),
      httpDuration: new Histogram(
        'citytel_api_http_request_duration_seconds',
        'HTTP request duration, by route',
      ),
      stats: createStatsBoard(),
      addCollector: (render) => collectors.push(render),
      render: () =>
        [
          registry.httpRequests.render(),
          registry.httpDuration.render(),
          processFamilies(),
          ...collectors.map((c) => c()),
          registry.stats.render(),
        ].join(''),
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

    let unsubscribe: (() => void) | undefined;
    app.addHook('onReady', async () => {
      unsubscribe = app.mqtt?.subscribe(STATS_SUBSCRIPTION, (topic, payload) => {
        registry.stats.update(topic, payload);
      });
    });
    app.addHook('onClose', async () => unsubscribe?.());
  },
  { name: 'citytel-metrics', fastify: '5.x', dependencies: ['citytel-context'] },
);
