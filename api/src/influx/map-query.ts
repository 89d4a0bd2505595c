import {
  geohash,
  geohashCenter,
  isDbMetric,
  MEASUREMENTS,
  type Metric,
  POSITION_FIELDS,
  READING_TAGS,
  STORED_GEOHASH_LENGTH,
  summand,
} from '@citytel/contract';
import ngeohash from 'ngeohash';
import { type InfluxQuery, rowsOf } from './client.ts';
import {
  and,
  as,
  energyField,
  energySubquery,
  ident,
  select,
  str,
  tagEquals,
  timeRange,
} from './influxql.ts';
import { aggregatePoints, isCorrectedMetric } from './map-points.ts';
import type { Bbox } from './params.ts';
import { planSegments, type TierCoverage } from './plan.ts';
import { publicPosition } from './public-position.ts';
import {
  correctedMapField,
  correctionMethodsField,
  MOBILE_CELL_LENGTH,
  parseMapEntries,
} from './rollup-build.ts';

/**
 * Map aggregates per geohash cell, computed from rollups and raw readings (plan.ts, rollup.ts).
 *
 * Kits that do not move are grouped by device: from raw readings by device and stored cell (the `gh` tag
 * for cells up to its length 6, the mean of their position fields beyond), from the map rollup by device
 * and position (geohash of length 9 of their public position). Indoor kits count at their public position.
 * Mobile readings count in the cell each was taken in: one by one from raw readings (their lat/lon), by
 * 7-cell from the map rollup; for cells of 8 and 9 a rollup's readings sit at their 7-cell's centre.
 * `devices` is exact for kits that do not move; mobile devices are counted exactly in raw readings and, in
 * rollups, as the most seen in one cell and bucket (a lower bound: distinct cars over a month per cell
 * would need every car-cell pair kept).
 *
 * The cells of the whole data set are computed (and cached by the route) and a bbox then keeps the cells
 * overlapping it: a cell's value never depends on the viewport, and every viewport shares one computation.
 */

export interface CellAggregate {
  cell: string;
  /** Sum of the values, or of their energies 10^(L/10) for a level in dB (contract levels.ts). */
  sum: number;
  count: number;
  max: number;
  /** Distinct devices: kits that do not move, plus mobile ones. */
  devices: number;
  /** Readings served by their humidity-corrected value (`MapQuery.corrected`). */
  corrected: number;
}

export interface MapQuery {
  metric: Metric;
  from: number;
  to: number;
  cell: number;
  /**
   * PM: each reading counts by its corrected value where it has one, its measured value otherwise: raw
   * readings point by point (map-points.ts), rollups from their `_cx` entries.
   */
  corrected?: boolean;
  /** Leave out readings flagged stuck or jump: raw readings only, point by point. */
  excludeFlagged?: boolean;
  /** Filled with the correction methods of the readings served corrected. */
  methods?: Set<string>;
}

/** Most prefixes put in one regex (the export's bbox prefilter): past this it is coarsened. */
const MAX_PREFILTER_CELLS = 200;

interface Acc {
  sum: number;
  count: number;
  max: number;
  fixed: Set<string>;
  mobile: Set<string>;
  mobileAtLeast: number;
  corrected: number;
}

export async function aggregateCells(
  influx: InfluxQuery,
  q: MapQuery,
  tiers: readonly TierCoverage[],
  signal?: AbortSignal,
): Promise<CellAggregate[]> {
  const cells = new Map<string, Acc>();
  const acc = (cell: string): Acc => {
    let a = cells.get(cell);
    if (!a) {
      a = {
        sum: 0,
        count: 0,
        max: Number.NEGATIVE_INFINITY,
        fixed: new Set(),
        mobile: new Set(),
        mobileAtLeast: 0,
        corrected: 0,
      };
      cells.set(cell, a);
    }
    return a;
  };
  const add = (cell: string, sum: number, count: number, max: number): Acc | undefined => {
    if (!(count > 0)) return undefined;
    const a = acc(cell);
    a.sum += sum;
    a.count += count;
    if (max > a.max) a.max = max;
    return a;
  };
  const opts = { signal };
  const m = q.metric;
  const notMobile = `${ident(READING_TAGS.loc)} != ${str('mobile')}`;
  const mobile = tagEquals(READING_TAGS.loc, 'mobile');
  const work: Array<Promise<void>> = [];

  const corrected = q.corrected === true && isCorrectedMetric(m);
  const pointwise = corrected || q.excludeFlagged === true;
  // The rollups keep every reading: a map without the flagged ones reads raw readings only.
  for (const seg of planSegments(q.from, q.to, q.excludeFlagged ? [] : tiers)) {
    const time = timeRange(seg.from, seg.to);
    const t = seg.tier;
    if (!t && pointwise) {
      const choice = { corrected: q.corrected === true, excludeFlagged: q.excludeFlagged === true };
      work.push(
        aggregatePoints(
          influx,
          m,
          time,
          q.cell,
          MOBILE_CELL_LENGTH,
          choice,
          (cell, device, isMobile, sum, v, method) => {
            const a = add(cell, sum, 1, v)!;
            (isMobile ? a.mobile : a.fixed).add(device);
            if (method !== undefined) {
              a.corrected++;
              q.methods?.add(method);
            }
          },
          signal,
        ),
      );
      continue;
    }
    if (!t) {
      const fine = q.cell > STORED_GEOHASH_LENGTH;
      // A level in dB is summed as energy, from a subquery giving each point's (influxql.ts).
      const db = isDbMetric(m);
      const fixedFields = [
        as(`sum(${ident(db ? energyField(m) : m)})`, 's'),
        as(`count(${ident(m)})`, 'c'),
        as(`max(${ident(m)})`, 'x'),
      ];
      if (fine) {
        fixedFields.push(
          as(`sum(${ident(POSITION_FIELDS.lat)})`, 'la'),
          as(`sum(${ident(POSITION_FIELDS.lon)})`, 'lo'),
          as(`count(${ident(POSITION_FIELDS.lat)})`, 'n'),
        );
      }
      const sql = select({
        fields: fixedFields,
        from: db
          ? energySubquery(
              m,
              MEASUREMENTS.readings,
              and(time, notMobile),
              fine ? [POSITION_FIELDS.lat, POSITION_FIELDS.lon] : [],
            )
          : MEASUREMENTS.readings,
        where: db ? time : and(time, notMobile),
        groupBy: [READING_TAGS.device, READING_TAGS.loc, READING_TAGS.geohash],
      });
      work.push(
        influx.query(sql, opts).then((series) => {
          for (const s of series) {
            const row = rowsOf(s)[0];
            const tags = s.tags ?? {};
            if (!row || !tags[READING_TAGS.geohash]) continue;
            const n = num(row.n);
            const cell = fine
              ? geohash(
                  publicPosition({ lat: num(row.la) / n, lon: num(row.lo) / n }, tags[READING_TAGS.loc]),
                  q.cell,
                )
              : tags[READING_TAGS.geohash]!.slice(0, q.cell);
            add(cell, num(row.s), num(row.c), num(row.x))?.fixed.add(tags[READING_TAGS.device]!);
          }
        }),
      );
      const points = select({
        fields: [ident(m), ident(POSITION_FIELDS.lat), ident(POSITION_FIELDS.lon)],
        from: MEASUREMENTS.readings,
        where: and(time, mobile),
        groupBy: [READING_TAGS.device],
      });
      work.push(
        (async () => {
          for await (const chunk of influx.queryChunks(points, opts)) {
            for (const s of chunk) {
              const device = s.tags![READING_TAGS.device]!;
              for (const [, v, lat, lon] of s.values as Array<[number, unknown, unknown, unknown]>) {
                if (typeof v !== 'number' || typeof lat !== 'number' || typeof lon !== 'number') continue;
                // At most its 7-cell, as from the rollups: a finer cell over a short window would
                // draw a car's or a citizen's path reading by reading.
                const cell =
                  q.cell <= MOBILE_CELL_LENGTH
                    ? geohash({ lat, lon }, q.cell)
                    : geohash(geohashCenter(geohash({ lat, lon }, MOBILE_CELL_LENGTH)), q.cell);
                add(cell, summand(m, v), 1, v)?.mobile.add(device);
              }
            }
          }
        })(),
      );
      continue;
    }
    // One packed row per 6-cell and bucket: kits by device and position, mobile readings by 7-cell; PM by
    // corrected value where a reading has one from its own field, with the methods beside it.
    const sql = select({
      fields: corrected ? [ident(correctedMapField(m)), ident(correctionMethodsField(m))] : [ident(m)],
      from: t.map,
      rp: t.rp,
      where: time,
      groupBy: [READING_TAGS.geohash],
    });
    work.push(
      (async () => {
        for await (const chunk of influx.queryChunks(sql, opts)) {
          for (const s of chunk) {
            for (const [, text, methods] of s.values as Array<[number, unknown, unknown]>) {
              if (typeof text !== 'string') continue;
              if (typeof methods === 'string' && methods)
                for (const x of methods.split(',')) q.methods?.add(x);
              for (const e of parseMapEntries(text)) {
                let a: Acc | undefined;
                if (e.kind === 'd') {
                  a = add(e.pos.slice(0, q.cell), e.sum, e.count, e.max);
                  a?.fixed.add(e.device);
                } else {
                  const cell =
                    q.cell <= MOBILE_CELL_LENGTH
                      ? e.cell.slice(0, q.cell)
                      : geohash(geohashCenter(e.cell), q.cell);
                  a = add(cell, e.sum, e.count, e.max);
                  if (a) a.mobileAtLeast = Math.max(a.mobileAtLeast, e.devices);
                }
                if (a) a.corrected += e.corrected;
              }
            }
          }
        }
      })(),
    );
  }
  await Promise.all(work);
  return [...cells]
    .map(([cell, a]) => ({
      cell,
      sum: a.sum,
      count: a.count,
      max: a.max,
      devices: a.fixed.size + Math.max(a.mobile.size, a.mobileAtLeast),
      corrected: a.corrected,
    }))
    .sort((a, b) => (a.cell < b.cell ? -1 : a.cell > b.cell ? 1 : 0));
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
