import { BROKER_FAMILIES, ConfigError } from '@citytel/contract';
import {
  createLogger,
  createMetricsServer,
  openStore,
  quietDisabledDebug,
  resolveServiceSecret,
} from '@citytel/store';
import { loadBrokerConfig } from './config.ts';

/** `npm start -w broker`: the MQTT broker alone, configured by the environment (CONTRACT §5). */
async function main(): Promise<void> {
  const config = loadBrokerConfig();
  // Before Aedes and mqtt-packet load: their disabled debug loggers then cost nothing (store's quiet-debug.ts).
  quietDisabledDebug();
  const { createBroker } = await import('./broker.ts');
  const log = createLogger('broker', config.LOG_LEVEL);
  const store = await openStore({ dataDir: config.DATA_DIR, databaseUrl: config.DATABASE_URL, log });
  const serviceSecret = resolveServiceSecret(config.DATA_DIR, config.MQTT_SERVICE_SECRET);
  const broker = createBroker({ config, store, serviceSecret, log });
  const metrics =
    config.METRICS_PORT === undefined
      ? undefined
      : createMetricsServer({
          port: config.METRICS_PORT,
          families: BROKER_FAMILIES,
          read: () => ({ ...broker.stats() }),
          log,
        });

  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    try {
      await metrics?.close();
      await broker.close();
      await store.close();
    } catch (err) {
      log.error({ err }, 'unclean shutdown');
      process.exitCode = 1;
    }
    process.exit();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);

  try {
    await broker.listen();
    await metrics?.listen();
  } catch (err) {
    log.fatal({ err }, 'could not listen');
    await store.close();
    process.exit(1);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
