import { ensureInfluxDatabase, influxTarget } from '@citytel/contract';
import type { ApiConfig } from './config.ts';

export interface InfluxSeries {
  name: string;
  columns: string[];
  values: unknown[][];
  tags?: Record<string, string>;
}

/**
 * What the api needs of InfluxDB. Reads use InfluxQL over `/query`: InfluxDB 1.x speaks it natively and
 * 2.x/3.x through their v1 compatibility endpoint (database = bucket, token auth), so one query language
 * serves every supported server.
 */
export interface InfluxClient {
  readonly url: string;
  /** Database (1.x) or bucket (2.x/3.x) the readings live in. */
  readonly db: string;
  /** Resolves when `/ping` answers 204; throws otherwise. */
  ping(timeoutMs?: number): Promise<void>;
  /**
   * Resolves when InfluxDB answers and holds the database, made here when missing and allowed (contract's
   * influx-setup.ts); throws with what is wrong and what to run otherwise. Once it holds it, only pings.
   */
  ready?(timeoutMs?: number): Promise<void>;
  /** Runs one InfluxQL statement with bound parameters (`$name` in the query) and returns its series. */
  query(
    q: string,
    opts?: { params?: Record<string, string | number | boolean>; timeoutMs?: number },
  ): Promise<InfluxSeries[]>;
}

export class InfluxQueryError extends Error {
  override name = 'InfluxQueryError';
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

type InfluxConfig = Pick<ApiConfig, 'INFLUX_URL' | 'INFLUX_DB' | 'INFLUX_TOKEN' | 'INFLUX_BUCKET'> &
  Partial<Pick<ApiConfig, 'INFLUX_ORG' | 'INFLUX_USERNAME' | 'INFLUX_PASSWORD'>>;

export function createInfluxClient(config: InfluxConfig): InfluxClient {
  const url = config.INFLUX_URL.replace(/\/+$/, '');
  const db = config.INFLUX_BUCKET ?? config.INFLUX_DB;
  const headers = influxAuthHeaders(config.INFLUX_TOKEN, config.INFLUX_USERNAME, config.INFLUX_PASSWORD);
  let holdsDatabase = false;
  const client: InfluxClient = {
    url,
    db,
    async ready(timeoutMs = 2000) {
      if (holdsDatabase) return client.ping(timeoutMs);
      const r = await ensureInfluxDatabase(influxTarget(config, url));
      if (r.state !== 'ready') throw new InfluxQueryError(r.message);
      holdsDatabase = true;
    },
    async ping(timeoutMs = 2000) {
      const r = await fetch(`${url}/ping`, { headers, signal: AbortSignal.timeout(timeoutMs) });
      await r.body?.cancel();
      // 204 from 1.x and 2.x; 200 with its version in JSON from InfluxDB 3.
      if (r.status !== 204 && r.status !== 200)
        throw new InfluxQueryError(`/ping answered ${r.status}`, r.status);
    },
    async query(q, opts = {}) {
      const form = new URLSearchParams({ db, q, epoch: 'ms' });
      if (opts.params) form.set('params', JSON.stringify(opts.params));
      const signal = AbortSignal.timeout(opts.timeoutMs ?? 30_000);
      // InfluxDB 3 serves the v1 /query for GET only, with the parameters in the URL (2.x takes either).
      const r = config.INFLUX_TOKEN
        ? await fetch(`${url}/query?${form}`, { headers, signal })
        : await fetch(`${url}/query`, {
            method: 'POST',
            headers: { ...headers, 'Content-Type': 'application/x-www-form-urlencoded' },
            body: form,
            signal,
          });
      const text = await r.text();
      let body: { results?: Array<{ series?: InfluxSeries[]; error?: string }>; error?: string };
      try {
        body = JSON.parse(text);
      } catch {
        throw new InfluxQueryError(`InfluxDB answered ${r.status}: ${text.slice(0, 200)}`, r.status);
      }
      const error = body.error ?? body.results?.[0]?.error;
      if (!r.ok || error) throw new InfluxQueryError(error ?? `InfluxDB answered ${r.status}`, r.status);
      return body.results?.[0]?.series ?? [];
    },
  };
  return client;
}

/** `Authorization` for InfluxDB: `Token` (2.x/3.x), Basic (1.x with auth enabled), or none. */
export function influxAuthHeaders(
  token: string | undefined,
  username: string | undefined,
  password: string | undefined,
): Record<string, string> {
  if (token) return { Authorization: `Token ${token}` };
  if (username)
    return { Authorization: `Basic ${Buffer.from(`${username}:${password ?? ''}`).toString('base64')}` };
  return {};
}
