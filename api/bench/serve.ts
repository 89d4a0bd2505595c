import { openStore } from '@citytel/store';
import pino from 'pino';
import { buildApp } from '../src/app.ts';
import { loadApiConfig } from '../src/config.ts';
import { createInfluxQuery } from '../src/influx/client.ts';
import { createRollups } from '../src/influx/rollup.ts';
import { kitId } from './generate.ts';

/**
 * The api as the benchmark measures it, in a process of its own (as in production): the real app from
 * buildApp, reading the benchmark's InfluxDB through the rollups it builds first. Prints one JSON line
 * with its port and how long the rollup backfill took, then serves until killed.
 */
const config = loadApiConfig({ ...process.env, LOG_LEVEL: 'warn', RATE_LIMIT_PER_MIN: '100000000' });
const log = pino({ level: 'warn' });
const store = await openStore({ dataDir: config.DATA_DIR, log });
const registered = new Set((await store.devices.list()).map((d) => d.id));
// The series route answers only registered devices: the ones the benchmark asks for.
for (let i = 0; i < Number(process.env.BENCH_SERIES_DEVICES ?? 20); i++) {
  if (!registered.has(kitId(i)))
    await store.devices.create({ id: kitId(i), kind: 'native', lat: 48.1, lon: -1.7 });
}
const influx = createInfluxQuery({ url: config.INFLUX_URL, db: config.INFLUX_DB });
const rollups = createRollups({ influx, log });
const t0 = performance.now();
await rollups.runOnce();
const rollupMs = Math.round(performance.now() - t0);
rollups.start();

const app = await buildApp({ config, store, log, read: { influx, rollups } });
await app.listen({ port: 0, host: '127.0.0.1' });
const address = app.server.address();
process.stdout.write(
  `${JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0, rollupMs })}\n`,
);

const stop = async () => {
  await rollups.stop();
  await app.close();
  await store.close();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
