import { setTimeout as sleep } from 'node:timers/promises';
import { topics } from '@citytel/contract';
import { deriveServiceSecret } from '@citytel/store';
import mqtt, { type MqttClient } from 'mqtt';
import pino from 'pino';
import { freePort } from '../../test/helpers/ports.ts';
import { createMqttSource } from '../src/source/mqtt.ts';
import { spawnBroker } from './processes.ts';

/** A write as the subscriber sees it: the batch fills for INGEST_FLUSH_MS, then the HTTP round trip. */
const WRITE_MS = 50;

export interface PubackResult {
  name: string;
  readings: number;
  seconds: number;
  readingsPerS: number;
  messagesPerS: number;
  lost: number;
  note: string;
}

/**
 * What holding each PUBACK until "written" costs, through the real broker, with every write taking
 * WRITE_MS: (1) the obvious way, MQTT.js's handleMessage callback called after the write: its packet queue
 * waits for each callback, so messages are taken one at a time; (2) ingest's MQTT source, which lets the
 * queue go on and sends each PUBACK (in order) once its message is written.
 */
export async function measurePuback(serviceSecret: string, storeDir: string): Promise<PubackResult[]> {
  const port = await freePort();
  const broker = await spawnBroker({ port, storeDir, serviceSecret, name: 'puback-broker' });
  try {
    const url = `mqtt://127.0.0.1:${port}`;
    const publisher = await mqtt.connectAsync(url, {
      username: 'svc:sim',
      password: deriveServiceSecret(serviceSecret, 'svc:sim'),
      clientId: 'svc:sim/bench-puback-pub',
      reconnectPeriod: 0,
    });
    const results: PubackResult[] = [];

    // (1) handleMessage holding its callback for the write.
    {
      let acked = 0;
      const sub = await mqtt.connectAsync(url, {
        username: 'svc:api',
        password: deriveServiceSecret(serviceSecret, 'svc:api'),
        clientId: 'svc:api/bench-puback-hold',
        reconnectPeriod: 0,
        clean: true,
      });
      sub.handleMessage = (_packet, callback) => {
        setTimeout(() => {
          acked++;
          callback();
        }, WRITE_MS);
      };
      await sub.subscribeAsync('sensors/+/readings', { qos: 1 });
      results.push(await run('PUBACK held in handleMessage (serialized)', publisher, 100, () => acked));
      await sub.endAsync(true);
    }

    // (2) ingest's source: delivery goes on, each PUBACK leaves once its message is written.
    {
      const source = createMqttSource({
        url,
        clientId: 'svc:api/bench-puback',
        username: 'svc:api',
        password: deriveServiceSecret(serviceSecret, 'svc:api'),
        subscriptions: ['sensors/+/readings'],
        keepaliveS: 60,
        log: pino({ level: 'silent' }),
      });
      await source.start({
        onMessage: (m) => setTimeout(() => m.ack(), WRITE_MS),
        backpressure: () => undefined,
      });
      results.push(
        await run('PUBACK held by ingest (out of band)', publisher, 5000, () => source.stats().acked),
      );
      await source.close();
    }
    await publisher.endAsync(true);
    return results;
  } finally {
    await broker.stop();
  }
}

async function run(
  name: string,
  publisher: MqttClient,
  n: number,
  acked: () => number,
): Promise<PubackResult> {
  const start = acked();
  const t0 = performance.now();
  for (let i = 0; i < n; i++)
    publisher.publish(topics.sensorReadings('bench-probe'), `{"pm25":${i}}`, { qos: 1 });
  while (acked() - start < n && performance.now() - t0 < 120_000) await sleep(5);
  const seconds = (performance.now() - t0) / 1000;
  const done = acked() - start;
  return {
    name,
    readings: n,
    seconds: Math.round(seconds * 10) / 10,
    readingsPerS: Math.round(done / seconds),
    messagesPerS: Math.round(done / seconds),
    lost: n - done,
    note: `each write takes ${WRITE_MS} ms`,
  };
}
