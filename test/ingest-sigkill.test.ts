import { setTimeout as sleep } from 'node:timers/promises';
import { topics } from '@citytel/contract';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  eventually,
  type IngestProcess,
  type IngestStack,
  ingestEnv,
  spawnIngest,
  startIngestStack,
} from './helpers/ingest.ts';

// Device times within the last 7 days: older ones are replaced by the broker time (CONTRACT §2).
const T = Math.floor(Date.now() / 60_000) * 60_000 - 3_600_000;
const DEVICES = 10;

let stack: IngestStack;
let ingest: IngestProcess | undefined;
const kits: MqttClient[] = [];

beforeAll(async () => {
  stack = await startIngestStack({ inProcess: false });
  for (let d = 0; d < DEVICES; d++)
    kits.push(await stack.device({ id: `kit-${d}`, kind: 'native', lat: 48.11, lon: -1.68 }));
});

afterAll(async () => {
  ingest?.kill('SIGKILL');
  await ingest?.exited;
  await stack?.stop();
});

describe('ingest killed with SIGKILL mid-stream', () => {
  it('resumes its session after a restart: every reading lands in InfluxDB exactly once', {
    timeout: 120_000,
  }, async () => {
    const env = ingestEnv(stack.tb, stack.influx, { INGEST_ID: 'sigkill', INGEST_FLUSH_MS: '200' });
    ingest = await spawnIngest(env);
    let published = 0;
    let publishing = true;
    // Batches of 10 readings, 50 messages/s: the kill lands with points buffered, on the wire and acked.
    const publisher = (async () => {
      for (let seq = 0; publishing; seq++) {
        const d = seq % DEVICES;
        const readings = Array.from({ length: 10 }, (_, i) => ({
          ts: new Date(T + (seq * 10 + i) * 1000).toISOString(),
          pm25: (seq + i) % 500,
        }));
        await kits[d]!.publishAsync(topics.sensorReadings(`kit-${d}`), JSON.stringify({ readings }), {
          qos: 1,
        });
        published += readings.length;
        await sleep(20);
      }
    })();

    await eventually('ingest writing', async () => (await stack.count('pm25', 'readings')) > 200, 20_000);
    ingest.kill('SIGKILL');
    await ingest.exited;
    const atKill = await stack.count('pm25', 'readings');
    await sleep(2000);
    ingest = await spawnIngest(env);
    await sleep(3000);
    publishing = false;
    await publisher;

    await eventually(
      'every reading in InfluxDB',
      async () => (await stack.count('pm25', 'readings')) === published,
      60_000,
    );
    expect(atKill).toBeLessThan(published);
    expect(await stack.count('pm25', 'readings')).toBe(published);

    // A clean stop afterwards: SIGTERM drains, acknowledges and says so.
    const { output } = ingest;
    ingest.kill('SIGTERM');
    await eventually('a clean stop', () => output.find((l) => l.includes('"ingest stopped"')));
    expect(JSON.parse(output.find((l) => l.includes('"ingest stopped"'))!)).toMatchObject({
      drained: true,
      unwritten: 0,
    });
    ingest = undefined;
  });
});
