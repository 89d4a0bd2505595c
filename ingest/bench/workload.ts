import { geohash, type MetricValues, type Position, topics } from '@citytel/contract';
import { nanos, readingLine } from '../src/points.ts';

/** The benchmark's kits: fixed, registered around Rennes, one series each. */
export interface BenchDevice {
  id: string;
  position: Position;
}

export function benchDevices(n: number): BenchDevice[] {
  const rnd = prng(7);
  return Array.from({ length: n }, (_, i) => ({
    id: `bench-${String(i).padStart(4, '0')}`,
    position: { lat: round(48.05 + rnd() * 0.12, 5), lon: round(-1.76 + rnd() * 0.18, 5) },
  }));
}

export interface Message {
  topic: string;
  payload: string;
  readings: number;
}

export interface Workload {
  name: string;
  /** Messages of each connection, in publishing order. */
  perConnection: Message[][];
  readings: number;
  /** Device times of this workload are in [from, to): counting there counts this workload only. */
  from: number;
  to: number;
  /** The same points as line protocol, as ingest writes them (for the raw InfluxDB ceiling). */
  lines(): string[];
}

/**
 * `readingsPerDevice` readings for every device, one second apart (plus the device's index in ms, so no two
 * readings share a point), sent `perMessage` to a message, round robin over the devices of a connection.
 */
export function workload(opts: {
  name: string;
  devices: BenchDevice[];
  connections: number;
  readingsPerDevice: number;
  perMessage: number;
  from: number;
}): Workload {
  const { devices, connections, readingsPerDevice, perMessage, from } = opts;
  const at = (d: number, i: number) => from + i * 1000 + d;
  const values = (d: number, i: number): MetricValues => {
    const x = (d * 7919 + i * 104729) % 1000;
    return {
      pm25: round(2 + x / 20, 1),
      pm10: round(5 + x / 12, 1),
      noise_laeq: round(35 + (x % 500) / 10, 1),
      temperature: round(8 + (x % 150) / 10, 1),
      humidity: round(40 + (x % 550) / 10, 1),
    };
  };
  const perConnection: Message[][] = Array.from({ length: connections }, () => []);
  for (let i = 0; i < readingsPerDevice; i += perMessage) {
    devices.forEach((dev, d) => {
      const n = Math.min(perMessage, readingsPerDevice - i);
      const readings = Array.from({ length: n }, (_, k) => ({
        ts: new Date(at(d, i + k)).toISOString(),
        ...values(d, i + k),
      }));
      const payload =
        n === 1 && perMessage === 1 ? JSON.stringify(readings[0]) : JSON.stringify({ readings });
      perConnection[d % connections]!.push({ topic: topics.sensorReadings(dev.id), payload, readings: n });
    });
  }
  return {
    name: opts.name,
    perConnection,
    readings: devices.length * readingsPerDevice,
    from,
    to: at(devices.length, readingsPerDevice),
    lines() {
      const out: string[] = [];
      devices.forEach((dev, d) => {
        const tags = {
          device: dev.id,
          kind: 'native' as const,
          loc: 'fixed' as const,
          geohash: geohash(dev.position),
        };
        for (let i = 0; i < readingsPerDevice; i++) {
          out.push(readingLine(tags, values(d, i), dev.position, 'device', nanos(new Date(at(d, i)))));
        }
      });
      return out;
    },
  };
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/** mulberry32: the same devices and values on every run. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
