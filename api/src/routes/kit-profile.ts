import { MEASUREMENTS, METRICS, READING_TAGS } from '@citytel/contract';
import type { Store } from '@citytel/store';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { apiError, errorResponses } from '../errors.ts';
import type { InfluxQuery } from '../influx/client.ts';
import { influxFailure, round3 } from '../influx/http.ts';
import { and, as, call, ident, select, str, tagEquals, timeRange } from '../influx/influxql.ts';
import { deviceIdParam, durationParam, metricParam, timeParam } from '../influx/params.ts';
import { createResultCache } from '../influx/result-cache.ts';
import { floorTo, formatDuration, iso, UNIT_MS } from '../influx/time.ts';

/**
 * What a kit's page compares it with: the city's median of the same measure over time (is my street worse
 * than the town?), and the kit's average day (at what hour is it worst?).
 */

export interface KitProfileRoutesOptions {
  influx: InfluxQuery;
  store: Pick<Store, 'devices'>;
  /** How long an identical request is answered from memory (default 30 s; 0 disables). */
  cacheTtlMs?: number;
}

/** Most buckets in one city series. */
const MAX_POINTS = 2000;

export const citySeriesSchema = z
  .object({
    metric: metricParam,
    fn: z.literal('median'),
    every: z.string(),
    unit: z.string(),
    from: z.iso.datetime(),
    to: z.iso.datetime(),
    points: z.array(
      z.object({
        t: z.iso.datetime().describe('bucket start (UTC)'),
        v: z.number().nullable().describe("median of the kits' means in the bucket; null when none measured"),
        kits: z.number().int().describe('kits that measured in the bucket'),
      }),
    ),
  })
  .meta({
    id: 'CitySeries',
    description:
      "The city's median of one metric over time: per bucket, the median of each outdoor kit's mean",
  });

export const profileSchema = z
  .object({
    device: z.string(),
    metric: metricParam,
    unit: z.string(),
    days: z.number().int(),
    timeZone: z.string(),
    hours: z.array(
      z.object({
        hour: z.number().int().min(0).max(23).describe('hour of the day in timeZone'),
        v: z.number().nullable().describe('mean of the hourly means at that hour; null when none'),
        n: z.number().int().describe('hours with readings that went into it'),
      }),
    ),
  })
  .meta({
    id: 'HourProfile',
    description: "A device's average day: the mean of its hourly means at each local hour of the day",
  });

/** The median of `xs` (sorted copy; the mean of the two middle values for an even count). */
export function median(xs: readonly number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Hour of the day of `ms` in `timeZone` (0–23), daylight saving time included. */
export function localHour(ms: number, fmt: Intl.DateTimeFormat): number {
  const h = fmt.formatToParts(ms).find((p) => p.type === 'hour');
  return Number(h?.value ?? 0) % 24;
}

const hourFormat = (timeZone: string) =>
  new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', hourCycle: 'h23' });

/**
 * The average day of hourly means: each hour's mean falls into the local hour it started at. Pure, so the
 * DST behaviour is checked without InfluxDB.
 */
export function hourProfile(
  hourly: ReadonlyArray<[number, number]>,
  timeZone: string,
): Array<{ hour: number; v: number | null; n: number }> {
  const fmt = hourFormat(timeZone);
  const sum = new Array<number>(24).fill(0);
  const n = new Array<number>(24).fill(0);
  for (const [t, v] of hourly) {
    const h = localHour(t, fmt);
    sum[h]! += v;
    n[h]! += 1;
  }
  return sum.map((s, hour) => ({ hour, v: n[hour] ? round3(s / n[hour]!) : null, n: n[hour]! }));
}

const timeZoneParam = z
  .string()
  .max(64)
  .refine((z) => {
    try {
      new Intl.DateTimeFormat('en', { timeZone: z });
      return true;
    } catch {
      return false;
    }
  }, 'an IANA time zone such as Europe/Paris')
  .describe('IANA time zone of the hours (default UTC)');

/** GET /api/v1/city/series and GET /api/v1/devices/{id}/profile. */
export const kitProfileRoutes: FastifyPluginAsyncZod<KitProfileRoutesOptions> = async (app, opts) => {
  const { influx } = opts;
  const ttl = opts.cacheTtlMs ?? 30_000;
  const cityCache = createResultCache<z.infer<typeof citySeriesSchema>>({ ttlMs: ttl });
  const profileCache = createResultCache<z.infer<typeof profileSchema>>({ ttlMs: ttl });
  const outdoor = `${ident(READING_TAGS.loc)} != ${str('indoor')}`;

  app.get(
    '/api/v1/city/series',
    {
      config: { rateLimit: {} },
      schema: {
        tags: ['open data'],
        summary: "The city's median of a metric over time",
        description:
          "Time buckets between `from` and `to`; in each, the median over the outdoor kits of each kit's mean " +
          'in the bucket, and how many kits measured. Indoor kits are left out. Values rounded to 3 decimals.',
        querystring: z.object({
          metric: metricParam,
          from: timeParam('start, ISO 8601 or relative (default -24h)').optional(),
          to: timeParam('end, excluded, ISO 8601 or relative (default now)').optional(),
          every: durationParam(UNIT_MS.m, UNIT_MS.d, 'bucket width, 1m to 1d (default 1h)').optional(),
        }),
        response: { 200: citySeriesSchema, ...errorResponses(400, 429, 503) },
      },
    },
    async (request) => {
      const q = request.query;
      const to = q.to ?? Date.now();
      const from = q.from ?? to - UNIT_MS.d;
      const every = q.every ?? UNIT_MS.h;
      if (from >= to) throw apiError('invalid_parameter', 'querystring.from: must be before to');
      const first = floorTo(from, every);
      if (Math.ceil((to - first) / every) > MAX_POINTS) {
        throw apiError(
          'invalid_parameter',
          `querystring.every: more than ${MAX_POINTS} buckets; widen every`,
        );
      }
      return cityCache
        .get(request.url, async () => {
          const series = await influx.query(
            select({
              fields: [as(call('mean', q.metric), 'v')],
              from: MEASUREMENTS.readings,
              where: and(outdoor, timeRange(first, to)),
              groupBy: [{ time: every }, READING_TAGS.device],
              fill: 'none',
            }),
          );
          const perBucket = new Map<number, number[]>();
          for (const s of series) {
            for (const [t, v] of s.values as Array<[number, unknown]>) {
              if (typeof v !== 'number') continue;
              const list = perBucket.get(t) ?? [];
              list.push(v);
              perBucket.set(t, list);
            }
          }
          const points = [];
          for (let t = first; t < to; t += every) {
            const vs = perBucket.get(t) ?? [];
            const m = median(vs);
            points.push({ t: iso(t), v: m === null ? null : round3(m), kits: vs.length });
          }
          return {
            metric: q.metric,
            fn: 'median' as const,
            every: formatDuration(every),
            unit: METRICS[q.metric].unit,
            from: iso(first),
            to: iso(to),
            points,
          };
        })
        .catch((err: unknown) => {
          throw influxFailure(err);
        });
    },
  );

  app.get(
    '/api/v1/devices/:id/profile',
    {
      config: { rateLimit: {} },
      schema: {
        tags: ['open data'],
        summary: "A device's average day",
        description:
          'Hourly means of the last `days` days (7 or 30), each put at the local hour of the day it began ' +
          'in `tz` (daylight saving time followed), and averaged per hour: when in the day a kit measures ' +
          'high. `n` is how many hours went into each.',
        params: z.object({ id: deviceIdParam }),
        querystring: z.object({
          metric: metricParam,
          days: z.coerce
            .number()
            .int()
            .pipe(z.union([z.literal(7), z.literal(30)]))
            .default(7),
          tz: timeZoneParam.default('UTC'),
        }),
        response: { 200: profileSchema, ...errorResponses(400, 404, 429, 503) },
      },
    },
    async (request) => {
      const { id } = request.params;
      const q = request.query;
      if (!(await opts.store.devices.get(id))) throw apiError('device_not_found', `no device ${id}`);
      const to = floorTo(Date.now(), UNIT_MS.h) + UNIT_MS.h;
      const from = to - q.days * UNIT_MS.d;
      return profileCache
        .get(request.url, async () => {
          const series = await influx.query(
            select({
              fields: [as(call('mean', q.metric), 'v')],
              from: MEASUREMENTS.readings,
              where: and(tagEquals(READING_TAGS.device, id), timeRange(from, to)),
              groupBy: [{ time: UNIT_MS.h }],
              fill: 'none',
            }),
          );
          const hourly: Array<[number, number]> = [];
          for (const s of series) {
            for (const [t, v] of s.values as Array<[number, unknown]>)
              if (typeof v === 'number') hourly.push([t, v]);
          }
          return {
            device: id,
            metric: q.metric,
            unit: METRICS[q.metric].unit,
            days: q.days,
            timeZone: q.tz,
            hours: hourProfile(hourly, q.tz),
          };
        })
        .catch((err: unknown) => {
          throw influxFailure(err);
        });
    },
  );
};
