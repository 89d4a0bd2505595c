import type { InfluxTarget } from '@citytel/contract';
import type { Logger } from 'pino';
import { type Batch, firstLine, fitBody, growBody, linesOf, newBatch, type Ticket } from './batch.ts';
import { MAX_RETRIES, openWriteApi } from './influx-write-api.ts';
import { encodeReading, type Line } from './points.ts';
import { BATCH_BOUNDS, createSampler, MS_BOUNDS, type Summary } from './sampler.ts';
import { classifyWriteError, requeueDelayMs } from './write-failures.ts';

/**
 * Where to write (the contract's InfluxTarget: `db` is the 1.x database, also the bucket when `bucket` is
 * unset; with a token, writes go to /api/v2/write?org=&bucket=) and how to batch.
 */
export interface WriterOptions extends InfluxTarget {
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

  const { api, sendBatch } = openWriteApi(
    opts,
    log,
    {
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
        if (kind === 'retry' && attempt <= MAX_RETRIES && expires > Date.now()) return undefined;
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
    },
    (ms) => writeMs.add(ms),
  );

  function send(lines: string[]) {
    // Errors are reported to writeFailed, which retries or re-queues; the promise has nothing more to say.
    sendBatch(lines, MAX_RETRIES).catch(() => undefined);
  }

  function flush() {
    if (flushTimer !== undefined) {
      clearTimeout(flushTimer);
      flushTimer = undefined;
    }
    const b = open;
    open = undefined;
    if (!b || closed) return;
    fitBody(b);
    b.lines = linesOf(b.body, b.bytes, b.count);
    batches.set(b.lines, b);
    send(b.lines);
  }

  /** Opens a batch whose first line is `line`, with room for at least `room` bytes. */
  function start(line: Line, room: number): Batch {
    const b = newBatch(line, Math.max(bodyCap, room * 3));
    open = b;
    flushTimer = setTimeout(flush, opts.flushMs);
    return b;
  }

  function requeue(lines: string[], error?: Error) {
    holdFailures++;
    const delay = requeueDelayMs(holdFailures, error, opts.retryMinMs, opts.retryMaxMs);
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
        if (b.body.length - b.bytes < room) bodyCap = growBody(b, room);
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
