import {
  InfluxDB,
  setLogger,
  type Transport,
  type WriteApi,
  type WriteOptions,
} from '@influxdata/influxdb-client';
import type { Logger } from 'pino';
import type { WriterOptions } from './writer.ts';

/** What the writer uses of the client's WriteApiImpl: one request, with the client's retries and gzip. */
interface BatchSender {
  sendBatch(lines: string[], retryAttempts: number): Promise<void>;
}

/** What the client calls back with: a batch written, failed, or dropped from its retry buffer. */
export type WriteHandlers = Pick<WriteOptions, 'writeSuccess' | 'writeFailed' | 'writeRetrySkipped'>;

/** Attempts the client may make of a batch: never the bound; what it would give up on is re-queued. */
export const MAX_RETRIES = 1_000_000_000;

let clientLog: Logger | undefined;
// The client logs every failed attempt of every batch: during an outage that is a flood. Its lines go to
// debug; the writer logs the outage once and the recovery once.
setLogger({
  error: (message, error) => clientLog?.debug({ err: error }, `influxdb-client: ${message}`),
  warn: (message, error) => clientLog?.debug({ err: error }, `influxdb-client: ${message}`),
});

/**
 * The client's WriteApi set up for the writer's batches: the write path of the InfluxDB version, auth,
 * gzip, retries with backoff, every request timed (`onRequestMs`), every outcome given to `handlers`.
 * Returns the api (to dispose of) and its `sendBatch`, which sends one batch as it is.
 */
export function openWriteApi(
  opts: WriterOptions,
  log: Logger,
  handlers: WriteHandlers,
  onRequestMs: (ms: number) => void,
): { api: WriteApi; sendBatch: BatchSender['sendBatch'] } {
  clientLog = log;
  const headers: Record<string, string> = {};
  if (opts.username && !opts.token) {
    headers.Authorization = `Basic ${Buffer.from(`${opts.username}:${opts.password ?? ''}`).toString('base64')}`;
  }
  const influx = new InfluxDB({
    url: opts.url,
    timeout: opts.timeoutMs,
    ...(opts.token ? { token: opts.token } : {}),
  });
  timeTransport(influx.transport, onRequestMs);
  const api: WriteApi = influx.getWriteApi(opts.org ?? '', opts.bucket ?? opts.db, 'ns', {
    // The client's own buffer is not used (batches are made here and sent whole); no timer of its own.
    batchSize: opts.batchLines,
    maxBatchBytes: opts.batchBytes,
    flushInterval: 0,
    gzipThreshold: isLoopback(opts.url) ? Number.POSITIVE_INFINITY : opts.gzipBytes,
    headers,
    maxRetries: MAX_RETRIES,
    // Far away: lines never expire inside the client (and would be taken back if they did).
    maxRetryTime: 365 * 86_400_000,
    maxBufferLines: opts.maxInFlight * 2 + 10_000,
    minRetryDelay: opts.retryMinMs,
    maxRetryDelay: Math.max(opts.retryMinMs, opts.retryMaxMs),
    retryJitter: Math.min(200, opts.retryMinMs),
    exponentialBase: 2,
    ...handlers,
  });
  const path = writePath(opts);
  if (path) api.path = path;
  const sender = api as unknown as Partial<BatchSender>;
  // Not in the WriteApi interface: a client without it must fail here, at start-up, not at the first write.
  if (typeof sender.sendBatch !== 'function')
    throw new Error('@influxdata/influxdb-client: WriteApi has no sendBatch');
  return { api, sendBatch: sender.sendBatch.bind(api) };
}

/**
 * The 1.x write endpoint (Debian's influxd 1.6 has no /api/v2/write), or the v2 one that 2.x and 3.x serve:
 * with an org, the client's own `/api/v2/write?org=&bucket=&precision=ns` (2.x needs the org); without one,
 * InfluxDB 3's form as its own client (influxdb3-js) sends it, `/api/v2/write?bucket=&precision=ns`.
 */
export function writePath(o: Pick<WriterOptions, 'db' | 'token' | 'org' | 'bucket'>): string | undefined {
  if (o.token && o.org) return undefined;
  if (o.token) return `/api/v2/write?bucket=${encodeURIComponent(o.bucket ?? o.db)}&precision=ns`;
  return `/write?db=${encodeURIComponent(o.db)}&precision=ns`;
}

/**
 * Gzip saves bandwidth across a network; to an InfluxDB on the same machine it only costs CPU (ingest's
 * to compress, InfluxDB's to inflate: about a tenth of ingest's time per point in the benchmark), so a
 * loopback URL is never gzipped.
 */
export function isLoopback(url: string): boolean {
  const host = new URL(url).hostname;
  return host === 'localhost' || host === '[::1]' || /^127\./.test(host);
}

/** Times every request the client sends (the WriteApi has no hook of its own for it). */
function timeTransport(transport: Transport, record: (ms: number) => void): void {
  const send = transport.send.bind(transport);
  transport.send = (path, body, options, callbacks) => {
    const t0 = performance.now();
    const done = () => record(performance.now() - t0);
    send(path, body, options, {
      ...callbacks,
      error(e) {
        done();
        callbacks?.error?.(e);
      },
      complete() {
        done();
        callbacks?.complete?.();
      },
    });
  };
}
