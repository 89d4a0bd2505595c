/**
 * The api's InfluxDB client: InfluxQL over `/query` and line protocol over `/write`, the two endpoints
 * InfluxDB 1.x serves natively and 2.x / 3.x serve as their v1 compatibility API (database = bucket, with
 * `Authorization: Token`). No retries: a read that fails is answered 503 and the client retries, and a
 * rollup write that fails is redone on the job's next run.
 */

export interface InfluxSeries {
  name: string;
  columns: string[];
  values: unknown[][];
  tags?: Record<string, string>;
}

export interface InfluxQueryOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface InfluxQuery {
  readonly url: string;
  /** Database (1.x) or bucket (2.x/3.x). */
  readonly db: string;
  /** Runs one statement; its series, in InfluxDB's order (epoch ms times). */
  query(q: string, opts?: InfluxQueryOptions): Promise<InfluxSeries[]>;
  /**
   * Runs one statement in chunked mode and yields each chunk's series as it arrives, so a large result
   * never sits in memory whole (InfluxDB 1.x and 2.x compat send one JSON object per line).
   */
  queryChunks(q: string, opts?: InfluxQueryOptions & { chunkSize?: number }): AsyncIterable<InfluxSeries[]>;
  /** Writes line protocol with millisecond timestamps, into `rp` (1.x) when given. */
  write(lines: string, opts?: InfluxQueryOptions & { rp?: string | undefined }): Promise<void>;
  /** Resolves when `/ping` answers 204. */
  ping(timeoutMs?: number): Promise<void>;
}

export type InfluxErrorKind = 'unavailable' | 'timeout' | 'query' | 'missing';

/**
 * `unavailable`: no answer or a 5xx (routes answer 503). `timeout`: no answer in time (503). `query`:
 * InfluxDB refused the statement (4xx or a statement error): a bug of ours, answered 500. `missing`: the
 * database does not exist or these credentials may not read it (503, saying which variable to fix).
 */
export class InfluxError extends Error {
  override name = 'InfluxError';
  constructor(
    readonly kind: InfluxErrorKind,
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface InfluxQueryConfig {
  url: string;
  db: string;
  /** 2.x / 3.x token, sent as `Authorization: Token ...`. */
  token?: string | undefined;
  /** 1.x user and password, when its HTTP auth is enabled (Basic). */
  username?: string | undefined;
  password?: string | undefined;
  /** Default per-request timeout (30 s). */
  timeoutMs?: number;
}

interface QueryBody {
  results?: Array<{ series?: InfluxSeries[]; error?: string; partial?: boolean }>;
  error?: string;
}

export function createInfluxQuery(config: InfluxQueryConfig): InfluxQuery {
  const url = config.url.replace(/\/+$/, '');
  const { db } = config;
  const auth: Record<string, string> = config.token
    ? { Authorization: `Token ${config.token}` }
    : config.username
      ? {
          Authorization: `Basic ${Buffer.from(`${config.username}:${config.password ?? ''}`).toString('base64')}`,
        }
      : {};
  const defaultTimeout = config.timeoutMs ?? 30_000;

  const signalFor = (opts: InfluxQueryOptions | undefined): AbortSignal => {
    const t = AbortSignal.timeout(opts?.timeoutMs ?? defaultTimeout);
    return opts?.signal ? AbortSignal.any([t, opts.signal]) : t;
  };

  const send = async (
    path: string,
    init: RequestInit,
    opts: InfluxQueryOptions | undefined,
  ): Promise<Response> => {
    try {
      return await fetch(`${url}${path}`, { ...init, signal: signalFor(opts) });
    } catch (err) {
      throw transportError(err);
    }
  };

  // InfluxDB 3 serves the v1 /query for GET only, reading the URL's parameters (2.x takes either): with a
  // token the statement goes in the URL. 1.x keeps the POST form, which its write statements
  // (CREATE RETENTION POLICY) require.
  const post = (params: Record<string, string>, opts: InfluxQueryOptions | undefined) =>
    config.token
      ? send(`/query?${new URLSearchParams({ db, epoch: 'ms', ...params })}`, { headers: auth }, opts)
      : send(
          '/query',
          {
            method: 'POST',
            headers: { ...auth, 'Content-Type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams({ db, epoch: 'ms', ...params }),
          },
          opts,
        );

  return {
    url,
    db,

    async query(q, opts) {
      const r = await post({ q }, opts);
      const text = await readText(r);
      return seriesOf(parseBody(r.status, text, db));
    },

    async *queryChunks(q, opts = {}) {
      const r = await post({ q, chunked: 'true', chunk_size: String(opts.chunkSize ?? 10_000) }, opts);
      if (!r.ok || !r.body) {
        seriesOf(parseBody(r.status, await readText(r), db));
        return;
      }
      const decoder = new TextDecoder();
      // Pieces of the current line: a chunk of 5000 points is ~300 KB and arrives in many reads, so each
      // read is searched for the newline once, and joined only when its line is complete.
      let pieces: string[] = [];
      try {
        for await (const bytes of r.body as AsyncIterable<Uint8Array>) {
          let text = decoder.decode(bytes, { stream: true });
          let nl = text.indexOf('\n');
          while (nl >= 0) {
            pieces.push(text.slice(0, nl));
            const line = pieces.join('');
            pieces = [];
            text = text.slice(nl + 1);
            if (line.trim()) yield seriesOf(parseBody(r.status, line, db));
            nl = text.indexOf('\n');
          }
          if (text) pieces.push(text);
        }
      } catch (err) {
        throw err instanceof InfluxError ? err : transportError(err);
      }
      const rest = pieces.join('');
      if (rest.trim()) yield seriesOf(parseBody(r.status, rest, db));
    },

    async write(lines, opts) {
      const r = await send(
        `/write?${new URLSearchParams({ db, precision: 'ms', ...(opts?.rp ? { rp: opts.rp } : {}) })}`,
        { method: 'POST', headers: { ...auth, 'Content-Type': 'text/plain; charset=utf-8' }, body: lines },
        opts,
      );
      const text = await readText(r);
      if (r.status === 204 || r.status === 200) return;
      const missing = missingDatabase(r.status, text, db);
      if (missing) throw missing;
      throw new InfluxError(
        r.status >= 500 ? 'unavailable' : 'query',
        `/write answered ${r.status}: ${text.slice(0, 300)}`,
        r.status,
      );
    },

    async ping(timeoutMs = 2000) {
      const r = await send('/ping', { headers: auth }, { timeoutMs });
      await r.body?.cancel();
      // 204 from 1.x and 2.x; 200 with its version in JSON from InfluxDB 3.
      if (r.status !== 204 && r.status !== 200)
        throw new InfluxError('unavailable', `/ping answered ${r.status}`, r.status);
    },
  };
}

async function readText(r: Response): Promise<string> {
  try {
    return await r.text();
  } catch (err) {
    throw transportError(err);
  }
}

function transportError(err: unknown): InfluxError {
  const e = err as Error & { cause?: { code?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError')
    return new InfluxError('timeout', 'InfluxDB did not answer in time');
  return new InfluxError('unavailable', `InfluxDB unreachable: ${e.cause?.code ?? e.message}`);
}

/**
 * The database is missing (1.x "database not found", 2.x/3.x "bucket/database not found") or the
 * credentials may not use it (401/403): an operator's fix, named here, and a 503 to clients meanwhile.
 */
function missingDatabase(status: number, text: string, db: string): InfluxError | undefined {
  if (status === 401 || status === 403)
    return new InfluxError(
      'missing',
      `InfluxDB refused the api's credentials for "${db}" (${status}): check INFLUX_USERNAME/INFLUX_PASSWORD or INFLUX_TOKEN`,
      status,
    );
  if (/(database|bucket)( "[^"]*")? not found/i.test(text))
    return new InfluxError(
      'missing',
      `InfluxDB has no database "${db}" (INFLUX_DB): start ingest or the api with a user allowed to create it, or run CREATE DATABASE "${db}" as an InfluxDB admin`,
      status,
    );
  return undefined;
}

function parseBody(status: number, text: string, db = ''): QueryBody {
  const missing = missingDatabase(status, text, db);
  if (missing) throw missing;
  let body: QueryBody;
  try {
    body = JSON.parse(text) as QueryBody;
  } catch {
    throw new InfluxError(
      status >= 500 ? 'unavailable' : 'query',
      `InfluxDB answered ${status}: ${text.slice(0, 200)}`,
      status,
    );
  }
  const error = body.error ?? body.results?.find((r) => r.error)?.error;
  if (status >= 500) throw new InfluxError('unavailable', error ?? `InfluxDB answered ${status}`, status);
  if (status >= 400 || error) throw new InfluxError('query', error ?? `InfluxDB answered ${status}`, status);
  return body;
}

const seriesOf = (body: QueryBody): InfluxSeries[] => body.results?.[0]?.series ?? [];

/** Rows of a series as objects keyed by column, tags merged in. */
export function rowsOf(series: InfluxSeries): Array<Record<string, unknown>> {
  return series.values.map((v) => {
    const row: Record<string, unknown> = { ...series.tags };
    for (let i = 0; i < series.columns.length; i++) row[series.columns[i]!] = v[i];
    return row;
  });
}
