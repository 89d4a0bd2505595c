import {
  correctedField,
  geohash,
  geohashCenter,
  MEASUREMENTS,
  type Metric,
  PM_CORRECTION_FIELD,
  POSITION_FIELDS,
  QUALITY_FIELD,
  QUALITY_FLAGS,
  READING_TAGS,
  summand,
} from '@citytel/contract';
import type { InfluxQuery } from './client.ts';
import { ident, select } from './influxql.ts';
import { publicPosition } from './public-position.ts';

/** Flags of a faulty sensor (stuck, jumping), whose readings `flagged=exclude` leaves out. */
export const FAULTY_FLAGS = QUALITY_FLAGS.stuck | QUALITY_FLAGS.jump;

/** PM metrics with a humidity-corrected field (contract pm-correction.ts). */
export type CorrectedMetric = 'pm25' | 'pm10';
export const isCorrectedMetric = (m: Metric): m is CorrectedMetric => m === 'pm25' || m === 'pm10';

/** The method a `pmc` field names, or undefined for `none:…` (no corrected value) and anything else. */
export const methodOf = (pmc: unknown): string | undefined =>
  typeof pmc === 'string' && pmc !== '' && !pmc.startsWith('none:') ? pmc : undefined;

export interface PointChoice {
  /** Serve `{metric}_c` where a reading has it, the measured value otherwise. */
  corrected: boolean;
  /** Leave out readings flagged stuck or jump. */
  excludeFlagged: boolean;
}

/** What one reading adds to a cell, as the server-side aggregates would. */
export type PointSink = (
  cell: string,
  device: string,
  mobile: boolean,
  sum: number,
  value: number,
  correctedBy?: string,
) => void;

/**
 * Raw readings of [from, to) point by point, for what InfluxQL cannot aggregate: a value that is the
 * corrected one where it exists and the measured one otherwise (InfluxQL has no coalesce), and readings
 * without a faulty flag (a condition on `qf` is false where the field is absent, i.e. on every clean
 * reading). Kits that do not move count at their public position's cell (indoor kits at their 7-cell
 * centre); mobile readings at most at their `mobileCellLength`-cell, as in the server-side path.
 */
export async function aggregatePoints(
  influx: InfluxQuery,
  metric: Metric,
  where: string,
  cellLength: number,
  mobileCellLength: number,
  choice: PointChoice,
  sink: PointSink,
  signal?: AbortSignal,
): Promise<void> {
  const corrected = choice.corrected && isCorrectedMetric(metric);
  const fields = [metric, POSITION_FIELDS.lat, POSITION_FIELDS.lon, QUALITY_FIELD];
  if (corrected) fields.push(correctedField(metric), PM_CORRECTION_FIELD);
  const sql = select({
    fields: fields.map(ident),
    from: MEASUREMENTS.readings,
    where,
    groupBy: [READING_TAGS.device, READING_TAGS.loc],
  });
  // Cells of the positions seen, per series: a fixed kit reports one position again and again.
  for await (const chunk of influx.queryChunks(sql, { signal })) {
    for (const s of chunk) {
      const device = s.tags?.[READING_TAGS.device] ?? '';
      const loc = s.tags?.[READING_TAGS.loc];
      const mobile = loc === 'mobile';
      const cells = new Map<string, string>();
      for (const row of s.values as Array<[number, unknown, unknown, unknown, unknown, unknown, unknown]>) {
        const [, measured, lat, lon, qf, c, pmc] = row;
        if (typeof measured !== 'number' || typeof lat !== 'number' || typeof lon !== 'number') continue;
        if (choice.excludeFlagged && typeof qf === 'number' && (qf & FAULTY_FLAGS) !== 0) continue;
        const method = corrected && typeof c === 'number' ? methodOf(pmc) : undefined;
        const v = method !== undefined ? (c as number) : measured;
        const key = `${lat},${lon}`;
        let cell = cells.get(key);
        if (cell === undefined) {
          cell = mobile
            ? cellLength <= mobileCellLength
              ? geohash({ lat, lon }, cellLength)
              : geohash(geohashCenter(geohash({ lat, lon }, mobileCellLength)), cellLength)
            : geohash(publicPosition({ lat, lon }, loc), cellLength);
          cells.set(key, cell);
        }
        sink(cell, device, mobile, summand(metric, v), v, method);
      }
    }
  }
}
