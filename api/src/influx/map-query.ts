import {
  geohash,
  type Metric,
  POSITION_FIELDS,
  READING_TAGS,
  STORED_GEOHASH_LENGTH,
} from '@citytel/contract';
import ngeohash from 'ngeohash';
import { type InfluxQuery, rowsOf } from './client.ts';
import { and, as, ident, select, str, tagEquals, timeRange } from './influxql.ts';
import type { Bbox } from './params.ts';
import { planSegments, type Segment, type TierCoverage } from './plan.ts';
import { publicPosition } from './public-position.ts';
import { HOUR, POINT_COUNT_FIELD, rollupField } from './rollup.ts';

/**
 * Map aggregates per geohash cell, computed from rollups and raw readings (plan.ts).
 *
 * Cells up to the stored length (6) come from the `gh` tag of every point, mobile readings included:
 * each reading counts in the cell it was taken in. Finer cells need positions, which are fields:
 * - fixed and indoor kits are grouped by device and stored cell, and placed at the mean of their
 *   position fields (constant for a fixed kit; an indoor kit at its blurred public position);
 * - mobile readings are placed one by one from their lat/lon fields when they come from raw points, and
 *   by the mean position of each device-hour within its stored cell when they come from the hourly rollup
 *   (the day tier is not used for them) — so a car's older readings land within ~one 6-cell of truth.
 *
 * The cells of the whole data set are computed (and cached by the route) and a bbox then keeps the cells
 * overlapping it: a cell's value never depends on the viewport, and every viewport shares one computation.
 */

export interface CellAggregate {
  cell: string;
  sum: number;
  count: number;
  max: number;
  devices: Set<string>;
}

export interface MapQuery {
  metric: Metric;
  from: number;
  to: number;
  cell: number;
}

/** Most prefixes put in one regex (the export's bbox prefilter): past this it is coarsened. */
const MAX_PREFILTER_CELLS = 200;

export async function aggregateCells(
  influx: InfluxQuery,
  q: MapQuery,
  tiers: readonly TierCoverage[],
  signal?: AbortSignal,
): Promise<CellAggregate[]> {
  const cells = new Map<string, CellAggregate>();
  const add = (cell: string, device: string, sum: number, count: number, max: number) => {
    if (!(count > 0)) return;
    let c = cells.get(cell);
    if (!c) {
      c = { cell, sum: 0, count: 0, max: Number.NEGATIVE_INFINITY, devices: new Set() };
      cells.set(cell, c);
    }
    c.sum += sum;
    c.count += count;
    if (max > c.max) c.max = max;
    c.devices.add(device);
  };
  const where = (seg: Segment, extra?: string) => and(timeRange(seg.from, seg.to), extra);
  const opts = { signal };
  const work: Array<Promise<void>> = [];

  if (q.cell <= STORED_GEOHASH_LENGTH) {
    for (const seg of planSegments(q.from, q.to, tiers)) {
      const sql = select({
        fields: statFields(q.metric, seg),
        from: seg.measurement,
        where: where(seg),
        groupBy: [READING_TAGS.device, READING_TAGS.geohash],
      });
      work.push(
        influx.query(sql, opts).then((series) => {
          for (const s of series) {
            const row = rowsOf(s)[0];
            const gh = s.tags?.[READING_TAGS.geohash];
            if (!row || !gh) continue;
            add(gh.slice(0, q.cell), s.tags![READING_TAGS.device]!, num(row.s), num(row.c), num(row.x));
          }
        }),
      );
    }
  } else {
    const notMobile = `${ident(READING_TAGS.loc)} != ${str('mobile')}`;
    for (const seg of planSegments(q.from, q.to, tiers)) {
      const sql = select({
        fields: [...statFields(q.metric, seg), ...positionFields(seg)],
        from: seg.measurement,
        where: where(seg, notMobile),
        groupBy: [READING_TAGS.device, READING_TAGS.loc, READING_TAGS.geohash],
      });
      work.push(
        influx.query(sql, opts).then((series) => {
          for (const s of series) {
            const row = rowsOf(s)[0];
            if (!row) continue;
            const n = num(row.n);
            const p = publicPosition(
              { lat: num(row.la) / n, lon: num(row.lo) / n },
              s.tags?.[READING_TAGS.loc],
            );
            add(geohash(p, q.cell), s.tags![READING_TAGS.device]!, num(row.s), num(row.c), num(row.x));
          }
        }),
      );
    }
    const hourTiers = tiers.filter((t) => t.step === HOUR);
    for (const seg of planSegments(q.from, q.to, hourTiers)) {
      const mobile = tagEquals(READING_TAGS.loc, 'mobile');
      if (seg.rollup) {
        const sql = select({
          fields: [...statFields(q.metric, seg), ...positionFields(seg)],
          from: seg.measurement,
          where: where(seg, mobile),
          groupBy: [{ time: HOUR }, READING_TAGS.device, READING_TAGS.geohash],
          fill: 'none',
        });
        work.push(
          influx.query(sql, opts).then((series) => {
            for (const s of series) {
              for (const row of rowsOf(s)) {
                const n = num(row.n);
                const p = { lat: num(row.la) / n, lon: num(row.lo) / n };
                add(geohash(p, q.cell), s.tags![READING_TAGS.device]!, num(row.s), num(row.c), num(row.x));
              }
            }
          }),
        );
      } else {
        const sql = select({
          fields: [ident(q.metric), ident(POSITION_FIELDS.lat), ident(POSITION_FIELDS.lon)],
          from: seg.measurement,
          where: where(seg, mobile),
          groupBy: [READING_TAGS.device],
        });
        work.push(
          (async () => {
            for await (const chunk of influx.queryChunks(sql, opts)) {
              for (const s of chunk) {
                const device = s.tags![READING_TAGS.device]!;
                for (const [, v, lat, lon] of s.values as Array<[number, unknown, unknown, unknown]>) {
                  if (typeof v !== 'number' || typeof lat !== 'number' || typeof lon !== 'number') continue;
                  add(geohash({ lat, lon }, q.cell), device, v, 1, v);
                }
              }
            }
          })(),
        );
      }
    }
  }
  await Promise.all(work);
  return [...cells.values()].sort((a, b) => (a.cell < b.cell ? -1 : a.cell > b.cell ? 1 : 0));
}

/** Sum, count and max of the metric, aliased s, c, x, from raw readings or a rollup. */
function statFields(metric: Metric, seg: Segment): string[] {
  if (!seg.rollup) {
    return [
      as(`sum(${ident(metric)})`, 's'),
      as(`count(${ident(metric)})`, 'c'),
      as(`max(${ident(metric)})`, 'x'),
    ];
  }
  return [
    as(`sum(${ident(rollupField(metric, 'sum'))})`, 's'),
    as(`sum(${ident(rollupField(metric, 'count'))})`, 'c'),
    as(`max(${ident(rollupField(metric, 'max'))})`, 'x'),
  ];
}

/** Sums of positions and the number of points, aliased la, lo, n. */
function positionFields(seg: Segment): string[] {
  if (!seg.rollup) {
    return [
      as(`sum(${ident(POSITION_FIELDS.lat)})`, 'la'),
      as(`sum(${ident(POSITION_FIELDS.lon)})`, 'lo'),
      as(`count(${ident(POSITION_FIELDS.lat)})`, 'n'),
    ];
  }
  return [
    as(`sum(${ident(rollupField('lat', 'sum'))})`, 'la'),
    as(`sum(${ident(rollupField('lon', 'sum'))})`, 'lo'),
    as(`sum(${ident(POINT_COUNT_FIELD)})`, 'n'),
  ];
}

const num = (v: unknown): number => (typeof v === 'number' ? v : Number.NaN);

/** Whether a cell ([minLat, minLon, maxLat, maxLon]) and the box share some area; touching is not enough. */
export function overlaps(cell: [number, number, number, number], b: Bbox): boolean {
  const [s, w, n, e] = cell;
  return w < b.maxLon && e > b.minLon && s < b.maxLat && n > b.minLat;
}

/**
 * Geohash prefixes of at most `length` covering the box, coarsened until there are at most
 * MAX_PREFILTER_CELLS, or undefined when even one character is too many (a box over a continent).
 */
export function prefilterCells(b: Bbox, length: number): string[] | undefined {
  for (let p = length; p >= 1; p--) {
    const lonBits = Math.ceil((5 * p) / 2);
    const latBits = Math.floor((5 * p) / 2);
    const across = Math.floor((b.maxLon - b.minLon) / (360 / 2 ** lonBits)) + 2;
    const down = Math.floor((b.maxLat - b.minLat) / (180 / 2 ** latBits)) + 2;
    if (across * down > MAX_PREFILTER_CELLS) continue;
    const cells = ngeohash.bboxes(b.minLat, b.minLon, b.maxLat, b.maxLon, p);
    return cells.length > 0 && cells.length <= MAX_PREFILTER_CELLS ? cells : undefined;
  }
  return undefined;
}
