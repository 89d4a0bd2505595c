import { DEVICE_KINDS, idSchema, METRIC_NAMES, type Metric } from '@citytel/contract';
import { z } from 'zod';
import { formatDuration, parseDuration, parseTime } from './time.ts';

/**
 * Query parameters shared by the read routes, as zod schemas: they validate, type the handlers and
 * document the OpenAPI parameters at once. Each refuses what it cannot use with a message that the error
 * handler prefixes with the parameter's name (`querystring.bbox: ...`).
 */

export const metricParam = z
  .enum(METRIC_NAMES as [Metric, ...Metric[]])
  .describe('metric name (CONTRACT §2 units)');

export const deviceIdParam = idSchema.describe('device or vehicle id');

export const kindParam = z.enum(DEVICE_KINDS).describe('device kind');

export const FNS = ['mean', 'min', 'max', 'count', 'median', 'p95'] as const;
export type Fn = (typeof FNS)[number];
export const fnParam = z
  .enum(FNS)
  .describe('aggregate of each bucket; p95 is the nearest-rank 95th percentile');

/** A duration between `min` and `max` milliseconds, returned as milliseconds. */
export function durationParam(min: number, max: number, description: string) {
  return z
    .string()
    .transform((v, ctx) => {
      const ms = parseDuration(v);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: `"${clip(v)}" is not a duration like 5m, 1h or 7d` });
        return z.NEVER;
      }
      if (ms < min || ms > max) {
        ctx.addIssue({
          code: 'custom',
          message: `must be between ${formatDuration(min)} and ${formatDuration(max)}`,
        });
        return z.NEVER;
      }
      return ms;
    })
    .meta({ description, example: formatDuration(Math.max(min, 3_600_000)) });
}

/** An ISO 8601 time or one relative to the request's arrival (`now`, `-24h`), as epoch milliseconds. */
export function timeParam(description: string) {
  return z
    .string()
    .transform((v, ctx) => {
      const ms = parseTime(v, Date.now());
      if (ms === undefined) {
        ctx.addIssue({
          code: 'custom',
          message: `"${clip(v)}" is not an ISO 8601 time (2026-11-22T10:00:00Z) or relative time (now, -24h, now-90m)`,
        });
        return z.NEVER;
      }
      return ms;
    })
    .meta({ description, examples: ['-24h', '2026-11-22T10:00:00Z'] });
}

export interface Bbox {
  minLon: number;
  minLat: number;
  maxLon: number;
  maxLat: number;
}

export const bboxParam = z
  .string()
  .transform((v, ctx): Bbox => {
    const parts = v.split(',');
    const nums = parts.map((p) => (/^\s*-?\d+(\.\d+)?\s*$/.test(p) ? Number(p) : Number.NaN));
    if (parts.length !== 4 || nums.some((n) => !Number.isFinite(n))) {
      ctx.addIssue({ code: 'custom', message: 'must be four decimal numbers: minLon,minLat,maxLon,maxLat' });
      return z.NEVER;
    }
    const [minLon, minLat, maxLon, maxLat] = nums as [number, number, number, number];
    const problem =
      minLon < -180 || maxLon > 180
        ? 'longitudes must be within -180..180'
        : minLat < -90 || maxLat > 90
          ? 'latitudes must be within -90..90'
          : minLon >= maxLon || minLat >= maxLat
            ? 'min must be below max (a box across the antimeridian is two requests)'
            : undefined;
    if (problem) {
      ctx.addIssue({ code: 'custom', message: problem });
      return z.NEVER;
    }
    return { minLon, minLat, maxLon, maxLat };
  })
  .meta({
    description: 'bounding box minLon,minLat,maxLon,maxLat (WGS 84, edges included)',
    example: '-1.75,48.08,-1.62,48.14',
  });

export const inBbox = (b: Bbox, lat: number, lon: number): boolean =>
  lat >= b.minLat && lat <= b.maxLat && lon >= b.minLon && lon <= b.maxLon;

/** `now`, `-24h`, `now-90m`: times resolved when an answer is computed. */
const RELATIVE_TIME = /^(?:now)?(?:-[1-9][0-9]{0,5}[smhdw])?$/;

/**
 * The cache-key part of a time parameter that passed validation: a relative time by its text (resolved
 * when the answer is computed, so every client asking for `-24h` shares it), an absolute one by its
 * instant (two spellings of one instant share it too). `raw` is the parameter as sent, read only once
 * the query validated, so no unvalidated text ever becomes a key.
 */
export function timeKey(raw: string | null | undefined, ms: number | undefined): string {
  if (raw === null || raw === undefined || ms === undefined) return '';
  return RELATIVE_TIME.test(raw) ? raw : String(ms);
}

/** The raw value of one query parameter (after validation: it is then a single string). */
export const rawParam = (url: string, name: string): string | null => {
  const q = url.indexOf('?');
  return q < 0 ? null : new URLSearchParams(url.slice(q + 1)).get(name);
};

/** A value quoted back in a message, kept short. */
const clip = (v: string): string => (v.length > 40 ? `${v.slice(0, 40)}…` : v);
