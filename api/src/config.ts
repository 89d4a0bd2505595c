import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type EndPeriods,
  isTimeZone,
  loadConfig,
  optionalString,
  parseEndPeriods,
  port,
  sharedEnv,
} from '@citytel/contract';
import { z } from 'zod';
import { carsharingEnv } from './commands/config.ts';
import { gbfsEnv } from './routes/gbfs-config.ts';

/** The api package folder: DASHBOARD_DIR's default is relative to it, wherever the process starts. */
const API_PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * `npm run x -w api` runs in api/ while the person typed the command at the repository root; npm keeps
 * that folder in INIT_CWD. Relative paths given by a person are resolved from there, so `DATA_DIR=.data`
 * names the same folder for every process however it was launched.
 */
export function resolveFromInvocation(path: string, env: NodeJS.ProcessEnv = process.env): string {
  return isAbsolute(path) ? path : resolve(env.INIT_CWD ?? process.cwd(), path);
}

/** `*` (any origin, the default for open data), `none`, or a comma-separated list of origins. */
const corsOrigins = z
  .string()
  .default('*')
  .transform((v, ctx): true | false | string[] => {
    const s = v.trim();
    if (s === '*' || s === '') return true;
    if (s === 'none') return false;
    const list = s
      .split(',')
      .map((o) => o.trim())
      .filter(Boolean);
    for (const o of list) {
      if (!/^https?:\/\/[^/\s]+$/.test(o)) {
        ctx.addIssue({ code: 'custom', message: `"${o}" is not an origin like https://example.org` });
      }
    }
    return list;
  });

/** The api's environment (CONTRACT §5): every variable, its default for one machine, and what it means. */
export const apiEnvSchema = z.object({
  ...sharedEnv,
  API_PORT: port(8080).describe('HTTP port of the api and the dashboard'),
  API_HOST: z.string().min(1).default('0.0.0.0').describe('address the api listens on'),
  INFLUX_URL: z.url().default('http://127.0.0.1:8086').describe('InfluxDB the api reads'),
  INFLUX_DB: z
    .string()
    .min(1)
    .default('telemetry')
    .describe('InfluxDB 1.x database (bucket when INFLUX_BUCKET unset)'),
  INFLUX_TOKEN: optionalString.describe('InfluxDB 2.x/3.x token'),
  INFLUX_ORG: optionalString.describe('InfluxDB 2.x/3.x organisation'),
  INFLUX_BUCKET: optionalString.describe('InfluxDB 2.x/3.x bucket'),
  INFLUX_USERNAME: optionalString.describe('InfluxDB 1.x user, when its HTTP auth is enabled'),
  INFLUX_PASSWORD: optionalString.describe('InfluxDB 1.x password'),
  BOOTSTRAP_ADMIN_TOKEN: optionalString
    .pipe(z.string().min(16, 'must be at least 16 characters').optional())
    .describe('at first start, creates the admin operator with this bearer token'),
  CSP_MAP_ORIGINS: z
    .string()
    .default('https://tiles.openfreemap.org https://tile.openstreetmap.org')
    .transform((v, ctx) => {
      const list = v.split(/[\s,]+/).filter(Boolean);
      for (const o of list) {
        if (!/^https?:\/\/[^/\s]+$/.test(o))
          ctx.addIssue({ code: 'custom', message: `"${o}" is not an origin like https://tiles.example.org` });
      }
      return list;
    })
    .describe("origins the dashboard's basemap tiles and style come from (Content-Security-Policy)"),
  CORS_ORIGINS: corsOrigins.describe('origins allowed to call the api from a browser: *, none, or a list'),
  DASHBOARD_DIR: optionalString.describe('built dashboard served at / (default ../dashboard/dist from api/)'),
  OPEN_DATA_LICENSE: z.string().min(1).default('ODbL-1.0').describe('licence of the open data served'),
  CITY_TIMEZONE: z
    .string()
    .default('Europe/Paris')
    .refine(isTimeZone, 'must be an IANA time zone, e.g. Europe/Paris')
    .describe("the city's time zone: noise indicators' day, evening and night are local (DST included)"),
  NOISE_PERIODS: z
    .string()
    .default('07-19-23')
    .transform((v, ctx): EndPeriods => {
      const p = parseEndPeriods(v);
      if (!p) {
        ctx.addIssue({
          code: 'custom',
          message: 'must be day-evening-night start hours, e.g. 07-19-23 or 06-18-22',
        });
        return z.NEVER;
      }
      return p;
    })
    .describe('local start hours of the END day, evening and night periods (France: 06-18-22)'),
  NOISE_MIN_COVERAGE: z.coerce
    .number()
    .min(0)
    .max(1)
    .default(0.75)
    .describe("share of a period's hours that must hold a reading for its noise indicator to be complete"),
  RATE_LIMIT_PER_MIN: z.coerce
    .number()
    .int()
    .min(1)
    .default(120)
    .describe('requests per minute and client address on each rate-limited public route'),
  TRUST_PROXY_HOPS: z.coerce
    .number()
    .int()
    .min(0)
    .max(10)
    .default(0)
    .describe(
      'reverse proxies in front of the api (1 behind the shipped HAProxy): the client address is the one ' +
        'that many hops back in X-Forwarded-For, so a client cannot choose its own rate-limit key',
    ),
  TRUST_PROXY: z
    .string()
    .optional()
    .refine((v) => v === undefined || v === '' || ['0', 'false', 'no'].includes(v), {
      message:
        'is replaced by TRUST_PROXY_HOPS (the number of proxies in front: 1 behind the shipped HAProxy); ' +
        'believing every X-Forwarded-For hop let a client pick its own rate-limit key',
    })
    .describe('obsolete: TRUST_PROXY_HOPS'),
  STREAM_MAX_CLIENTS: z.coerce
    .number()
    .int()
    .min(1)
    .default(1000)
    .describe('live streams (GET /api/v1/stream) open at once on this instance; past it 429'),
  STREAM_MAX_PER_ADDRESS: z.coerce
    .number()
    .int()
    .min(1)
    .default(4)
    .describe('live streams open at once from one client address; past it 429'),
  EXPORT_MAX_CONCURRENT: z.coerce
    .number()
    .int()
    .min(1)
    .default(4)
    .describe('open-data exports streamed at once by this instance; past it 429'),
  EXPORT_MAX_ROWS: z.coerce
    .number()
    .int()
    .min(1)
    .default(5_000_000)
    .describe('readings one export may read; past it 413 (a shorter range, a bbox, a device or a metric)'),
  AIRROHR_FREE_FAILURES: z.coerce
    .number()
    .int()
    .min(0)
    .default(5)
    .describe('failed airrohr Basic logins one address may make before it is slowed down'),
  REDIS_URL: optionalString
    .pipe(z.url({ protocol: /^rediss?$/, error: 'must be a redis:// or rediss:// URL' }).optional())
    .describe(
      'cluster mode: rate limits shared by every api instance, and command waits woken across instances',
    ),
  REDIS_KEY_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_:.-]{0,64}$/, 'must be up to 64 of [A-Za-z0-9_:.-]')
    .default('citytel:')
    .describe("prefix of the api's Redis keys and channel (several cities on one Redis)"),
  ...carsharingEnv,
  ...gbfsEnv,
});

export type ApiConfig = Readonly<
  Omit<z.infer<typeof apiEnvSchema>, 'DASHBOARD_DIR'> & {
    /** Absolute. */
    DATA_DIR: string;
    /** Absolute. */
    DASHBOARD_DIR: string;
  }
>;

/** Parses and freezes the api's environment; throws ConfigError naming each wrong variable. */
export function loadApiConfig(env: NodeJS.ProcessEnv = process.env): ApiConfig {
  const c = loadConfig(apiEnvSchema, env);
  return Object.freeze({
    ...c,
    DATA_DIR: resolveFromInvocation(c.DATA_DIR, env),
    DASHBOARD_DIR: c.DASHBOARD_DIR
      ? resolveFromInvocation(c.DASHBOARD_DIR, env)
      : resolve(API_PACKAGE_DIR, '../dashboard/dist'),
  });
}
