import { setTimeout as sleep } from 'node:timers/promises';
import { topics } from '@citytel/contract';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, type IngestStack, startIngestStack } from './helpers/ingest.ts';

// Device times within the last 7 days: older ones are replaced by the broker time (CONTRACT §2).
const T = Math.floor(Date.now() / 60_000) * 60_000 - 3_600_000;
const DEVICES = 10;
const MAX_INFLIGHT = 1000;

let stack: IngestStack;
const kits: MqttClient[] = [];

beforeAll(async () => {
  stack = await startIngestStack({
    env: {
      INGEST_MAX_INFLIGHT_POINTS: String(MAX_INFLIGHT),
      INGEST_RETRY_MAX_MS: '2000',
      // Held back longer than 1.5 × keepalive, MQTT.js reconnects: the session and its redelivery are tested too.
      MQTT_KEEPALIVE_S: '5',
    },
  });
  for (let d = 0; d < DEVICES; d++)
    kits.push(await stack.device({ id: `kit-${d}`, kind: 'native', lat: 48.11, lon: -1.68 }));
});

afterAll(async () => {
  await stack?.stop();
});

describe('an InfluxDB outage', () => {
  it('loses nothing, keeps memory bounded, and drains the backlog once InfluxDB is back', {
    timeout: 180_000,
  }, async () => {
    let published = 0;
    let publishing = true;
    // 100 readings/s, each with its own device time: one point each, counted exactly at the end.
    const publisher = (async () => {
      for (let seq = 0; publishing; seq++) {
        const d = seq % DEVICES;
        await kits[d]!.publishAsync(
          topics.sensorReadings(`kit-${d}`),
          JSON.stringify({ ts: new Date(T + seq * 1000).toISOString(), pm25: seq % 500 }),
          { qos: 1 },
        );
        published++;
        await sleep(10);
      }
    })();
    const samples: Array<{ points: number; paused: number; up: number }> = [];
    const sampler = setInterval(() => {
      const s = stack.ingest!.stats();
      samples.push({ points: s.backlog_points, paused: s.mqtt_paused, up: s.influx_up });
    }, 250);

    await sleep(5000);
    const beforeOutage = published;
    await stack.influx.stop();
    await sleep(30_000);
    const duringOutage = published - beforeOutage;
    await stack.influx.restart();
    await sleep(5000);
    publishing = false;
    await publisher;
    clearInterval(sampler);

    await eventually(
      'every reading in InfluxDB',
      async () => (await stack.count('pm25', 'readings')) === published,
      60_000,
    );
    expect(await stack.count('pm25', 'readings')).toBe(published);
    await eventually('every message acknowledged', () => stack.ingest!.stats().backlog_messages === 0);

    // The outage outlasted what ingest may hold: it stopped reading the broker instead of buffering.
    expect(duringOutage).toBeGreaterThan(MAX_INFLIGHT * 1.5);
    expect(samples.some((s) => s.paused === 1)).toBe(true);
    expect(samples.some((s) => s.up === 0)).toBe(true);
    expect(Math.max(...samples.map((s) => s.points))).toBeLessThanOrEqual(MAX_INFLIGHT + 1);
    const s = stack.ingest!.stats();
    expect(s.points_written).toBeGreaterThanOrEqual(published);
    expect(s.influx_up).toBe(1);
  });
});
