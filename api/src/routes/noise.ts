import {
  dailyIndicators,
  END_SOURCE,
  type EndPeriods,
  energyToLevel,
  MEASUREMENTS,
  READING_TAGS,
  WHO_NOISE_GUIDELINES,
} from '@citytel/contract';
import type { Store } from '@citytel/store';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { apiError, errorResponses } from '../errors.ts';
import type { InfluxQuery } from '../influx/client.ts';
import { influxFailure } from '../influx/http.ts';
import {
  and,
  as,
  energyField,
  energySubquery,
  ident,
  oneOf,
  select,
  tagEquals,
  timeRange,
} from '../influx/influxql.ts';
import { deviceIdParam } from '../influx/params.ts';

export interface NoiseRoutesOptions {
  influx: InfluxQuery;
  store: Pick<Store, 'devices'>;
  timeZone: string;
  periods: EndPeriods;
  minCoverage: number;
  /** Most days in one answer (default 366). */
  maxDays?: number;
}

const HOUR = 3_600_000;
const DAY = 86_400_000;
const METRIC = 'noise_laeq';

const periodLevel = z
  .object({
    level: z.number().nullable().describe('dB(A), energy mean of the hourly levels; null without readings'),
    hours: z.number().int().describe('hours of the period holding a reading'),
    of: z.number().int().describe("the period's hours that day (a DST night has 7 or 9)"),
    coverage: z.number().describe('hours / of'),
    complete: z.boolean().describe('coverage at least minCoverage'),
  })
  .meta({ id: 'NoisePeriodLevel' });

export const noiseIndicatorsSchema = z
  .object({
    device: z.string().optional(),
    cell: z.string().optional(),
    unit: z.literal('dB(A)'),
    timeZone: z.string(),
    periods: z.object({ day: z.string(), evening: z.string(), night: z.string() }),
    minCoverage: z.number(),
    source: z.string(),
    who: z.object({ lden: z.number(), lnight: z.number(), source: z.string() }),
    days: z.array(
      z.object({
        date: z.string().describe('local date the day period starts on; its night runs into the next date'),
        lday: periodLevel,
        levening: periodLevel,
        lnight: periodLevel,
        lden: z.number().nullable().describe('null unless each period has a level'),
        complete: z.boolean().describe('each period complete'),
      }),
    ),
  })
  .meta({
    id: 'NoiseIndicators',
    description: 'END noise indicators (Directive 2002/49/EC, Annex I) per local day, with WHO 2018 marks',
  });
type Answer = z.infer<typeof noiseIndicatorsSchema>;

const dateParam = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date, YYYY-MM-DD')
  .refine((v) => !Number.isNaN(Date.parse(`${v}T00:00:00Z`)), 'is not a calendar date');

const query = z.object({
  from: dateParam.optional().describe('first local date (default: 7 days before to)'),
  to: dateParam.optional().describe('local date after the last one (default: today)'),
});

/**
 * GET /api/v1/devices/{id}/noise-indicators and /api/v1/noise-indicators?cell=: Lday, Levening, Lnight and
 * Lden per local day, from hourly equivalent levels summed on the energy scale by InfluxDB.
 */
export const noiseRoutes: FastifyPluginAsyncZod<NoiseRoutesOptions> = async (app, opts) => {
  const maxDays = opts.maxDays ?? 366;
  const hh = (h: number) => `${String(h).padStart(2, '0')}:00`;
  const p = opts.periods;
  const periods = {
    day: `${hh(p.day)}–${hh(p.evening)}`,
    evening: `${hh(p.evening)}–${hh(p.night)}`,
    night: `${hh(p.night)}–${hh(p.day)}`,
  };
  const description =
    'Lday, Levening, Lnight and Lden (Directive 2002/49/EC, Annex I) per local day in the city time zone ' +
    '(CITY_TIMEZONE, DST included), periods NOISE_PERIODS, each with its coverage; a period covered below ' +
    'NOISE_MIN_COVERAGE is flagged incomplete. The WHO 2018 guideline values (53 dB Lden, 45 dB Lnight, ' +
    'road traffic) compare with these, never with an hourly mean.';

  const answer = async (
    where: string,
    subject: { device: string } | { cell: string },
    q: z.infer<typeof query>,
  ) => {
    const today = new Date().toISOString().slice(0, 10);
    const toDate = q.to ?? today;
    const fromDate =
      q.from ?? new Date(Date.parse(`${toDate}T00:00:00Z`) - 7 * DAY).toISOString().slice(0, 10);
    const a = Date.parse(`${fromDate}T00:00:00Z`);
    const b = Date.parse(`${toDate}T00:00:00Z`);
    if (a >= b) throw apiError('invalid_parameter', 'querystring.from: must be before to');
    if ((b - a) / DAY > maxDays)
      throw apiError('invalid_parameter', `querystring.from: at most ${maxDays} days`);
    // UTC hours wide enough for any offset (−12 h … +14 h) around the local days asked, whole days kept below.
    const start = a + p.day * HOUR - 14 * HOUR;
    const end = b + p.day * HOUR + 12 * HOUR;
    const sql = select({
      fields: [as(`sum(${ident(energyField(METRIC))})`, 's'), as(`count(${ident(METRIC)})`, 'c')],
      from: energySubquery(METRIC, MEASUREMENTS.readings, and(timeRange(start, end), where)),
      where: timeRange(start, end),
      groupBy: [{ time: HOUR }],
      fill: 'none',
    });
    const hours = new Map<number, number | null>();
    for (let t = start; t < end; t += HOUR) hours.set(t, null);
    const series = await opts.influx.query(sql).catch((err: unknown) => {
      throw influxFailure(err);
    });
    for (const s of series) {
      for (const [t, sum, c] of s.values as Array<[number, number, number]>) {
        if (c > 0 && hours.has(t)) hours.set(t, energyToLevel(sum / c));
      }
    }
    const days = dailyIndicators(hours, opts.timeZone, p, opts.minCoverage).filter(
      (d) => d.date >= fromDate && d.date < toDate,
    );
    const out: Answer = {
      ...subject,
      unit: 'dB(A)',
      timeZone: opts.timeZone,
      periods,
      minCoverage: opts.minCoverage,
      source: END_SOURCE,
      who: {
        lden: WHO_NOISE_GUIDELINES.lden,
        lnight: WHO_NOISE_GUIDELINES.lnight,
        source: WHO_NOISE_GUIDELINES.source,
      },
      days,
    };
    return out;
  };

  app.get(
    '/api/v1/devices/:id/noise-indicators',
    {
      config: { rateLimit: {} },
      schema: {
        tags: ['open data'],
        summary: "A kit's END noise indicators per day",
        description,
        params: z.object({ id: deviceIdParam }),
        querystring: query,
        response: { 200: noiseIndicatorsSchema, ...errorResponses(400, 404, 429, 503) },
      },
    },
    async (request) => {
      const { id } = request.params;
      if (!(await opts.store.devices.get(id))) throw apiError('device_not_found', `no device ${id}`);
      return answer(tagEquals(READING_TAGS.device, id), { device: id }, request.query);
    },
  );

  app.get(
    '/api/v1/noise-indicators',
    {
      config: { rateLimit: {} },
      schema: {
        tags: ['open data'],
        summary: "A map cell's END noise indicators per day",
        description: `${description} A cell's hourly level is the energy mean of every reading taken in it that hour.`,
        querystring: query.extend({
          cell: z
            .string()
            .regex(/^[0-9b-hjkmnp-z]{1,6}$/, 'must be a geohash of 1 to 6 characters')
            .describe('geohash cell (1–6 characters)'),
        }),
        response: { 200: noiseIndicatorsSchema, ...errorResponses(400, 429, 503) },
      },
    },
    async (request) => {
      const { cell } = request.query;
      return answer(`${ident(READING_TAGS.geohash)} =~ ${oneOf([cell], true)}`, { cell }, request.query);
    },
  );
};
