import { bandFor, geohashBounds, geohashPolygon, legendFor, METRICS, type Metric } from '@citytel/contract';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import pLimit from 'p-limit';
import { z } from 'zod';
import { apiError, errorResponses } from '../errors.ts';
import { etagOf, type PreparedAnswer, prepareAnswer, sendJsonText, sendPrepared } from '../influx/answer.ts';
import type { InfluxQuery } from '../influx/client.ts';
import { influxFailure, metricMean3, round3 } from '../influx/http.ts';
import { isCorrectedMetric } from '../influx/map-points.ts';
import { aggregateCells, type CellAggregate } from '../influx/map-query.ts';
import { bboxParam, durationParam, metricParam, rawParam, timeKey, timeParam } from '../influx/params.ts';
import type { TierCoverage } from '../influx/plan.ts';
import { round6 } from '../influx/public-position.ts';
import { createResultCache } from '../influx/result-cache.ts';
import { formatDuration, iso, parseTime, UNIT_MS } from '../influx/time.ts';
import {
  correctionOf,
  type MapAnswer,
  type MapChoice,
  mapIndex,
  mapSchema,
  UNFLAGGED_MAX_WINDOW_MS,
} from './map-answer.ts';

export { mapCellSchema, mapIndex, mapSchema } from './map-answer.ts';

export interface MapRoutesOptions {
  influx: InfluxQuery;
  /** The rollup job's coverage; without it every map reads raw readings (slow past a few hours). */
  rollups?: { coverage(): TierCoverage[] } | undefined;
  /** How long the answer of a 1-hour window is fresh (default 10 s, longer windows longer; 0 disables caching). */
  cacheTtlMs?: number;
  /** Most cells in one answer (default 20 000): past it, a coarser cell or a smaller bbox is asked for. */
  maxCells?: number;
  /** Maps computed at once (default 2); the others wait their turn. */
  computeConcurrency?: number;
  /** Maps waiting to be computed past which a request for a new one is answered 503 (default 100). */
  maxQueued?: number;
}

/**
 * One computed map, shared by every request for it: the whole answer prepared (JSON, gzip, ETag) once,
 * where each feature starts in its JSON, and the cells' bounds, so that a bbox answer is the JSON's
 * slices of the cells it keeps (a whole-city map at cell 7 is 1.3 MB: kept once, not twice).
 */
interface MapView {
  /** [south, west, north, east] of each cell, four numbers per feature, in cell order. */
  bounds: Float64Array;
  /** Byte offset of each feature in `whole.json`, and of the `]}` that closes the last. */
  starts: Uint32Array;
  whole: PreparedAnswer;
}

/** Longest an answer is kept fresh: a 30-day mean barely moves in five minutes. */
const MAX_TTL_MS = 5 * 60_000;

/** GET /api/v1/map. */
export const mapRoutes: FastifyPluginAsyncZod<MapRoutesOptions> = async (app, opts) => {
  const baseTtl = opts.cacheTtlMs ?? 10_000;
  const maxCells = opts.maxCells ?? 20_000;
  const maxQueued = opts.maxQueued ?? 100;
  // A map from scratch costs InfluxDB and this process up to a second or more of CPU: fifty of them at
  // once all timed out (503) in an earlier run of the benchmark; two at a time, they all finish.
  const computing = pLimit(opts.computeConcurrency ?? 2);
  // Past its ttl an answer is served while it is recomputed (for six ttls more, staleFor): once warm, no
  // citizen waits for InfluxDB. 100 views are at most ~150 MB (whole-city maps at cell 7).
  const cache = createResultCache<MapView>({
    ttlMs: baseTtl,
    maxEntries: 100,
    maxBytes: 256 * 1024 * 1024,
    sizeOf: (v) => v.whole.json.length + v.whole.gzip.length + v.bounds.byteLength + v.starts.byteLength,
    onRefreshError: (err) => app.log.warn({ err: (err as Error).message }, 'map refresh failed'),
  });
  /** Longer windows change slower: their answers are kept longer (1h: 10 s, 1d: 4 min, 30d: 5 min). */
  const ttlFor = (window: number) =>
    baseTtl > 0 ? Math.min(MAX_TTL_MS, Math.max(baseTtl, window / 360)) : 0;
  /** How long past its ttl an answer is still served while refreshed: a live map a minute old at most. */
  const staleFor = (ttl: number) => 6 * ttl;

  const compute =
    (metric: Metric, window: number, toText: string, cell: number, choice: MapChoice) => async () => {
      if (computing.pendingCount >= maxQueued)
        throw apiError(
          'unavailable',
          `${computing.pendingCount} maps are waiting to be computed; retry later`,
          {
            'Retry-After': '5',
          },
        );
      return computing(async () => {
        // Resolved when the computation starts, so that a queued or background refresh is current.
        const to = parseTime(toText, Date.now()) ?? Date.now();
        const from = to - window;
        const { corrected } = choice;
        const methods = new Set<string>();
        const cells = await aggregateCells(
          opts.influx,
          { metric, from, to, cell, corrected, excludeFlagged: choice.flagged === 'exclude', methods },
          opts.rollups?.coverage() ?? [],
        );
        return mapView(metric, window, cell, from, to, cells, {
          correction: correctionOf(metric, choice.corrected, cells, methods),
          flagged: choice.flagged,
        });
      });
    };

  app.get(
    '/api/v1/map',
    {
      config: { rateLimit: {} },
      schema: {
        tags: ['open data'],
        summary: 'City map: aggregates per geohash cell',
        description:
          'Readings of `metric` in [`to` − `window`, `to`) aggregated over geohash cells of length `cell`: ' +
          'mean, max, count, distinct devices and the index band of the mean (EEA EAQI 2024 for PM2.5, ' +
          'PM10, NO2, O3 — only for a window of the period the index is defined on, 24h for PM, 1h for ' +
          'NO2 and O3, as `index` states; END 5 dB classes for noise). A mean of noise levels is on the ' +
          'energy scale. PM2.5 and PM10 count each reading by its humidity-corrected value where it has ' +
          'one and by its measured value otherwise (`corrected=false`: measured values), from raw readings ' +
          'and rollups alike; `correction` says whether corrected values were used, by which methods and for ' +
          'what share of the readings. Readings flagged stuck or jump are counted unless `flagged=exclude`; ' +
          'sensor error codes never are. Mobile readings count in the cell they were taken ' +
          'in. With `bbox`, the cells overlapping the box are returned whole. Indoor kits count at their ' +
          'public position (centre of their length-7 cell). Long windows read hourly and daily rollups ' +
          'with raw readings at both ends, so the edges stay exact. Answers are shared by every client ' +
          'and may be as old as their Cache-Control max-age plus stale-while-revalidate (10 + 60 s for 1 h, ' +
          'up to 5 + 30 min for long windows); ' +
          'they carry an ETag (If-None-Match answers 304). A whole city is best asked for with cell 6 ' +
          '(~1.2 × 0.6 km), cell 7 (~150 m) for a neighbourhood.',
        querystring: z.object({
          metric: metricParam,
          window: durationParam(
            UNIT_MS.m,
            366 * UNIT_MS.d,
            'time window up to `to`, 1m to 366d (default 1h)',
          ).optional(),
          to: timeParam('end of the window, excluded (default now)').optional(),
          bbox: bboxParam.optional(),
          cell: z.coerce
            .number()
            .int()
            .min(1)
            .max(9)
            .default(7)
            .describe('geohash length of the cells, 1 to 9'),
          corrected: z
            .enum(['true', 'false'])
            .optional()
            .describe(
              'PM2.5, PM10 (default true): count each reading by its humidity-corrected value where it has ' +
                'one, its measured value otherwise (`correction` says how many); false: measured values',
            ),
          flagged: z
            .enum(['include', 'exclude'])
            .default('include')
            .describe(
              'readings flagged stuck or jump (a faulty sensor) are counted (include) or left out (exclude, ' +
                `read from raw readings, windows up to ${formatDuration(UNFLAGGED_MAX_WINDOW_MS)}). Sensor ` +
                'error codes are never counted either way.',
            ),
        }),
        response: { 200: mapSchema, ...errorResponses(400, 429, 503) },
      },
    },
    async (request, reply) => {
      const q = request.query;
      const window = q.window ?? UNIT_MS.h;
      if (q.corrected === 'true' && !isCorrectedMetric(q.metric))
        throw apiError(
          'invalid_parameter',
          'querystring.corrected: only pm25 and pm10 have corrected values',
        );
      if (q.flagged === 'exclude' && window > UNFLAGGED_MAX_WINDOW_MS)
        throw apiError(
          'invalid_parameter',
          `querystring.flagged: exclude reads raw readings, for a window up to ${formatDuration(UNFLAGGED_MAX_WINDOW_MS)}`,
        );
      const choice: MapChoice = {
        corrected: isCorrectedMetric(q.metric) && q.corrected !== 'false',
        flagged: q.flagged,
      };
      // A relative or absent `to` is resolved when the answer is computed, so that a background refresh
      // is as current as a new request.
      const toText = rawParam(request.url, 'to') ?? 'now';
      const ttl = ttlFor(window);
      const stale = staleFor(ttl);
      const view = await cache
        .get(
          `${q.metric}|${window}|${timeKey(toText, q.to ?? Date.now())}|${q.cell}|${choice.corrected}|${choice.flagged}`,
          compute(q.metric, window, toText, q.cell, choice),
          ttl,
          stale,
        )
        .catch((err: unknown) => {
          throw influxFailure(err);
        });
      const b = q.bbox;
      const n = view.starts.length - 1;
      const kept: number[] = [];
      if (b) {
        // overlaps() on the stored bounds, inlined: this loop runs over every cell for every viewport.
        const bb = view.bounds;
        for (let i = 0, k = 0; i < n; i++, k += 4) {
          if (bb[k + 1]! < b.maxLon && bb[k + 3]! > b.minLon && bb[k]! < b.maxLat && bb[k + 2]! > b.minLat)
            kept.push(i);
        }
      }
      const count = b ? kept.length : n;
      if (count > maxCells) {
        throw apiError(
          'invalid_parameter',
          `querystring.cell: ${count} cells, at most ${maxCells}: use a smaller cell or a bbox`,
        );
      }
      // A box every cell overlaps (the whole city at its zoom) gets the shared answer, as prepared.
      if (count === n) return sendPrepared(request, reply, view.whole, ttl, stale);
      const etag = `W/${etagOf(`${view.whole.etag}|${b!.minLon},${b!.minLat},${b!.maxLon},${b!.maxLat}`)}`;
      return sendJsonText(request, reply, ttl, stale, etag, () => slices(view, kept));
    },
  );
};

/** The answer holding the features `kept` of a view: its head, their slices of its JSON, its end. */
function slices(view: MapView, kept: number[]): Buffer {
  const { json } = view.whole;
  const { starts } = view;
  const parts: Buffer[] = [json.subarray(0, starts[0])];
  kept.forEach((i, k) => {
    if (k > 0) parts.push(COMMA);
    // A feature ends one byte before the next starts (its comma), the last two before the end (`]}`).
    parts.push(json.subarray(starts[i], starts[i + 1]! - 1));
  });
  parts.push(END);
  return Buffer.concat(parts);
}
const COMMA = Buffer.from(',');
const END = Buffer.from(']}');

async function mapView(
  metric: Metric,
  window: number,
  cell: number,
  from: number,
  to: number,
  cells: CellAggregate[],
  served: Pick<MapAnswer, 'correction' | 'flagged'>,
): Promise<MapView> {
  const index = mapIndex(metric, window);
  const banded = index?.status === 'ok';
  const top = JSON.stringify({
    type: 'FeatureCollection',
    metric,
    unit: METRICS[metric].unit,
    cell,
    window: formatDuration(window),
    from: iso(from),
    to: iso(to),
    index,
    ...served,
    legend: legendFor(metric),
    features: [],
  } satisfies MapAnswer);
  // `...,"features":[]}` without its last two characters: the features go between.
  const head = top.slice(0, -2);
  const texts: string[] = [];
  const bounds = new Float64Array(cells.length * 4);
  const starts = new Uint32Array(cells.length + 1);
  let at = Buffer.byteLength(head);
  cells.forEach((c, i) => {
    const text = JSON.stringify(feature(metric, c, banded));
    texts.push(text);
    bounds.set(geohashBounds(c.cell), 4 * i);
    starts[i] = at;
    at += Buffer.byteLength(text) + 1;
  });
  starts[cells.length] = at;
  return { bounds, starts, whole: await prepareAnswer(`${head}${texts.join(',')}]}`) };
}

function feature(
  metric: Parameters<typeof bandFor>[0],
  c: CellAggregate,
  banded = true,
): MapAnswer['features'][number] {
  const mean = metricMean3(metric, c.sum, c.count);
  return {
    type: 'Feature',
    geometry: geohashPolygon(c.cell, round6),
    properties: {
      cell: c.cell,
      mean,
      max: round3(c.max),
      count: c.count,
      devices: c.devices,
      band: banded ? (bandFor(metric, mean) ?? null) : null,
    },
  };
}
