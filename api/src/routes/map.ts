import { bandFor, geohashBounds, legendFor, METRICS } from '@citytel/contract';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { apiError, errorResponses } from '../errors.ts';
import type { InfluxQuery } from '../influx/client.ts';
import { influxFailure, mean3, round3, type SharedAnswer, sendJsonText, sendShared } from '../influx/http.ts';
import { aggregateCells, type CellAggregate, overlaps } from '../influx/map-query.ts';
import { bboxParam, durationParam, metricParam, timeParam } from '../influx/params.ts';
import type { TierCoverage } from '../influx/plan.ts';
import { round6 } from '../influx/public-position.ts';
import { createResultCache } from '../influx/result-cache.ts';
import { formatDuration, iso, parseTime, UNIT_MS } from '../influx/time.ts';

export interface MapRoutesOptions {
  influx: InfluxQuery;
  /** The rollup job's coverage; without it every map reads raw readings (slow past a few hours). */
  rollups?: { coverage(): TierCoverage[] } | undefined;
  /** How long the answer of a 1-hour window is fresh (default 10 s, longer windows longer; 0 disables caching). */
  cacheTtlMs?: number;
  /** Most cells in one answer (default 20 000): past it, a coarser cell or a smaller bbox is asked for. */
  maxCells?: number;
}

const bandSchema = z
  .object({ level: z.number().int(), label: z.string(), color: z.string() })
  .meta({ id: 'Band' });

export const mapCellSchema = z
  .object({
    type: z.literal('Feature'),
    geometry: z.object({ type: z.literal('Polygon'), coordinates: z.array(z.array(z.array(z.number()))) }),
    properties: z.object({
      cell: z.string().describe('geohash of the cell'),
      mean: z.number(),
      max: z.number(),
      count: z.number().int().describe('readings'),
      devices: z.number().int().describe('distinct devices that contributed'),
      band: bandSchema.nullable().describe('index band of the mean; null for a metric without one'),
    }),
  })
  .meta({ id: 'MapCell' });

export const mapSchema = z
  .object({
    type: z.literal('FeatureCollection'),
    metric: z.string(),
    unit: z.string(),
    cell: z.number().int(),
    window: z.string(),
    from: z.iso.datetime(),
    to: z.iso.datetime(),
    legend: z.array(
      bandSchema.extend({
        from: z.number().nullable().describe('lower bound'),
        to: z.number().nullable().describe('upper bound'),
      }),
    ),
    features: z.array(mapCellSchema),
  })
  .meta({ id: 'MapCells', description: 'GeoJSON FeatureCollection of geohash cells with their aggregates' });
type MapAnswer = z.infer<typeof mapSchema>;

/** One computed map, shared by every request for it; `json`/`gzip` hold the whole answer (no bbox). */
interface MapView extends SharedAnswer {
  from: number;
  to: number;
  features: MapAnswer['features'];
}

/** Longest an answer is kept fresh: a 30-day mean barely moves in five minutes. */
const MAX_TTL_MS = 5 * 60_000;

/** GET /api/v1/map. */
export const mapRoutes: FastifyPluginAsyncZod<MapRoutesOptions> = async (app, opts) => {
  const baseTtl = opts.cacheTtlMs ?? 10_000;
  const maxCells = opts.maxCells ?? 20_000;
  const cache = createResultCache<MapView>({
    ttlMs: baseTtl,
    // Past its ttl an answer is served while it is recomputed: once warm, no citizen waits for InfluxDB.
    staleMs: baseTtl > 0 ? 10 * MAX_TTL_MS : 0,
    maxEntries: 200,
    onRefreshError: (err) => app.log.warn({ err: (err as Error).message }, 'map refresh failed'),
  });
  /** Longer windows change slower: their answers are kept longer (1h: 10 s, 1d: 4 min, 30d: 5 min). */
  const ttlFor = (window: number) =>
    baseTtl > 0 ? Math.min(MAX_TTL_MS, Math.max(baseTtl, window / 360)) : 0;

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
          'PM10, NO2, O3; END 5 dB classes for noise). Mobile readings count in the cell they were taken ' +
          'in. With `bbox`, the cells overlapping the box are returned whole. Indoor kits count at their ' +
          'public position (centre of their length-7 cell). Long windows read hourly and daily rollups ' +
          'with raw readings at both ends, so the edges stay exact. Answers are shared by every client ' +
          'and may be as old as their Cache-Control max-age (10 s for 1 h, up to 5 min for long windows).',
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
        }),
        response: { 200: mapSchema, ...errorResponses(400, 429, 503) },
      },
    },
    async (request, reply) => {
      const q = request.query;
      const window = q.window ?? UNIT_MS.h;
      // A relative or absent `to` is resolved when the answer is computed, so that a background refresh
      // is as current as a new request.
      const toText = new URLSearchParams(request.url.split('?')[1] ?? '').get('to') ?? 'now';
      const ttl = ttlFor(window);
      const view = await cache
        .get(
          `${q.metric}|${window}|${toText}|${q.cell}`,
          async () => {
            const to = parseTime(toText, Date.now()) ?? Date.now();
            const from = to - window;
            const cells = await aggregateCells(
              opts.influx,
              { metric: q.metric, from, to, cell: q.cell },
              opts.rollups?.coverage() ?? [],
            );
            return { from, to, features: cells.map((c) => feature(q.metric, c)) };
          },
          ttl,
        )
        .catch((err: unknown) => {
          throw influxFailure(err);
        });
      const features = q.bbox
        ? view.features.filter((f) => overlaps(geohashBounds(f.properties.cell), q.bbox!))
        : view.features;
      if (features.length > maxCells) {
        throw apiError(
          'invalid_parameter',
          `querystring.cell: ${features.length} cells, at most ${maxCells}: use a smaller cell or a bbox`,
        );
      }
      const answer = (list: MapAnswer['features']) =>
        JSON.stringify({
          type: 'FeatureCollection',
          metric: q.metric,
          unit: METRICS[q.metric].unit,
          cell: q.cell,
          window: formatDuration(window),
          from: iso(view.from),
          to: iso(view.to),
          legend: legendFor(q.metric),
          features: list,
        } satisfies MapAnswer);
      if (q.bbox) return sendJsonText(reply, answer(features), ttl);
      // The whole map is what most clients ask for: serialized and compressed once per computation.
      return sendShared(request, reply, view, () => answer(features), ttl);
    },
  );
};

function feature(metric: Parameters<typeof bandFor>[0], c: CellAggregate): MapAnswer['features'][number] {
  const [s, w, n, e] = geohashBounds(c.cell).map(round6) as [number, number, number, number];
  const mean = mean3(c.sum, c.count);
  return {
    type: 'Feature',
    // Counter-clockwise exterior ring (RFC 7946 §3.1.6).
    geometry: {
      type: 'Polygon',
      coordinates: [
        [
          [w, s],
          [e, s],
          [e, n],
          [w, n],
          [w, s],
        ],
      ],
    },
    properties: {
      cell: c.cell,
      mean,
      max: round3(c.max),
      count: c.count,
      devices: c.devices,
      band: bandFor(metric, mean) ?? null,
    },
  };
}
