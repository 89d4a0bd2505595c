import {
  energyToLevel,
  isDbMetric,
  levelToEnergy,
  MEASUREMENTS,
  type Metric,
  PM_CORRECTION_FIELD,
  QUALITY_FIELD,
  READING_TAGS,
} from '@citytel/contract';
import type { InfluxQuery } from './client.ts';
import { round3 } from './http.ts';
import { and, as, ident, select, tagEquals, timeRange } from './influxql.ts';
import { FAULTY_FLAGS, methodOf } from './map-points.ts';
import type { Fn } from './params.ts';

/** What a device's series reads point by point: its readings without the faulty ones, its corrections' methods. */
/**
 * Buckets of one device's readings without the faulty ones. InfluxQL cannot keep the points a field is
 * absent from (`"qf" & 6 = 0` is false where no flag was written, i.e. on every clean reading), so the
 * points are read with their flags and aggregated here, with the same definitions as InfluxDB's: median
 * the mean of the middle two, p95 the nearest rank, a level in dB on the energy scale.
 */
export async function unflaggedBuckets(
  influx: InfluxQuery,
  metric: Metric,
  field: string,
  fn: Fn,
  where: string,
  every: number,
): Promise<Map<number, number>> {
  const byBucket = new Map<number, number[]>();
  for await (const chunk of influx.queryChunks(
    select({ fields: [ident(field), ident(QUALITY_FIELD)], from: MEASUREMENTS.readings, where }),
  )) {
    for (const s of chunk) {
      for (const [t, v, qf] of s.values as Array<[number, unknown, unknown]>) {
        if (typeof v !== 'number' || (typeof qf === 'number' && (qf & FAULTY_FLAGS) !== 0)) continue;
        const b = Math.floor(t / every) * every;
        const list = byBucket.get(b);
        if (list) list.push(v);
        else byBucket.set(b, [v]);
      }
    }
  }
  const out = new Map<number, number>();
  for (const [t, values] of byBucket) out.set(t, round3(aggregateValues(metric, fn, values)));
  return out;
}

function aggregateValues(metric: Metric, fn: Fn, values: number[]): number {
  const n = values.length;
  if (fn === 'count') return n;
  if (fn === 'mean') {
    if (isDbMetric(metric)) return energyToLevel(values.reduce((a, v) => a + levelToEnergy(v), 0) / n);
    return Math.round(values.reduce((a, v) => a + v, 0) * 1e6) / 1e6 / n;
  }
  const sorted = values.sort((a, b) => a - b);
  if (fn === 'min') return sorted[0]!;
  if (fn === 'max') return sorted[n - 1]!;
  if (fn === 'median') return n % 2 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
  return sorted[Math.max(0, Math.floor(n * 0.95 + 0.5) - 1)]!;
}

/**
 * The correction methods (`id@version`) of a device's corrected values of `field` in [from, to): the
 * distinct `pmc` of the readings that have one (a `none:…` names why a reading has none).
 */
export async function correctionMethods(
  influx: InfluxQuery,
  device: string,
  field: string,
  from: number,
  to: number,
): Promise<string[]> {
  const series = await influx.query(
    select({
      fields: [as(`distinct(${ident(PM_CORRECTION_FIELD)})`, 'm')],
      from: MEASUREMENTS.readings,
      where: and(tagEquals(READING_TAGS.device, device), timeRange(from, to), `${ident(field)} >= 0`),
    }),
  );
  const out = new Set<string>();
  for (const s of series) for (const [, m] of s.values) if (methodOf(m)) out.add(m as string);
  return [...out].sort();
}
