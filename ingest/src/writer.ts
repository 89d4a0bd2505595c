import { HttpError, InfluxDB, setLogger, type Transport, type WriteApi } from '@influxdata/influxdb-client';
import type { Logger } from 'pino';
import { encodeReading, type Line, lineText } from './points.ts';
import { BATCH_BOUNDS, createSampler, MS_BOUNDS, type Summary } from './sampler.ts';

export interface WriterOptions {
  url: string;
  /** 1.x database; also the bucket when `bucket` is unset. */
  db: string;
  /** 2.x / 3.x: with a token, writes go to /api/v2/write?org=&bucket=. */
  token?: string | undefined;
  org?: string | undefined;
  bucket?: string | undefined;
  /** 1.x HTTP auth. */
  username?: string | undefined;
  password?: string | undefined;
  batchLines: number;
  batchBytes: number;
  flushMs: number;
  gzipBytes: number;
  /** The most lines this writer will ever hold; the caller stops feeding it there (see `waitBelow`). */
  maxInFlight: number;
  retryMinMs: number;
  retryMaxMs: number;
  timeoutMs: number;
}

export interface WriterStats {
  /** Lines accepted and not yet written: in the batch buffer, on the wire, or waiting for a retry. */
  pending: number;
  written: number;
  /** Lines InfluxDB refused for good (400/422: a type conflict, a limit); acknowledged, counted, logged. */
  refused: number;
  batches: number;
  batchLines: Summary;
  /** HTTP round trip of each write attempt. */
  writeMs: Summary;
  /** From a message's lines entering the writer to the last of them written. */
  queueMs: Summary;
  failedAttempts: number;
  /** Lines the client would have given up on and the writer re-queued instead. */
  requeued: number;
  up: boolean;
  lastError: string | null;
}

export interface Writer {
  /**
   * Queues lines; `done(arg)` runs once, after every one of them is written (or refused for good). The
   * argument spares a caller a closure per message.
   */
  write<A>(lines: readonly Line[], done: (arg: A) => void, arg: A): void;
  write(lines: readonly Line[], done: () => void): void;
  pending(): number;
  /** Resolves once fewer than `n` lines are pending (or the writer is closed). */
  waitBelow(n: number): Promise<void>;
  /** Waits until nothing is pending or `timeoutMs` passed; true when everything was written. */
  drain(timeoutMs: number): Promise<boolean>;
  /** Stops writing; lines still pending are abandoned (their messages were not acknowledged). */
  close(): void;
  stats(): WriterStats;
}

interface Ticket {
  left: number;
  done: (arg: unknown) => void;
  arg: unknown;
  t0: number;
}

/**
 * One write request: its body, written into one Buffer as its lines arrive (no line kept, no `join` of the
 * batch, no second copy into a Buffer), and which messages its lines belong to (`counts[i]` lines of
 * `tickets[i]`). What the client is given is `lines`: an array of the batch's length whose `join` returns
 * that body (the client's `sendBatch` only reads `length`, calls `join('\n')` and hands the same array back
 * to writeSuccess / writeFailed, on retries too), so a finished request finds its messages by identity
 * instead of looking every line up.
 */
interface Batch {
  lines: BatchLines;
  /** Lines written into `body` so far. */
  count: number;
  body: Buffer;
  /** Bytes of `body` used, each line with its `\n`. */
  bytes: number;
  /** The first line, for the log of a refused batch. */
  first: Line;
  tickets: Ticket[];
  counts: number[];
}

/** The stand-in for a batch's lines handed to the client: `length` lines, `join` gives the body. */
type BatchLines = string[];

/**
 * The array the client gets for a batch: `count` (empty) slots, and a `join` of its own that returns the body
 * without its last `\n`. The transport takes the Buffer as it would the joined string (`Buffer.from`).
 */
function linesOf(body: Buffer, bytes: number, count: number): BatchLines {
  const lines = new Array<string>(count);
  const text = body.subarray(0, Math.max(0, bytes - 1));
  Object.defineProperty(lines, 'join', { value: () => text, enumerable: false });
  return lines;
}

/** What the writer uses of the client's WriteApiImpl: one request, with the client's retries and gzip. */
interface BatchSender {
  sendBatch(lines: string[], retryAttempts: number): Promise<void>;
}

type Failure = 'retry' | 'hold' | 'refused';

/**
 * What to do with a failed write. InfluxDB refusing the data itself (400 with a type conflict or a limit,
 * 422) will refuse it again: those lines are dropped, counted and logged. A server down, slow or overloaded
 * (network errors, 429, 5xx) is retried by the client. Anything else (401/403 bad credentials, 404 no such
 * database, 413 batch too large) is an operator's fix away: the lines are held and retried, never lost.
 */
export function classifyWriteError(err: Error): Failure {
  if (!(err instanceof HttpError)) return 'retry';
  if (err.statusCode === 400 || err.statusCode === 422) return 'refused';
  return err.statusCode >= 429 ? 'retry' : 'hold';
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

const EMPTY: BatchLines = [];

let clientLog: Logger | undefined;
// The client logs every failed attempt of every batch: during an outage that is a flood. Its lines go to
// debug; the writer logs the outage once and the recovery once.
setLogger({
  error: (message, error) => clientLog?.debug({ err: error }, `influxdb-client: ${message}`),
  warn: (message, error) => clientLog?.debug({ err: error }, `influxdb-client: ${message}`),
});

/**
 * Lines are batched here (by lines, bytes and time) and each batch is sent through
 * @influxdata/influxdb-client's WriteApi (`sendBatch`: its HTTP transport, gzip and retries with backoff).
 * Batching here rather than in the client's WriteBuffer keeps each batch's messages beside its lines, so a
 * written batch settles its messages without a lookup per line (that lookup, a Map keyed by line text, was
 * the writer's main cost). The client's retry buffer drops the oldest lines past `maxBufferLines`; here it
 * can never fill, because every line in it is also counted as pending and the caller stops feeding the
 * writer at `maxInFlight` (the buffer is sized above that bound). Failures the client would give up on
 * (retries exhausted, non-retryable statuses) are taken back through `writeFailed` and the same batch is
 * sent again after a backoff.
 */
export function createWriter(opts: WriterOptions, log: Logger): Writer {
  clientLog = log;
  const batches = new Map<string[], Batch>();
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  const timers = new Set<NodeJS.Timeout>();
  const batchLines = createSampler(2048, BATCH_BOUNDS);
  const writeMs = createSampler(2048, MS_BOUNDS);
  const queueMs = createSampler(2048, MS_BOUNDS);
  const s = { pending: 0, written: 0, refused: 0, batches: 0, failedAttempts: 0, requeued: 0 };
  let up = true;
  let lastError: string | null = null;
  let holdFailures = 0;
  let closed = false;
  let open: Batch | undefined;
  /** Capacity of the last batch's body: the next one starts at it, so a steady stream never grows one. */
  let bodyCap = 64 * 1024;
  let flushTimer: NodeJS.Timeout | undefined;

  const maxRetries = 1_000_000_000;
  const headers: Record<string, string> = {};
  if (opts.username && !opts.token) {
    headers.Authorization = `Basic ${Buffer.from(`${opts.username}:${opts.password ?? ''}`).toString('base64')}`;
  }
  const influx = new InfluxDB({
    url: opts.url,
    timeout: opts.timeoutMs,
    ...(opts.token ? { token: opts.token } : {}),
  });
  timeTransport(influx.transport, (ms) => writeMs.add(ms));
  const api: WriteApi = influx.getWriteApi(opts.org ?? '', opts.bucket ?? opts.db, 'ns', {
    // The client's own buffer is not used (batches are made here and sent whole); no timer of its own.
    batchSize: opts.batchLines,
    maxBatchBytes: opts.batchBytes,
    flushInterval: 0,
    gzipThreshold: isLoopback(opts.url) ? Number.POSITIVE_INFINITY : opts.gzipBytes,
    headers,
    maxRetries,
    // Far away: lines never expire inside the client (and would be taken back if they did).
    maxRetryTime: 365 * 86_400_000,
    maxBufferLines: opts.maxInFlight * 2 + 10_000,
    minRetryDelay: opts.retryMinMs,
    maxRetryDelay: Math.max(opts.retryMinMs, opts.retryMaxMs),
    retryJitter: Math.min(200, opts.retryMinMs),
    exponentialBase: 2,
    writeSuccess(lines) {
      if (!up) log.info({ pending: s.pending }, 'InfluxDB writes succeed again');
      up = true;
      holdFailures = 0;
      s.batches++;
      batchLines.add(lines.length);
      settle(lines);
      s.written += lines.length;
    },
    writeFailed(error, lines, attempt, expires) {
      if (closed) return Promise.resolve();
      s.failedAttempts++;
      lastError = error.message.slice(0, 300);
      const kind = classifyWriteError(error);
      if (kind === 'refused') {
        log.error(
          { err: error, lines: lines.length, first: firstLine(batches.get(lines)) },
          'InfluxDB refused points',
        );
        s.refused += lines.length;
        settle(lines);
        return Promise.resolve();
      }
      if (up)
        log.warn({ err: error, pending: s.pending }, 'InfluxDB write failed; holding points and retrying');
      up = false;
      if (kind === 'retry' && attempt <= maxRetries && expires > Date.now()) return undefined;
      requeue(lines, error);
      return Promise.resolve();
    },
    writeRetrySkipped(entry) {
      // Unreachable while pending stays under maxInFlight; if it ever happens, nothing is dropped.
      log.error(
        { lines: entry.lines.length },
        'client retry buffer overflowed; re-queueing its oldest lines',
      );
      requeue(entry.lines);
    },
  });
  const path = writePath(opts);
  if (path) api.path = path;
  const sender = api as unknown as Partial<BatchSender>;
  // Not in the WriteApi interface: a client without it must fail here, at start-up, not at the first write.
  if (typeof sender.sendBatch !== 'function')
    throw new Error('@influxdata/influxdb-client: WriteApi has no sendBatch');
  const sendBatch = sender.sendBatch.bind(api);

  function send(lines: string[]) {
    // Errors are reported to writeFailed, which retries or re-queues; the promise has nothing more to say.
    sendBatch(lines, maxRetries).catch(() => undefined);
  }

  function flush() {
    if (flushTimer !== undefined) {
      clearTimeout(flushTimer);
      flushTimer = undefined;
    }
    const b = open;
    open = undefined;
    if (!b || closed) return;
    // A batch flushed by time before it filled keeps only what it used: held through an outage, many
    // small batches must not each keep a body sized for a full one.
    if (b.bytes * 2 < b.body.length) {
      const exact = Buffer.allocUnsafe(b.bytes);
      b.body.copy(exact, 0, 0, b.bytes);
      b.body = exact;
    }
    b.lines = linesOf(b.body, b.bytes, b.count);
    batches.set(b.lines, b);
    send(b.lines);
  }

  /** Opens a batch whose first line is `line`, with room for at least `room` bytes. */
  function start(line: Line, room: number): Batch {
    const b: Batch = {
      lines: EMPTY,
      count: 0,
      body: Buffer.allocUnsafe(Math.max(bodyCap, room * 3)),
      bytes: 0,
      first: line,
      tickets: [],
      counts: [],
    };
    open = b;
    flushTimer = setTimeout(flush, opts.flushMs);
    return b;
  }

  function grow(b: Batch, room: number) {
    const grown = Buffer.allocUnsafe(Math.max(b.body.length * 2, b.bytes + room));
    b.body.copy(grown, 0, 0, b.bytes);
    b.body = grown;
    bodyCap = grown.length;
  }

  function requeue(lines: string[], error?: Error) {
    holdFailures++;
    const after = error instanceof HttpError ? error.retryAfter() : 0;
    const delay = Math.max(
      after,
      Math.min(opts.retryMaxMs, opts.retryMinMs * 2 ** Math.min(holdFailures - 1, 20)),
    );
    s.requeued += lines.length;
    const t = setTimeout(() => {
      timers.delete(t);
      if (closed) return;
      // A batch made here goes again whole (same array, so it still finds its messages); lines the
      // client's retry buffer gave up on are matched by the batch they came from, so the same holds.
      send(lines);
    }, delay);
    timers.add(t);
  }

  function settle(lines: string[]) {
    const b = batches.get(lines);
    if (!b) return;
    batches.delete(lines);
    const t = performance.now();
    for (let i = 0; i < b.tickets.length; i++) {
      const ticket = b.tickets[i]!;
      ticket.left -= b.counts[i]!;
      if (ticket.left === 0) {
        queueMs.add(t - ticket.t0);
        ticket.done(ticket.arg);
      }
    }
    s.pending -= lines.length;
    wake();
  }

  function wake() {
    for (let i = waiters.length - 1; i >= 0; i--) {
      const w = waiters[i]!;
      if (closed || s.pending < w.n) {
        waiters.splice(i, 1);
        w.resolve();
      }
    }
  }

  return {
    write(lines: readonly Line[], done: (arg: unknown) => void, arg?: unknown) {
      if (closed) throw new Error('writer is closed');
      if (lines.length === 0) return done(arg);
      const ticket: Ticket = { left: lines.length, done, arg, t0: performance.now() };
      s.pending += lines.length;
      for (let i = 0; i < lines.length; i++) {
        const line = lines[i]!;
        // Room enough for the line: a string as UTF-8 at worst (lines are ASCII: ids, geohashes, numbers
        // and fixed words, but one that were not would still be written whole), a point at its longest.
        const room = typeof line === 'string' ? line.length * 3 + 1 : line.series.maxBytes;
        let b = open ?? start(line, room);
        if (b.body.length - b.bytes < room) grow(b, room);
        const at = b.bytes;
        let end =
          typeof line === 'string' ? at + b.body.write(line, at, 'utf8') : encodeReading(line, b.body, at);
        b.body[end++] = 10;
        // Written where the batch ends, then measured: a batch that would pass its byte bound is sent
        // without this line, which starts the next one.
        if (b.count > 0 && end > opts.batchBytes) {
          const from = b.body;
          flush();
          b = start(line, end - at);
          from.copy(b.body, 0, at, end);
          end -= at;
        }
        b.bytes = end;
        const last = b.tickets.length - 1;
        if (last >= 0 && b.tickets[last] === ticket) b.counts[last]!++;
        else {
          b.tickets.push(ticket);
          b.counts.push(1);
        }
        b.count++;
        if (b.count >= opts.batchLines) flush();
      }
    },
    pending: () => s.pending,
    waitBelow(n) {
      if (closed || s.pending < n) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ n, resolve }));
    },
    async drain(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      flush();
      while (s.pending > 0 && Date.now() < deadline && !closed) {
        await new Promise((r) => setTimeout(r, 20));
      }
      return s.pending === 0;
    },
    close() {
      if (closed) return;
      closed = true;
      if (flushTimer !== undefined) clearTimeout(flushTimer);
      for (const t of timers) clearTimeout(t);
      timers.clear();
      const left = api.dispose() + (open?.count ?? 0);
      if (s.pending > 0)
        log.warn(
          { pending: s.pending, buffered: left },
          'writer closed with unwritten points (not acknowledged)',
        );
      wake();
    },
    stats: () => ({
      ...s,
      batchLines: batchLines.summary(),
      writeMs: writeMs.summary(),
      queueMs: queueMs.summary(),
      up,
      lastError,
    }),
  };
}

const firstLine = (b: Batch | undefined) => (b ? lineText(b.first).slice(0, 300) : undefined);

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
