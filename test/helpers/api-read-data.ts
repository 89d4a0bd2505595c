import ngeohash from 'ngeohash';
import type { TestReading } from './api-read.ts';

/**
 * The known data set of the read-side tests, and the aggregates computed from it independently of the
 * api (plain loops over the readings, ngeohash for cells), which the api's answers must equal.
 */

export const MIN = 60_000;
export const HOUR = 3_600_000;
export const DAY = 86_400_000;

/** Three days of generated readings: [T0, END). */
export const T0 = Date.UTC(2026, 10, 20);
export const END = T0 + 3 * DAY;
/** Hand-placed readings around the edges of the hour before E0, after the generated days. */
export const E0 = Date.UTC(2026, 10, 25, 12);

export const POS = {
  kitA: { lat: 48.1113, lon: -1.68 },
  kitB: { lat: 48.1131, lon: -1.6652 },
  home: { lat: 48.1195, lon: -1.6655 },
};
/** Where the mobile kit parks, one spot per hour (several 6-cells apart). */
const SPOTS = [
  { lat: 48.1052, lon: -1.6921 },
  { lat: 48.1172, lon: -1.6405 },
  { lat: 48.0951, lon: -1.6602 },
  { lat: 48.1113, lon: -1.68 },
];

export const DEVICES = [
  { id: 'kit-a', kind: 'native' as const, lat: POS.kitA.lat, lon: POS.kitA.lon },
  { id: 'kit-b', kind: 'sck' as const, lat: POS.kitB.lat, lon: POS.kitB.lon },
  { id: 'kit-home', kind: 'native' as const, lat: POS.home.lat, lon: POS.home.lon, indoor: true },
  { id: 'mob-1', kind: 'native' as const, mobile: true },
  { id: 'car-1', kind: 'vehicle' as const },
];

/** Deterministic pseudo-random numbers (mulberry32), so every run writes the same data. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const one = (v: number) => Math.round(v * 10) / 10;

export function generatedReadings(): TestReading[] {
  const rnd = prng(42);
  const out: TestReading[] = [];
  for (let t = T0; t < END; t += 10 * MIN) {
    out.push({
      device: 'kit-a',
      kind: 'native',
      loc: 'fixed',
      t,
      ...POS.kitA,
      values: { pm25: one(rnd() * 60), noise_laeq: one(35 + rnd() * 50) },
    });
    const hour = new Date(t).getUTCHours();
    // kit-b is silent from 05:00 to 07:00 every day: its buckets there are empty.
    if (hour !== 5 && hour !== 6)
      out.push({
        device: 'kit-b',
        kind: 'sck',
        loc: 'fixed',
        t: t + 7000,
        ...POS.kitB,
        values: { pm25: one(rnd() * 30) },
      });
  }
  for (let t = T0; t < END; t += 15 * MIN) {
    out.push({
      device: 'kit-home',
      kind: 'native',
      loc: 'indoor',
      t: t + 1234,
      ...POS.home,
      values: { pm25: one(rnd() * 12) },
    });
  }
  for (let t = T0; t < END; t += 3 * MIN) {
    const hour = new Date(t).getUTCHours();
    if (hour < 7 || hour > 18) continue;
    const spot = SPOTS[Math.floor(t / HOUR) % SPOTS.length]!;
    out.push({
      device: 'mob-1',
      kind: 'native',
      loc: 'mobile',
      t: t + 500,
      ...spot,
      values: { pm25: one(5 + rnd() * 90) },
    });
  }
  return out;
}

/** Readings at and just past the edges of [E0 − 1h, E0), and a car crossing several 7-cells. */
export function edgeReadings(): TestReading[] {
  const kitA = (t: number, pm25: number): TestReading => ({
    device: 'kit-a',
    kind: 'native',
    loc: 'fixed',
    t,
    ...POS.kitA,
    values: { pm25 },
  });
  const out = [kitA(E0 - HOUR - 1, 500), kitA(E0 - HOUR, 10), kitA(E0 - 1, 20), kitA(E0, 900)];
  for (let i = 0; i < 12; i++) {
    out.push({
      device: 'car-1',
      kind: 'vehicle',
      loc: 'mobile',
      t: E0 - HOUR + i * 5 * MIN,
      lat: 48.1 + i * 0.0011,
      lon: -1.7 + i * 0.0023,
      values: { pm25: 10 + i * 3.5 },
    });
  }
  return out;
}

/**
 * The position the api serves: the centre of the 7-cell for indoor kits, and for mobile readings (the map
 * places them no finer; the export so places mobile kits without a public track).
 */
export function publicPos(r: TestReading): { lat: number; lon: number } {
  if (r.loc !== 'indoor' && r.loc !== 'mobile') return { lat: r.lat, lon: r.lon };
  const c = ngeohash.decode(ngeohash.encode(r.lat, r.lon, 7));
  return { lat: c.latitude, lon: c.longitude };
}

export interface ExpectedCell {
  cell: string;
  mean: number;
  max: number;
  count: number;
  devices: number;
}

export const round3 = (v: number) => Math.round(v * 1000) / 1000;
/**
 * The api rounds a sum to 6 decimals (the precision readings are stored with) before dividing, so that a
 * mean does not depend on the order of summation; the expected means do the same.
 */
export const meanOf = (sum: number, count: number) => round3(Math.round(sum * 1e6) / 1e6 / count);
/** The energy mean of levels in dB (ISO 1996-1), written out here rather than taken from the contract. */
export const energyMeanOf = (levels: number[]) =>
  round3(10 * Math.log10(levels.reduce((s, l) => s + 10 ** (l / 10), 0) / levels.length));

export function expectedCells(
  readings: TestReading[],
  metric: 'pm25' | 'noise_laeq',
  from: number,
  to: number,
  length: number,
): ExpectedCell[] {
  const acc = new Map<
    string,
    { sum: number; count: number; max: number; devices: Set<string>; levels: number[] }
  >();
  for (const r of readings) {
    const v = r.values[metric];
    if (v === undefined || r.t < from || r.t >= to) continue;
    const p = publicPos(r);
    const cell = ngeohash.encode(p.lat, p.lon, length);
    const a = acc.get(cell) ?? { sum: 0, count: 0, max: -Infinity, devices: new Set<string>(), levels: [] };
    a.sum += v;
    a.levels.push(v);
    a.count++;
    a.max = Math.max(a.max, v);
    a.devices.add(r.device);
    acc.set(cell, a);
  }
  return [...acc]
    .map(([cell, a]) => ({
      cell,
      mean: metric === 'noise_laeq' ? energyMeanOf(a.levels) : meanOf(a.sum, a.count),
      max: a.max,
      count: a.count,
      devices: a.devices.size,
    }))
    .sort((x, y) => (x.cell < y.cell ? -1 : 1));
}

export type Fn = 'mean' | 'min' | 'max' | 'count' | 'median' | 'p95';

/** One bucket's aggregate as the api defines it; p95 is the value at rank ⌊0.95·n + 0.5⌋. */
export function aggregate(values: number[], fn: Fn, db = false): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  switch (fn) {
    case 'mean':
      if (db) return energyMeanOf(values);
      return meanOf(
        values.reduce((s, v) => s + v, 0),
        n,
      );
    case 'min':
      return sorted[0]!;
    case 'max':
      return sorted[n - 1]!;
    case 'count':
      return n;
    case 'median':
      return round3(n % 2 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2);
    case 'p95':
      return sorted[Math.floor(n * 0.95 + 0.5) - 1]!;
  }
}

export function expectedSeries(
  readings: TestReading[],
  device: string,
  metric: 'pm25' | 'noise_laeq',
  fn: Fn,
  from: number,
  to: number,
  every: number,
): Array<{ t: string; v: number | null }> {
  const out: Array<{ t: string; v: number | null }> = [];
  for (let t = Math.floor(from / every) * every; t < to; t += every) {
    const values = readings
      .filter((r) => r.device === device && r.t >= Math.max(t, from) && r.t < Math.min(t + every, to))
      .map((r) => r.values[metric])
      .filter((v): v is number => v !== undefined);
    out.push({
      t: new Date(t).toISOString().replace('.000Z', 'Z'),
      v: aggregate(values, fn, metric === 'noise_laeq'),
    });
  }
  return out;
}
