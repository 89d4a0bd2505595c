import { readFileSync } from 'node:fs';
import type { Store } from '@citytel/store';
import fastifyCompress from '@fastify/compress';
import fastifyCors from '@fastify/cors';
import fastifyRateLimit from '@fastify/rate-limit';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyPluginAsync,
  LogController,
} from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { carsharingPlugin } from './commands/plugin.ts';
import type { ApiConfig } from './config.ts';
import { ApiError } from './errors.ts';
import type { InfluxQuery } from './influx/client.ts';
import type { TierCoverage } from './influx/plan.ts';
import type { InfluxClient } from './influx.ts';
import type { ApiMqtt } from './mqtt.ts';
import { authPlugin } from './plugins/auth.ts';
import { clusterPlugin } from './plugins/cluster.ts';
import { contextPlugin } from './plugins/context.ts';
import { registerDashboard } from './plugins/dashboard.ts';
import { registerDocs } from './plugins/docs.ts';
import { errorHandlerPlugin } from './plugins/error-handler.ts';
import { metricsRegistryPlugin } from './plugins/metrics-registry.ts';
import { registerSecurityHeaders } from './plugins/security-headers.ts';
import { airrohrRoutes } from './routes/airrohr.ts';
import { bookingRoutes } from './routes/bookings.ts';
import { commandRoutes } from './routes/commands.ts';
import { devicesAdminRoutes } from './routes/devices-admin.ts';
import { devicesPublicRoutes } from './routes/devices-public.ts';
import { exportRoutes } from './routes/export.ts';
import { gbfsRoutes } from './routes/gbfs.ts';
import { gbfsRegistryRoutes } from './routes/gbfs-registry.ts';
import { healthRoutes } from './routes/health.ts';
import { kitProfileRoutes } from './routes/kit-profile.ts';
import { mapRoutes } from './routes/map.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { noiseRoutes } from './routes/noise.ts';
import { offlineRoutes } from './routes/offline.ts';
import { operatorsAdminRoutes } from './routes/operators-admin.ts';
import { roamingRoutes } from './routes/roaming.ts';
import { seriesRoutes } from './routes/series.ts';
import { type StreamRoutesOptions, streamRoutes } from './routes/stream.ts';
import { vehicleRoutes } from './routes/vehicles.ts';

/**
 * The route groups, one plugin file each under routes/. A new group is one file and one line here; it reads
 * the shared parts from decorators (`app.store`, `app.mqtt`, `app.influx`, `app.config`, `app.metrics`) and
 * guards writes with `onRequest: app.requireOperator`.
 */
export const ROUTE_GROUPS: ReadonlyArray<{ name: string; plugin: FastifyPluginAsync }> = [
  { name: 'health', plugin: healthRoutes },
  { name: 'metrics', plugin: metricsRoutes },
  { name: 'devices-admin', plugin: devicesAdminRoutes },
  { name: 'operators-admin', plugin: operatorsAdminRoutes },
  { name: 'airrohr', plugin: airrohrRoutes },
  // The fleet's live state and the command tracker (app.carsharing), then the three groups that use them.
  { name: 'carsharing', plugin: carsharingPlugin },
  { name: 'vehicles', plugin: vehicleRoutes },
  { name: 'bookings', plugin: bookingRoutes },
  { name: 'commands', plugin: commandRoutes },
  { name: 'roaming', plugin: roamingRoutes },
  { name: 'offline', plugin: offlineRoutes },
  { name: 'gbfs-registry', plugin: gbfsRegistryRoutes },
  { name: 'gbfs', plugin: gbfsRoutes },
];

export interface AppDeps {
  config: ApiConfig;
  store: Store;
  log: Logger;
  mqtt?: ApiMqtt | undefined;
  influx?: InfluxClient | undefined;
  /**
   * Cluster mode (REDIS_URL): rate limits counted in Redis for every instance, and command waits woken by
   * any instance. The caller connects and closes it.
   */
  redis?: Redis | undefined;
  /**
   * Open data (GET /api/v1/devices, /devices/{id}/series, /map, /export), read with this InfluxQL client and
   * the rollup job's coverage (influx/rollup.ts). `cacheTtlMs` overrides each route's answer cache (0: off).
   */
  read?: { influx: InfluxQuery; rollups?: { coverage(): TierCoverage[] }; cacheTtlMs?: number } | undefined;
  /** Settings of the live stream (GET /api/v1/stream), registered whenever `mqtt` is given. */
  stream?: Omit<StreamRoutesOptions, 'mqtt' | 'store'>;
  /** Extra route groups (tests, or a deployment's own additions). */
  routes?: ReadonlyArray<{ name: string; plugin: FastifyPluginAsync }>;
}

/** A route as registered, for the test that every documented route exists and every route is documented. */
export interface RegisteredRoute {
  method: string;
  url: string;
  /** Left out of the OpenAPI document on purpose (docs UI, static files). */
  hidden: boolean;
}

declare module 'fastify' {
  interface FastifyInstance {
    registeredRoutes: readonly RegisteredRoute[];
  }
}

const version = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/** Request lines at debug: at info, every kit's post every 145 s would drown the log (conventions: logs). */
class QuietLogController extends LogController {
  override incomingRequest(): void {}
  override requestCompleted(
    error: Error | null | undefined,
    request: Parameters<LogController['requestCompleted']>[1],
    reply: Parameters<LogController['requestCompleted']>[2],
  ): void {
    reply.log.debug(
      {
        method: request.method,
        url: request.url,
        statusCode: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
        err: error ?? undefined,
      },
      'request completed',
    );
  }
}

/** Builds the api (not listening). Nothing here connects: the caller passes the store, broker and InfluxDB. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { config } = deps;
  const app = Fastify({
    loggerInstance: deps.log.child({ component: 'http' }) as FastifyBaseLogger,
    logController: new QuietLogController(),
    // A fixed number of hops (the proxies we run): never every X-Forwarded-For entry, which the client writes.
    trustProxy:
      config.TRUST_PROXY_HOPS > 0 ? (_address: string, hop: number) => hop < config.TRUST_PROXY_HOPS : false,
    // Bodies are small JSON (provisioning, commands); routes that take more say so.
    bodyLimit: 256 * 1024,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  const routes: RegisteredRoute[] = [];
  app.decorate('registeredRoutes', routes);
  app.addHook('onRoute', (r) => {
    const hidden = (r.schema as { hide?: boolean } | undefined)?.hide === true;
    for (const method of [r.method].flat()) routes.push({ method, url: r.url, hidden });
  });

  await app.register(contextPlugin, { config, store: deps.store, mqtt: deps.mqtt, influx: deps.influx });
  await registerSecurityHeaders(app, { mapOrigins: config.CSP_MAP_ORIGINS });
  const notFoundFallback = await registerDashboard(app, config.DASHBOARD_DIR, {
    license: config.OPEN_DATA_LICENSE,
  });
  await app.register(errorHandlerPlugin, notFoundFallback ? { notFoundFallback } : {});
  await app.register(metricsRegistryPlugin);
  await app.register(authPlugin);
  await app.register(clusterPlugin, { redis: deps.redis, keyPrefix: config.REDIS_KEY_PREFIX });
  await app.register(fastifyCors, {
    origin: config.CORS_ORIGINS,
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowedHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key', 'Last-Event-ID'],
    maxAge: 600,
  });
  await app.register(fastifyCompress, { global: true, threshold: 1024 });
  // Off by default; a public route opts in with `config: { rateLimit: {} }` (RATE_LIMIT_PER_MIN per
  // client address) or its own `{ max, timeWindow }`. With Redis the counters are shared, so a client
  // spreading its requests over the instances behind the proxy gets the same limit as on one; a Redis
  // outage lets requests through rather than failing them (the open data stays up).
  await app.register(fastifyRateLimit, {
    global: false,
    max: config.RATE_LIMIT_PER_MIN,
    timeWindow: 60_000,
    ...(deps.redis
      ? { redis: deps.redis, nameSpace: `${config.REDIS_KEY_PREFIX}rate-limit:`, skipOnError: true }
      : {}),
    errorResponseBuilder: (_request, ctx) =>
      ctx.ban
        ? new ApiError('forbidden', 'too many requests from this address')
        : new ApiError('rate_limited', `rate limit of ${ctx.max} requests exceeded; retry in ${ctx.after}`),
  });
  await registerDocs(app, { version, license: config.OPEN_DATA_LICENSE });

  for (const group of [...ROUTE_GROUPS, ...(deps.routes ?? [])]) {
    await app.register(group.plugin);
  }
  if (deps.read) {
    const { influx, rollups, cacheTtlMs } = deps.read;
    await app.register(devicesPublicRoutes, { influx, store: deps.store, cacheTtlMs });
    await app.register(seriesRoutes, { influx, store: deps.store, rollups, cacheTtlMs });
    await app.register(mapRoutes, { influx, rollups, cacheTtlMs });
    await app.register(exportRoutes, {
      influx,
      store: deps.store,
      license: config.OPEN_DATA_LICENSE,
      maxConcurrent: config.EXPORT_MAX_CONCURRENT,
      maxRows: config.EXPORT_MAX_ROWS,
    });
    await app.register(kitProfileRoutes, { influx, store: deps.store, cacheTtlMs });
    await app.register(noiseRoutes, {
      influx,
      store: deps.store,
      timeZone: config.CITY_TIMEZONE,
      periods: config.NOISE_PERIODS,
      minCoverage: config.NOISE_MIN_COVERAGE,
    });
  }
  if (deps.mqtt) {
    await app.register(streamRoutes, {
      maxClients: config.STREAM_MAX_CLIENTS,
      maxClientsPerAddress: config.STREAM_MAX_PER_ADDRESS,
      ...deps.stream,
      mqtt: deps.mqtt,
      store: deps.store,
    });
  }
  return app;
}
