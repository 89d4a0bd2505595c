import {
  correctedField,
  energyToLevel,
  isDbMetric,
  MEASUREMENTS,
  type Metric,
  PM_CORRECTION_FIELD,
  POSITION_FIELDS,
  QUALITY_ERROR_FIELD,
  QUALITY_FIELD,
  READING_TAGS,
  TIME_SOURCE_FIELD,
} from '@citytel/contract';
import { z } from 'zod';
import type { InfluxQuery, InfluxSeries } from '../influx/client.ts';
import { round3 } from '../influx/http.ts';
import {
  and,
  as,
  call,
  energyField,
  energyOf,
  ident,
  oneOf,
  select,
  str,
  tagEquals,
  timeRange,
} from '../influx/influxql.ts';
import { prefilterCells } from '../influx/map-query.ts';
import {
  bboxParam,
  deviceIdParam,
  durationParam,
  type Fn,
  fnParam,
  inBbox,
  kindParam,
  metricParam,
  timeParam,
} from '../influx/params.ts';
import { blurPosition, publicPosition, round6 } from '../influx/public-position.ts';
import { ceilTo, floorTo, UNIT_MS } from '../influx/time.ts';
import { ARCHIVE_SENSORS } from './archive-layout.ts';

import type { ExportRoutesOptions } from './export.ts';

/**
 * What an export reads: its query parameters, and its rows from InfluxDB, raw or bucketed, placed where the
 * public may see them (cars never; mobile kits at their cell unless their owner opted in).
 */
export const querySchema = z.object({
  metric: metricParam.optional().describe('one metric; all metrics when absent'),
  from: timeParam('start, ISO 8601 or relative (default -24h)').optional(),
  to: timeParam('end, excluded (default now)').optional(),
  bbox: bboxParam.optional(),
  device: deviceIdParam.optional(),
  kind: kindParam.optional(),
  format: z
    .enum(['csv', 'geojson', 'archive'])
    .default('csv')
    .describe(
      'csv, geojson, or archive: the daily CSV layout of the sensor.community archive (needs device and sensor)',
    ),
  sensor: z
    .enum(ARCHIVE_SENSORS)
    .optional()
    .describe(
      'with format=archive: the sensor whose archive file layout to write (SDS011, BME280, DHT22...)',
    ),
  every: durationParam(
    UNIT_MS.m,
    UNIT_MS.d,
    'bucket width for bucketed data (raw readings when absent)',
  ).optional(),
  fn: fnParam.default('mean').describe('aggregate of each bucket, with every'),
});
export type ExportQuery = z.infer<typeof querySchema>;

/** A batch of rows after another, as InfluxDB's chunks arrive. */
export type Rows = AsyncGenerator<Row[], void>;

export interface Row {
  t: number;
  device: string;
  kind: string;
  loc: string;
  lat: number;
  lon: number;
  values: Array<number | null>;
  tsrc?: string;
  /** Quality flags (contract quality.ts) and the sensor error values kept out of the metric columns. */
  qf?: number;
  qerr?: string;
  /** PM corrected for humidity, and the method or why none (contract pm-correction.ts). */
  pm25c?: number;
  pm10c?: number;
  pmc?: string;
}

/** Rows, one batch per InfluxDB chunk, slice after slice in time order. */
export async function* exportRows(
  opts: ExportRoutesOptions,
  q: ExportQuery,
  metrics: readonly Metric[],
  from: number,
  to: number,
  publicTracks: ReadonlySet<string>,
  signal: AbortSignal,
): Rows {
  const where = (a: number, b: number) => exportWhere(q, a, b);
  // Slices of whole buckets, so that no bucket is split between two queries.
  const slice = q.every
    ? Math.max(q.every, floorTo(opts.sliceMs ?? 6 * UNIT_MS.h, q.every))
    : (opts.sliceMs ?? 6 * UNIT_MS.h);
  for (let a = from; a < to && !signal.aborted; ) {
    const b = Math.min(to, q.every ? ceilTo(a + 1, slice) : a + slice);
    const sql = q.every
      ? bucketedQuery(metrics, q.fn, q.every, where(a, b), timeRange(a, b))
      : rawQuery(metrics, where(a, b));
    for await (const chunk of opts.influx.queryChunks(sql, {
      signal,
      chunkSize: opts.chunkSize ?? 5000,
      timeoutMs: 300_000,
    })) {
      const rows = chunk.flatMap((s) =>
        q.every ? bucketRows(s, metrics, q.fn, publicTracks) : rawRows(s, metrics, publicTracks),
      );
      yield rows.filter((r) => !q.bbox || inBbox(q.bbox, r.lat, r.lon));
    }
    a = b;
  }
}

/**
 * The readings an export may read: never a car's (its air readings with its id would be its track), and
 * the filters asked for.
 */
function exportWhere(q: ExportQuery, a: number, b: number): string {
  const prefilter = q.bbox ? prefilterCells(q.bbox, 6) : undefined;
  return and(
    timeRange(a, b),
    `${ident(READING_TAGS.kind)} != ${str('vehicle')}`,
    q.device && tagEquals(READING_TAGS.device, q.device),
    q.kind && tagEquals(READING_TAGS.kind, q.kind),
    prefilter && `${ident(READING_TAGS.geohash)} =~ ${oneOf(prefilter, true)}`,
  );
}

/** How many readings the export would read: one count over the range, before a byte is sent. */
export async function countReadings(
  influx: InfluxQuery,
  q: ExportQuery,
  from: number,
  to: number,
): Promise<number> {
  const series = await influx.query(
    select({
      fields: [call('count', TIME_SOURCE_FIELD)],
      from: MEASUREMENTS.readings,
      where: exportWhere(q, from, to),
    }),
  );
  let n = 0;
  for (const s of series) for (const v of s.values) if (typeof v[1] === 'number') n += v[1];
  return n;
}

function rawQuery(metrics: readonly Metric[], where: string): string {
  const fields = [
    ...metrics,
    POSITION_FIELDS.lat,
    POSITION_FIELDS.lon,
    TIME_SOURCE_FIELD,
    QUALITY_FIELD,
    QUALITY_ERROR_FIELD,
    correctedField('pm25'),
    correctedField('pm10'),
    PM_CORRECTION_FIELD,
    READING_TAGS.device,
    READING_TAGS.kind,
    READING_TAGS.loc,
  ];
  return select({ fields: fields.map(ident), from: MEASUREMENTS.readings, where });
}

/**
 * One row per bucket and device. A mean of a level in dB is its energy mean (ISO 1996-1): the mean of
 * each point's 10^(L/10), from a subquery (influxql.ts `energySubquery`), turned back into dB in
 * `bucketRows`; every other metric and aggregate is read as is.
 */
function bucketedQuery(
  metrics: readonly Metric[],
  fn: Fn,
  every: number,
  where: string,
  time: string,
): string {
  const energy = fn === 'mean' && metrics.some(isDbMetric);
  const fields = [
    ...metrics.map((m) => as(call(fn, energy && isDbMetric(m) ? energyField(m) : m), m)),
    as(call('mean', POSITION_FIELDS.lat), 'lat'),
    as(call('mean', POSITION_FIELDS.lon), 'lon'),
  ];
  const inner = energy
    ? {
        sub: select({
          fields: [
            ...metrics.filter(isDbMetric).map((m) => energyOf(m, energyField(m))),
            ...[...metrics.filter((m) => !isDbMetric(m)), POSITION_FIELDS.lat, POSITION_FIELDS.lon].map(
              ident,
            ),
          ],
          from: MEASUREMENTS.readings,
          where,
        }),
      }
    : undefined;
  return select({
    fields,
    from: inner ?? MEASUREMENTS.readings,
    where: inner ? time : where,
    groupBy: [{ time: every }, READING_TAGS.device, READING_TAGS.kind, READING_TAGS.loc],
    fill: 'none',
  });
}

/** Column positions by name: a field never written is absent from InfluxDB's columns, not null. */
function columns(s: InfluxSeries, metrics: readonly Metric[]) {
  const at = (name: string) => s.columns.indexOf(name);
  return {
    metrics: metrics.map(at),
    lat: at('lat'),
    lon: at('lon'),
    tsrc: at(TIME_SOURCE_FIELD),
    qf: at(QUALITY_FIELD),
    qerr: at(QUALITY_ERROR_FIELD),
    pm25c: at(correctedField('pm25')),
    pm10c: at(correctedField('pm10')),
    pmc: at(PM_CORRECTION_FIELD),
    tags: s.tags ?? {},
    at,
  };
}

const numberAt = (v: unknown[], i: number): number | null =>
  i >= 0 && typeof v[i] === 'number' ? (v[i] as number) : null;
const textAt = (v: unknown[], i: number): string | undefined =>
  i >= 0 && typeof v[i] === 'string' ? (v[i] as string) : undefined;

function rawRows(s: InfluxSeries, metrics: readonly Metric[], publicTracks: ReadonlySet<string>): Row[] {
  const c = columns(s, metrics);
  const [device, kind, loc] = [READING_TAGS.device, READING_TAGS.kind, READING_TAGS.loc].map(c.at);
  const out: Row[] = [];
  for (const v of s.values) {
    const values = c.metrics.map((i) => numberAt(v, i));
    const qerr = textAt(v, c.qerr);
    // A reading whose only values were error codes is still a row: the sensor said something.
    if (values.every((x) => x === null) && qerr === undefined) continue;
    const row = placed(
      {
        t: v[0] as number,
        device: textAt(v, device!) ?? '',
        kind: textAt(v, kind!) ?? '',
        loc: textAt(v, loc!) ?? '',
        lat: numberAt(v, c.lat) ?? Number.NaN,
        lon: numberAt(v, c.lon) ?? Number.NaN,
        values,
      },
      publicTracks,
    );
    if (!row) continue;
    const tsrc = textAt(v, c.tsrc);
    if (tsrc) row.tsrc = tsrc;
    const qf = numberAt(v, c.qf);
    if (qf) row.qf = qf;
    if (qerr) row.qerr = qerr;
    const pm25c = numberAt(v, c.pm25c);
    if (pm25c !== null) row.pm25c = pm25c;
    const pm10c = numberAt(v, c.pm10c);
    if (pm10c !== null) row.pm10c = pm10c;
    const pmc = textAt(v, c.pmc);
    if (pmc) row.pmc = pmc;
    out.push(row);
  }
  return out;
}

function bucketRows(
  s: InfluxSeries,
  metrics: readonly Metric[],
  fn: Fn,
  publicTracks: ReadonlySet<string>,
): Row[] {
  const c = columns(s, metrics);
  const out: Row[] = [];
  for (const v of s.values) {
    // count() answers 0, not null, for a metric absent from the bucket.
    const values = c.metrics.map((i, k) => {
      const x = numberAt(v, i);
      if (x === null || (fn === 'count' && x === 0)) return null;
      return round3(fn === 'mean' && isDbMetric(metrics[k]!) ? energyToLevel(x) : x);
    });
    if (values.every((x) => x === null)) continue;
    const row = placed(
      {
        t: v[0] as number,
        device: c.tags[READING_TAGS.device] ?? '',
        kind: c.tags[READING_TAGS.kind] ?? '',
        loc: c.tags[READING_TAGS.loc] ?? '',
        lat: numberAt(v, c.lat) ?? Number.NaN,
        lon: numberAt(v, c.lon) ?? Number.NaN,
        values,
      },
      publicTracks,
    );
    if (row) out.push(row);
  }
  return out;
}

/**
 * The row at its public position, rounded: indoor kits, and mobile kits without a public track, at their
 * cell's centre. Undefined without a position, and for a car's row (the query already leaves them out).
 */
function placed(r: Row, publicTracks: ReadonlySet<string>): Row | undefined {
  if (!Number.isFinite(r.lat) || !Number.isFinite(r.lon) || r.kind === 'vehicle') return undefined;
  const exact = { lat: r.lat, lon: r.lon };
  const p =
    r.loc === 'mobile' && !publicTracks.has(r.device) ? blurPosition(exact) : publicPosition(exact, r.loc);
  return { ...r, lat: round6(p.lat), lon: round6(p.lon) };
}
