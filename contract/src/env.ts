import { z } from 'zod';

/**
 * Parses a process's environment with its zod schema and freezes the result. A wrong value stops the
 * process with a message naming the variable (CONTRACT §5).
 */
export function loadConfig<S extends z.ZodObject>(
  schema: S,
  env: NodeJS.ProcessEnv = process.env,
): Readonly<z.infer<S>> {
  const result = schema.safeParse(env);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.') || '(env)'}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const data = result.data as Record<string, unknown>;
  if (typeof data.DATA_DIR === 'string') data.DATA_DIR = fromInvocationDir(data.DATA_DIR, env);
  return Object.freeze(result.data);
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);
export const optionalPort = z.coerce.number().int().min(0).max(65535).optional();
export const logLevel = z
  .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  .default('info');
export const boolFlag = (fallback: boolean) =>
  z
    .enum(['1', '0', 'true', 'false', 'yes', 'no'])
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === '1' || v === 'true' || v === 'yes');
/** Empty strings count as unset, as shells and compose files often pass them. */
export const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === '' ? undefined : v));

/**
 * A relative path is taken from where the user typed the command: npm sets INIT_CWD there, while
 * `npm start -w broker` runs the process inside broker/. So every process finds the same `.data`.
 * (No node:path here: the dashboard imports this package too; it never calls this.)
 */
export function fromInvocationDir(path: string, env: NodeJS.ProcessEnv = process.env): string {
  if (path.startsWith('/')) return path;
  const base = env.INIT_CWD ?? process.cwd();
  return `${base.replace(/\/$/, '')}/${path.replace(/^\.\//, '')}`;
}

/** Variables several processes read (CONTRACT §5), with their defaults for one machine. */
export const sharedEnv = {
  DATA_DIR: z.string().min(1).default('.data'),
  LOG_LEVEL: logLevel,
  MQTT_PORT: port(1883),
  MQTT_URL: optionalString.pipe(z.url().optional()),
  DATABASE_URL: optionalString,
  /** Password of the platform's MQTT service accounts; on one machine it is made once under DATA_DIR. */
  MQTT_SERVICE_SECRET: optionalString,
};

export const mqttUrlOf = (c: { MQTT_URL?: string | undefined; MQTT_PORT: number }): string =>
  c.MQTT_URL ?? `mqtt://127.0.0.1:${c.MQTT_PORT}`;
