import { createBroker } from '@citytel/broker';
import { deriveServiceSecret, openStore, resolveServiceSecret, resolveServiceSecrets } from '@citytel/store';
import pino from 'pino';
import { buildApp } from '../src/app.ts';
import { loadApiConfig } from '../src/config.ts';
import { connectApiMqtt } from '../src/mqtt.ts';

/**
 * The platform side of the unlock benchmark, in a process of its own as in production: the store under
 * DATA_DIR, the broker and the api on free ports, the api's MQTT connection as `svc:api`, and one operator.
 * Prints one JSON line `{apiUrl, mqttUrl, token}`, then serves until SIGTERM.
 */
const dataDir = process.env.DATA_DIR;
if (!dataDir) throw new Error('DATA_DIR is required');
const log = pino({ level: process.env.LOG_LEVEL ?? 'warn' });
const store = await openStore({ dataDir, log });
const serviceSecret = resolveServiceSecret(dataDir, 'svc:api');
const broker = createBroker({
  config: { MQTT_PORT: 0, MQTT_HOST: '127.0.0.1', STATS_INTERVAL_MS: 5000, BROKER_ID: 'bench' },
  store,
  serviceSecrets: resolveServiceSecrets('', { MQTT_SERVICE_SECRET: serviceSecret }),
  log,
});
const { port } = await broker.listen();
const mqttUrl = `mqtt://127.0.0.1:${port}`;
const config = loadApiConfig({
  ...process.env,
  DATA_DIR: dataDir,
  MQTT_PORT: String(port),
  LOG_LEVEL: 'warn',
  RATE_LIMIT_PER_MIN: '100000000',
});
const mqtt = connectApiMqtt({ url: mqttUrl, password: deriveServiceSecret(serviceSecret, 'svc:api'), log });
await mqtt.waitConnected(10_000);
const app = await buildApp({ config, store, mqtt, log });
await app.listen({ port: 0, host: '127.0.0.1' });
const address = app.server.address();
const apiUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
const { token } = await store.operators.create({ id: 'bench-coop', name: 'Bench carsharing cooperative' });
process.stdout.write(`${JSON.stringify({ apiUrl, mqttUrl, token })}\n`);

const stop = async () => {
  await app.close();
  await mqtt.close();
  await broker.close();
  await store.close();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
