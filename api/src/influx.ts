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

type InfluxConfig = Pick<ApiConfig, 'INFLUX_URL' | 'INFLUX_DB' | 'INFLUX_TOKEN' | 'INFLUX_BUCKET'>;

export function createInfluxClient(config: InfluxConfig): InfluxClient {
  const url = config.INFLUX_URL.replace(/\/+$/, '');
  const db = config.INFLUX_BUCKET ?? config.INFLUX_DB;
  const headers: Record<string, string> = config.INFLUX_TOKEN
    ? { Authorization: `Token ${config.INFLUX_TOKEN}` }
    : {};
  return {
    url,
    db,
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
}
