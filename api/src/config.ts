import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, optionalString, port, sharedEnv } from '@citytel/contract';
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
  BOOTSTRAP_ADMIN_TOKEN: optionalString
    .pipe(z.string().min(16, 'must be at least 16 characters').optional())
    .describe('at first start, creates the admin operator with this bearer token'),
  CORS_ORIGINS: corsOrigins.describe('origins allowed to call the api from a browser: *, none, or a list'),
  DASHBOARD_DIR: optionalString.describe('built dashboard served at / (default ../dashboard/dist from api/)'),
  OPEN_DATA_LICENSE: z.string().min(1).default('ODbL-1.0').describe('licence of the open data served'),
  RATE_LIMIT_PER_MIN: z.coerce
    .number()
    .int()
    .min(1)
    .default(120)
    .describe('requests per minute and client address on each rate-limited public route'),
  TRUST_PROXY: z
    .enum(['1', '0', 'true', 'false', 'yes', 'no'])
    .default('false')
    .transform((v) => v === '1' || v === 'true' || v === 'yes')
    .describe('behind a reverse proxy: take the client address from X-Forwarded-For'),
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
