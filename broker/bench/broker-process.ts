import { createServer } from 'node:net';
import { createBroker } from '@citytel/broker';
import { createLogger, openStore, resolveServiceSecrets } from '@citytel/store';
import { Aedes } from 'aedes';
import { loadBrokerConfig } from '../src/config.ts';

/**
 * One broker for the connection benchmark, in a process of its own, with a side channel for the bench only:
 * over IPC it answers `measure` with its memory after two full collections (so it runs with --expose-gc).
 *   citytel  the broker as `npm start -w broker` builds it, configured by the same environment
 *   aedes    bare Aedes 1.2, in-memory, no hooks: the floor the library itself sets
 */
export interface Measured {
  type: 'memory';
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  clients: number;
}
export type FromBroker = { type: 'ready'; port: number } | Measured;
export type ToBroker = { type: 'measure' } | { type: 'stop' };

async function run(mode: string): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc || !process.send) throw new Error('run with --expose-gc, as a child process with IPC');
  const send = (m: FromBroker) => process.send!(m);

  let clients: () => number;
  let close: () => Promise<void>;
  let port: number;
  if (mode === 'citytel') {
    const config = loadBrokerConfig();
    const log = createLogger('broker', config.LOG_LEVEL);
    const store = await openStore({ dataDir: config.DATA_DIR, databaseUrl: config.DATABASE_URL, log });
    const serviceSecrets = resolveServiceSecrets(config.DATA_DIR);
    const broker = createBroker({ config, store, serviceSecrets, log });
    port = (await broker.listen()).port;
    clients = () => broker.stats().clients;
    close = async () => {
      await broker.close();
      await store.close();
    };
  } else if (mode === 'aedes') {
    const aedes = await Aedes.createBroker();
    const server = createServer(aedes.handle);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
    clients = () => aedes.connectedClients;
    close = async () => {
      server.close();
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
    };
  } else {
    throw new Error(`unknown mode ${mode}`);
  }

  process.on('message', async (m: ToBroker) => {
    if (m.type === 'measure') {
      gc();
      await new Promise((resolve) => setImmediate(resolve));
      gc();
      const u = process.memoryUsage();
      send({
        type: 'memory',
        rss: u.rss,
        heapUsed: u.heapUsed,
        external: u.external,
        arrayBuffers: u.arrayBuffers,
        clients: clients(),
      });
    } else if (m.type === 'stop') {
      await close();
      process.exit(0);
    }
  });
  send({ type: 'ready', port });
}

run(process.argv[2] ?? 'citytel').catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
