import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type LabelledFigures, type StatsFamily, statsMetrics } from '@citytel/contract';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';

/**
 * A process's own Prometheus endpoint: Node's standard process metrics (prom-client's
 * collectDefaultMetrics: `process_cpu_seconds_total`, `nodejs_heap_size_used_bytes`, the event loop lag and
 * GC histograms... what stock Node.js dashboards read) and the process's figures through its family table
 * (process-stats.ts in the contract), read on each scrape. `GET /metrics` on a bare node:http listener; it
 * serves nothing else, so it can share a network with Prometheus and no one else.
 */
export interface MetricsServer {
  /** The process's figures; Node's metrics are in processRegistry(). */
  readonly registry: Registry;
  /** Binds the port (0 picks a free one) and returns the one bound. */
  listen(): Promise<number>;
  close(): Promise<void>;
}

let shared: Registry | undefined;

/**
 * Node's process metrics, once per process however many servers or apps it builds (tests build dozens):
 * each collectDefaultMetrics call adds a GC observer and an event-loop monitor that are never removed.
 */
export function processRegistry(): Registry {
  if (!shared) {
    shared = new Registry();
    collectDefaultMetrics({ register: shared });
  }
  return shared;
}

export function createMetricsServer(opts: {
  port: number;
  host?: string;
  families: readonly StatsFamily[];
  /** The process's figures now. */
  read: () => Record<string, unknown>;
  log: Logger;
}): MetricsServer {
  const registry = new Registry();
  const one = (): LabelledFigures[] => [{ figures: opts.read(), labels: {} }];
  // prom-client takes any object with name, help, type and get() as a metric; the table's are such objects.
  for (const m of statsMetrics(opts.families, one))
    registry.registerMetric(m as unknown as Parameters<Registry['registerMetric']>[0]);
  const log = opts.log.child({ component: 'metrics' });

  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found: GET /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end();
      return;
    }
    const all = Registry.merge([processRegistry(), registry]);
    all.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': registry.contentType });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (err: unknown) => {
        log.error({ err }, 'metrics could not be collected');
        res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' }).end('metrics unavailable\n');
      },
    );
  });
  server.keepAliveTimeout = 65_000;

  return {
    registry,
    listen: () =>
      new Promise<number>((resolve, reject) => {
        server.once('error', reject);
        server.listen(opts.port, opts.host, () => {
          server.off('error', reject);
          const port = (server.address() as AddressInfo).port;
          log.info({ port }, 'metrics listening on /metrics');
          resolve(port);
        });
      }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
