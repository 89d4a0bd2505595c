import { ConfigError, INGEST_FAMILIES } from '@citytel/contract';
import {
  createLogger,
  createMetricsServer,
  openStore,
  quietDisabledDebug,
  resolveServiceSecret,
} from '@citytel/store';
import { loadIngestConfig } from './config.ts';

/** `npm start -w ingest`: reads the environment, builds the worker, stops it cleanly on SIGINT / SIGTERM. */
async function main() {
  let config: ReturnType<typeof loadIngestConfig>;
  try {
    config = loadIngestConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
  // Before MQTT.js and mqtt-packet load: their disabled debug loggers then cost nothing (store's quiet-debug.ts).
  quietDisabledDebug();
  const { createIngest } = await import('./worker.ts');
  const log = createLogger('ingest', config.LOG_LEVEL);
  const store = await openStore({ dataDir: config.DATA_DIR, databaseUrl: config.DATABASE_URL, log });
  const serviceSecret = resolveServiceSecret(config.DATA_DIR, 'svc:ingest');
  const ingest = createIngest({ config, store, log, serviceSecret });
  const metrics =
    config.METRICS_PORT === undefined
      ? undefined
      : createMetricsServer({
          port: config.METRICS_PORT,
          families: INGEST_FAMILIES,
          read: () => ({ ...ingest.stats() }),
          log,
        });

  let stopping: Promise<void> | undefined;
  const shutdown = (signal: string) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    log.info({ signal }, 'stopping');
    stopping = ingest
      .stop()
      .then(() => metrics?.close())
      .then(() => store.close())
      .then(
        () => process.exit(0),
        (err) => {
          log.error({ err }, 'unclean stop');
          process.exit(1);
        },
      );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));

  try {
    await ingest.start();
    await metrics?.listen();
  } catch (err) {
    log.fatal({ err }, 'ingest could not start');
    await store.close();
    process.exit(1);
  }
}

await main();
