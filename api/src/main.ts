import { ConfigError, mqttUrlOf } from '@citytel/contract';
import { createLogger, openStore, resolveServiceSecret } from '@citytel/store';
import { buildApp } from './app.ts';
import { type ApiConfig, loadApiConfig } from './config.ts';
import { createInfluxQuery } from './influx/client.ts';
import { createRollups } from './influx/rollup.ts';
import { createInfluxClient } from './influx.ts';
import { connectApiMqtt } from './mqtt.ts';
import { closeApiRedis, connectApiRedis } from './plugins/redis.ts';

/** `npm start -w api`: reads the environment, opens the store, connects to the broker, listens. */
async function main(): Promise<void> {
  let config: ApiConfig;
  try {
    config = loadApiConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`api: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger('api', config.LOG_LEVEL);

  const store = await openStore({ dataDir: config.DATA_DIR, databaseUrl: config.DATABASE_URL, log });
  if (config.BOOTSTRAP_ADMIN_TOKEN) {
    const admin = await store.operators.ensureBootstrapAdmin(config.BOOTSTRAP_ADMIN_TOKEN);
    if (admin) log.info({ operator: admin.id }, 'bootstrap admin operator ready');
  }
  const secret = resolveServiceSecret(config.DATA_DIR, 'svc:api');
  const mqtt = connectApiMqtt({ url: mqttUrlOf(config), password: secret, log });
  const influx = createInfluxClient(config);
  // Open data reads InfluxQL on /query (1.x, and 2.x/3.x through their v1 compatibility API with a token).
  const query = createInfluxQuery({
    url: config.INFLUX_URL,
    db: config.INFLUX_BUCKET ?? config.INFLUX_DB,
    token: config.INFLUX_TOKEN,
    username: config.INFLUX_USERNAME,
    password: config.INFLUX_PASSWORD,
  });
  const rollups = createRollups({ influx: query, log: log.child({ component: 'rollups' }) });
  // Cluster mode: shared rate limits and cross-instance command wake-ups. The live stream needs nothing
  // here: every instance subscribes to its broker, and clustered brokers pass every message to all.
  const redis = config.REDIS_URL ? connectApiRedis(config.REDIS_URL, log) : undefined;
  const app = await buildApp({ config, store, mqtt, influx, redis, log, read: { influx: query, rollups } });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'stopping');
    // Each part is closed even when another fails to, so the store is always flushed.
    for (const [name, close] of [
      ['http', () => app.close()],
      ['rollups', () => rollups.stop()],
      ['mqtt', () => mqtt.close()],
      ['redis', async () => redis && (await closeApiRedis(redis))],
      ['store', () => store.close()],
    ] as const) {
      try {
        await close();
      } catch (err) {
        log.error({ err, part: name }, 'close failed');
      }
    }
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));

  await app.listen({ port: config.API_PORT, host: config.API_HOST });
  rollups.start();
  // The database is made when missing and allowed; when it cannot be, this says so once and /readyz keeps
  // saying it, with what to run (contract's influx-setup.ts).
  influx.ready?.(5000).then(
    () => undefined,
    (err: Error) => log.error({ influx: influx.url }, err.message),
  );
  log.info(
    {
      port: config.API_PORT,
      host: config.API_HOST,
      mqtt: mqttUrlOf(config),
      influx: influx.url,
      dataDir: config.DATA_DIR,
      cluster: Boolean(redis),
    },
    'api listening; OpenAPI at /docs',
  );
}

main().catch((err) => {
  console.error('api: failed to start:', err);
  process.exit(1);
});
