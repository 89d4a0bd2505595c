import {
  correctedField,
  isDbMetric,
  MEASUREMENTS,
  METRICS,
  type Metric,
  READING_TAGS,
} from '@citytel/contract';
import type { Store } from '@citytel/store';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { apiError, errorResponses } from '../errors.ts';
import { type PreparedAnswer, prepareAnswer, sendPrepared } from '../influx/answer.ts';
import type { InfluxQuery } from '../influx/client.ts';
import { influxFailure, metricMean3, round3 } from '../influx/http.ts';
import {
  and,
  as,
  call,
  energyField,
  energySubquery,
  ident,
  select,
  tagEquals,
  timeRange,
} from '../influx/influxql.ts';
import { isCorrectedMetric } from '../influx/map-points.ts';
import {
  deviceIdParam,
  durationParam,
  type Fn,
  fnParam,
  metricParam,
  rawParam,
  timeKey,
  timeParam,
} from '../influx/params.ts';
import { planSegments, type TierCoverage } from '../influx/plan.ts';
import { createResultCache } from '../influx/result-cache.ts';
import { rollupField } from '../influx/rollup.ts';
import { correctionMethods, unflaggedBuckets } from '../influx/series-points.ts';
import { floorTo, formatDuration, iso, UNIT_MS } from '../influx/time.ts';
import { canManage } from '../plugins/auth.ts';

export interface SeriesRoutesOptions {
  influx: InfluxQuery;
  store: Pick<Store, 'devices'>;
  /** The rollup job's coverage; without it every series reads raw readings. */
  rollups?: { coverage(): TierCoverage[] } | undefined;
  /** How long an identical request is answered from memory (default 5 s; 0 disables). */
  cacheTtlMs?: number;
  /** Most buckets in one answer (default 10 000). */
  maxPoints?: number;
}

export const seriesSchema = z
  .object({
    device: z.string(),
    metric: metricParam,
    fn: fnParam,
    every: z.string().describe('bucket width, e.g. 5m, 1h, 1d'),
    unit: z.string(),
    corrected: z
      .object({
        field: z.string().describe('the stored field served, e.g. pm25_c'),
        methods: z.array(z.string()).describe('methods (`id@version`) of the corrected values in the range'),
      })
      .optional()
      .describe('present with corrected=true: the values are humidity-corrected, by these methods'),
    from: z.iso.datetime().describe('start of the first bucket'),
    to: z.iso.datetime().describe('end of the range (excluded)'),
    points: z.array(
      z.object({
        t: z.iso.datetime().describe('bucket start (UTC)'),
        v: z.number().nullable().describe('null when the bucket holds no reading'),
      }),
    ),
  })
  .meta({
    id: 'Series',
    description: "One device's metric in time buckets; every bucket present, empty ones null",
  });
type Series = z.infer<typeof seriesSchema>;

/** How long past its ttl a series is still served while refreshed. */
const STALE_MS = 60_000;

/** Functions whose buckets combine from rollups (sums, counts, extremes); median and p95 need raw points. */
const COMBINABLE: ReadonlySet<Fn> = new Set(['mean', 'min', 'max', 'count']);

interface Bucket {
  s: number;
  c: number;
  lo: number;
  hi: number;
  v?: number;
}

/** GET /api/v1/devices/{id}/series. */
export const seriesRoutes: FastifyPluginAsyncZod<SeriesRoutesOptions> = async (app, opts) => {
  const { influx } = opts;
  const ttl = opts.cacheTtlMs ?? 5000;
  const maxPoints = opts.maxPoints ?? 10_000;
  const cache = createResultCache<PreparedAnswer>({
    ttlMs: ttl,
    // One answer is up to ~0.5 MB (10 000 points, JSON and gzip): distinct valid ranges are countless.
    maxBytes: 64 * 1024 * 1024,
    sizeOf: (a) => a.json.length + a.gzip.length,
    // A chart open on a kit asks again and again: past its ttl it is answered at once while refreshed.
    staleMs: ttl > 0 ? STALE_MS : 0,
    onRefreshError: (err) => app.log.warn({ err: (err as Error).message }, 'series refresh failed'),
  });

  app.get(
    '/api/v1/devices/:id/series',
    {
      config: { rateLimit: {} },
      schema: {
        tags: ['open data'],
        summary: "A device's time series",
        description:
          'Time buckets of one metric of one device between `from` (included) and `to` (excluded), each ' +
          'with the chosen aggregate: mean, min, max, count, median or p95 (nearest rank: the value at ' +
          'rank ⌊0.95·n + 0.5⌋ of the sorted bucket). Buckets start at multiples of `every` since the epoch ' +
          '(UTC midnight for 1d). Every bucket of the range is present; an empty one has `v: null`. ' +
          'The mean of a level in dB (noise_laeq) is its energy mean, 10·lg(mean(10^(L/10))) (ISO 1996-1). ' +
          'With `corrected=true` (pm25, pm10) the humidity-corrected values are served, read from raw ' +
          'readings (readings without one are left out), and `corrected` names the methods. ' +
          "Values are rounded to 3 decimals. A car's series is served to its operator only (with its " +
          'token): its readings by its id would tell when and where a member drove.',
        params: z.object({ id: deviceIdParam }),
        querystring: z.object({
          metric: metricParam,
          from: timeParam('start, ISO 8601 or relative (default -24h)').optional(),
          to: timeParam('end, excluded, ISO 8601 or relative (default now)').optional(),
          every: durationParam(UNIT_MS.m, UNIT_MS.d, 'bucket width, 1m to 1d (default 1h)').optional(),
          fn: fnParam.default('mean'),
          flagged: z
            .enum(['include', 'exclude'])
            .default('include')
            .describe(
              'readings flagged stuck or jump (a faulty sensor) are counted (include) or left out (exclude, ' +
                'read from raw readings). Sensor error codes are never served as values either way.',
            ),
          corrected: z
            .enum(['true', 'false'])
            .default('false')
            .describe(
              'pm25, pm10: serve the humidity-corrected values (read from raw readings) instead of the ' +
                'measured ones; a reading without a corrected value is left out. The answer names the method.',
            ),
        }),
        security: [{}, { bearerAuth: [] }],
        response: { 200: seriesSchema, ...errorResponses(400, 401, 404, 429, 503) },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const q = request.query;
      const to = q.to ?? Date.now();
      const from = q.from ?? to - UNIT_MS.d;
      const every = q.every ?? UNIT_MS.h;
      if (from >= to) throw apiError('invalid_parameter', 'querystring.from: must be before to');
      const corrected = q.corrected === 'true';
      if (corrected && !isCorrectedMetric(q.metric))
        throw apiError(
          'invalid_parameter',
          'querystring.corrected: only pm25 and pm10 have corrected values',
        );
      const first = floorTo(from, every);
      const buckets = Math.ceil((to - first) / every);
      if (buckets > maxPoints) {
        throw apiError(
          'invalid_parameter',
          `querystring.every: ${buckets} buckets asked, at most ${maxPoints}: widen every or shorten the range`,
        );
      }
      const operator = await app.optionalOperator(request);
      const device = await opts.store.devices.get(id);
      // A car is not found for anyone but its operator: the public may not even learn which ids are cars.
      if (!device || (device.kind === 'vehicle' && !(operator && canManage(operator, device))))
        throw apiError('device_not_found', `no device ${id}`);
      if (device.kind === 'vehicle') reply.header('Cache-Control', 'private, no-store');
      reply.header('Vary', 'Authorization');

      const key = [
        id,
        q.metric,
        q.fn,
        every,
        timeKey(rawParam(request.url, 'from'), q.from),
        timeKey(rawParam(request.url, 'to'), q.to),
        q.flagged,
        corrected,
      ].join('|');
      const body = await cache
        .get(key, async () => {
          // The rollups keep measured values: corrected ones are read from raw readings.
          const field = corrected ? correctedField(q.metric as 'pm25' | 'pm10') : q.metric;
          const [values, methods] = await Promise.all([
            bucketValues(
              influx,
              id,
              q.metric,
              field,
              q.fn,
              from,
              to,
              every,
              corrected ? [] : tiersFor(q.fn, every),
              q.flagged === 'exclude',
            ),
            corrected ? correctionMethods(influx, id, field, from, to) : undefined,
          ]);
          const out: Series = {
            device: id,
            metric: q.metric,
            fn: q.fn,
            every: formatDuration(every),
            unit: METRICS[q.metric].unit,
            ...(methods ? { corrected: { field, methods } } : {}),
            from: iso(first),
            to: iso(to),
            points: [],
          };
          for (let t = first; t < to; t += every) out.points.push({ t: iso(t), v: values.get(t) ?? null });
          return prepareAnswer(JSON.stringify(out));
        })
        .catch((err: unknown) => {
          throw influxFailure(err);
        });
      return sendPrepared(request, reply, body, ttl, ttl > 0 ? STALE_MS : 0);
    },
  );

  const tiersFor = (fn: Fn, every: number): TierCoverage[] =>
    COMBINABLE.has(fn) ? (opts.rollups?.coverage() ?? []).filter((t) => every % t.step === 0) : [];
};

/** The aggregate of each non-empty bucket, keyed by bucket start. */
async function bucketValues(
  influx: InfluxQuery,
  device: string,
  metric: Metric,
  field: string,
  fn: Fn,
  from: number,
  to: number,
  every: number,
  tiers: TierCoverage[],
  excludeFlagged = false,
): Promise<Map<number, number>> {
  const where = (a: number, b: number) => and(tagEquals(READING_TAGS.device, device), timeRange(a, b));
  if (excludeFlagged) return unflaggedBuckets(influx, metric, field, fn, where(from, to), every);
  const out = new Map<number, number>();
  if (!COMBINABLE.has(fn)) {
    const q = select({
      fields: [as(call(fn === 'p95' ? 'p95' : 'median', field), 'v')],
      from: MEASUREMENTS.readings,
      where: where(from, to),
      groupBy: [{ time: every }],
      fill: 'none',
    });
    for (const s of await influx.query(q)) {
      for (const [t, v] of s.values as Array<[number, unknown]>)
        if (typeof v === 'number') out.set(t, round3(v));
    }
    return out;
  }
  // Sums, counts and extremes of each bucket from every segment of the plan, combined per bucket start.
  const buckets = new Map<number, Bucket>();
  const segments = planSegments(from, to, tiers);
  const db = isDbMetric(metric);
  const results = await Promise.all(
    segments.map((seg) => {
      if (seg.tier) {
        // A tier's sum of a level in dB is already a sum of energy (rollup.ts).
        const f = (stat: 'sum' | 'count' | 'min' | 'max') => ident(rollupField(metric, stat));
        return influx.query(
          select({
            fields: [
              as(`sum(${f('sum')})`, 's'),
              as(`sum(${f('count')})`, 'c'),
              as(`min(${f('min')})`, 'lo'),
              as(`max(${f('max')})`, 'hi'),
            ],
            from: seg.tier.measurement,
            rp: seg.tier.rp,
            where: where(seg.from, seg.to),
            groupBy: [{ time: every }],
            fill: 'none',
          }),
        );
      }
      const m = ident(field);
      return influx.query(
        select({
          fields: [
            as(`sum(${ident(db ? energyField(metric) : field)})`, 's'),
            as(`count(${m})`, 'c'),
            as(`min(${m})`, 'lo'),
            as(`max(${m})`, 'hi'),
          ],
          from: db
            ? energySubquery(metric, MEASUREMENTS.readings, where(seg.from, seg.to))
            : MEASUREMENTS.readings,
          where: db ? timeRange(seg.from, seg.to) : where(seg.from, seg.to),
          groupBy: [{ time: every }],
          fill: 'none',
        }),
      );
    }),
  );
  for (const series of results) {
    for (const s of series) {
      for (const [t, sum, c, lo, hi] of s.values as Array<[number, number, number, number, number]>) {
        if (!(c > 0)) continue;
        const b = buckets.get(t);
        if (!b) buckets.set(t, { s: sum, c, lo, hi });
        else {
          b.s += sum;
          b.c += c;
          b.lo = Math.min(b.lo, lo);
          b.hi = Math.max(b.hi, hi);
        }
      }
    }
  }
  for (const [t, b] of buckets) {
    const v = fn === 'mean' ? metricMean3(metric, b.s, b.c) : fn === 'min' ? b.lo : fn === 'max' ? b.hi : b.c;
    out.set(t, round3(v));
  }
  return out;
}
