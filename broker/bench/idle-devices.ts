import { readFileSync } from 'node:fs';
import mqtt, { type MqttClient } from 'mqtt';
import type { Credentials } from './provision.ts';

/**
 * The connection benchmark's devices, in a process apart from the broker's: one MQTT 3.1.1 connection per
 * provisioned device (username = id, password = secret, keepalive 60 s, clean session), opened
 * `concurrency` at a time, then left idle (mqtt.js sends the PINGREQs). Reports over IPC; `close` ends them.
 * argv: broker URL, credentials JSON file, concurrency.
 */
export type FromDevices =
  | { type: 'progress'; connected: number }
  | { type: 'connected'; connected: number; failed: number; firstError?: string; seconds: number }
  | { type: 'status'; open: number; droppedByBroker: number };
export type ToDevices = { type: 'status' } | { type: 'close' };

async function run(url: string, file: string, concurrency: number): Promise<void> {
  const send = (m: FromDevices) => process.send!(m);
  const devices = JSON.parse(readFileSync(file, 'utf8')) as Credentials[];
  const clients: MqttClient[] = [];
  let failed = 0;
  let firstError: string | undefined;
  let dropped = 0;
  let closing = false;

  const connectOne = (d: Credentials) =>
    new Promise<void>((resolve) => {
      let settled = false;
      const client = mqtt.connect(url, {
        username: d.id,
        password: d.secret,
        clientId: d.id,
        keepalive: 60,
        clean: true,
        reconnectPeriod: 0,
        connectTimeout: 120_000,
      });
      client.once('connect', () => {
        if (settled) return;
        settled = true;
        clients.push(client);
        client.on('close', () => {
          if (!closing) dropped++;
        });
        if (clients.length % 1000 === 0) send({ type: 'progress', connected: clients.length });
        resolve();
      });
      const fail = (err?: Error) => {
        if (settled) return;
        settled = true; // counted once, whether "error" or "close" comes first
        failed++;
        firstError ??= err?.message ?? 'closed before CONNACK';
        client.end(true);
        resolve();
      };
      client.once('error', fail);
      client.once('close', () => fail());
    });

  const started = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < devices.length) await connectOne(devices[next++]!);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  send({
    type: 'connected',
    connected: clients.length,
    failed,
    ...(firstError ? { firstError } : {}),
    seconds: (performance.now() - started) / 1000,
  });

  process.on('message', (m: ToDevices) => {
    if (m.type === 'status') {
      send({ type: 'status', open: clients.filter((c) => c.connected).length, droppedByBroker: dropped });
    } else if (m.type === 'close') {
      closing = true;
      for (const c of clients) c.end(true);
      setTimeout(() => process.exit(0), 200);
    }
  });
}

const [url, file, concurrency] = process.argv.slice(2);
run(url!, file!, Number(concurrency ?? 100)).catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
