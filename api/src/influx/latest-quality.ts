import {
  correctedField,
  flagNames,
  MEASUREMENTS,
  type Metric,
  PM_CORRECTION_FIELD,
  QUALITY_ERROR_FIELD,
  QUALITY_FIELD,
  type QualityFlag,
  READING_TAGS,
} from '@citytel/contract';
import type { InfluxQuery, InfluxSeries } from './client.ts';
import { as, ident, select, time } from './influxql.ts';
import { type CorrectedMetric, isCorrectedMetric, methodOf } from './map-points.ts';

/** The quality of a device's latest reading of each metric, as the public devices list shows it. */
export interface LatestQuality {
  /** Flag names of the latest reading of each metric ([] when clean), an error code's reading included. */
  flags: Partial<Record<Metric, QualityFlag[]>>;
  /** The corrected value of the latest PM reading, when it has one, and its method (`id@version`). */
  corrected: Partial<Record<CorrectedMetric, { value: number; method: string }>>;
}

/**
 * Flags and corrected values of each device's latest reading of each of `metrics` since `since`.
 * `last(*)` takes each field from its own last point, and `qf` is written only when a flag is set, so the
 * flags of the reading that gave a latest value are read by a selector per metric (`last("m"), "qf"`:
 * InfluxQL returns the other fields of the selected point). A sensor error value is in `qerr`, not in its
 * metric field: when the last error names a metric and is newer than its last value, that metric's latest
 * reading is the error, and its flags are the error reading's.
 */
export async function latestQuality(
  influx: InfluxQuery,
  since: number,
  metrics: readonly Metric[],
): Promise<Map<string, LatestQuality>> {
  const where = `time >= ${time(since)}`;
  const groupBy = [READING_TAGS.device];
  const [errors, ...perMetric] = await Promise.all([
    influx.query(
      select({
        fields: [as(`last(${ident(QUALITY_ERROR_FIELD)})`, 'e'), ident(QUALITY_FIELD)],
        from: MEASUREMENTS.readings,
        where,
        groupBy,
      }),
    ),
    ...metrics.map((m) =>
      influx.query(
        select({
          fields: [
            as(`last(${ident(m)})`, 'v'),
            ident(QUALITY_FIELD),
            ...(isCorrectedMetric(m) ? [ident(correctedField(m)), ident(PM_CORRECTION_FIELD)] : []),
          ],
          from: MEASUREMENTS.readings,
          where,
          groupBy,
        }),
      ),
    ),
  ]);
  const out = new Map<string, LatestQuality>();
  const of = (device: string) => {
    let q = out.get(device);
    if (!q) {
      q = { flags: {}, corrected: {} };
      out.set(device, q);
    }
    return q;
  };
  const lastError = new Map<string, { t: number; text: string; qf: unknown }>();
  for (const s of errors) {
    const [t, text, qf] = firstRow(s);
    const device = s.tags?.[READING_TAGS.device];
    if (device && typeof t === 'number' && typeof text === 'string') lastError.set(device, { t, text, qf });
  }
  metrics.forEach((m, i) => {
    for (const s of perMetric[i]!) {
      const device = s.tags?.[READING_TAGS.device];
      const [t, v, qf, c, pmc] = firstRow(s);
      if (!device || typeof t !== 'number' || typeof v !== 'number') continue;
      const q = of(device);
      q.flags[m] = flagNames(typeof qf === 'number' ? qf : 0);
      const method = typeof c === 'number' ? methodOf(pmc) : undefined;
      if (method !== undefined && isCorrectedMetric(m)) q.corrected[m] = { value: c as number, method };
    }
  });
  // An error code newer than the metric's last value: its latest reading is the error.
  for (const [device, e] of lastError) {
    for (const part of e.text.split(';')) {
      const m = part.slice(0, part.indexOf('=')) as Metric;
      if (!metrics.includes(m)) continue;
      const q = of(device);
      const valueAt = lastValueTime(perMetric[metrics.indexOf(m)]!, device);
      if (valueAt !== undefined && valueAt > e.t) continue;
      q.flags[m] = flagNames(typeof e.qf === 'number' ? e.qf : 0);
    }
  }
  return out;
}

const firstRow = (s: InfluxSeries): unknown[] => s.values[0] ?? [];

function lastValueTime(series: InfluxSeries[], device: string): number | undefined {
  const s = series.find((x) => x.tags?.[READING_TAGS.device] === device);
  const t = s?.values[0]?.[0];
  return typeof t === 'number' && typeof s?.values[0]?.[1] === 'number' ? t : undefined;
}
