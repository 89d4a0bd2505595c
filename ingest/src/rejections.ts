import { maskClientId, maskTopic, type RejectionReason } from '@citytel/contract';
import type { Rejection, RejectionRepo } from '@citytel/store';
import type { Logger } from 'pino';
import type { Outcome } from './outcome.ts';

const MINUTE = 60_000;
/** Rows a device may add to the store per minute: a kit stuck sending garbage cannot flood it. */
const ROWS_PER_DEVICE_MINUTE = 10;
/** Rows waiting for the next store write, at most; beyond it the oldest are dropped (and counted). */
const MAX_QUEUED_ROWS = 5000;
const SAMPLE_CHARS = 512;

export interface RejectionStats {
  /** Whole messages refused, by reason. */
  messages: Partial<Record<RejectionReason, number>>;
  /** Fields dropped from messages otherwise kept (and fields explaining a refusal), by reason. */
  fields: Partial<Record<RejectionReason, number>>;
  /** Store rows dropped because the store could not keep up. */
  rowsDropped: number;
}

export interface Rejections {
  /** Counts, logs (once per device per minute) and queues for the store whatever the outcome refused. */
  record(outcome: Outcome): void;
  /** Writes queued rows to the store now. */
  flush(): Promise<void>;
  start(): void;
  stop(): Promise<void>;
  stats(): RejectionStats;
}

interface Window {
  start: number;
  suppressed: number;
  rows: number;
}

/**
 * Every rejection is counted by reason. A device's rejections are logged at most once a minute, with the
 * count of those suppressed since; the newest are kept in the store for `GET /devices/{id}/rejections`.
 */
export function createRejections(opts: {
  store?: RejectionRepo | undefined;
  keep: number;
  log: Logger;
  flushMs?: number;
  now?: () => number;
}): Rejections {
  const now = opts.now ?? Date.now;
  const log = opts.log;
  const counts: RejectionStats = { messages: {}, fields: {}, rowsDropped: 0 };
  const windows = new Map<string, Window>();
  let queue: Rejection[] = [];
  let timer: NodeJS.Timeout | undefined;
  let flushing: Promise<void> = Promise.resolve();

  const bump = (m: Partial<Record<RejectionReason, number>>, r: RejectionReason) => {
    m[r] = (m[r] ?? 0) + 1;
  };

  /** The device's current minute; `suppressed` is set when a new minute starts, from the one before. */
  function windowOf(key: string, t: number): { w: Window; suppressed?: number } {
    const old = windows.get(key);
    if (old && t - old.start < MINUTE) return { w: old };
    if (!old && windows.size >= 100_000) sweep(t);
    const w = { start: t, suppressed: 0, rows: 0 };
    windows.set(key, w);
    return { w, suppressed: old?.suppressed ?? 0 };
  }

  function sweep(t: number) {
    for (const [k, w] of windows) if (t - w.start >= MINUTE) windows.delete(k);
  }

  function record(o: Outcome) {
    if (!o.rejected && o.fields.length === 0) return;
    if (o.rejected) bump(counts.messages, o.rejected.reason);
    for (const f of o.fields) bump(counts.fields, f.reason);
    const t = now();
    const key = o.deviceId ?? o.owner;
    const { w, suppressed } = windowOf(key, t);
    if (suppressed !== undefined) {
      log.warn(
        {
          device: o.deviceId ?? maskClientId(o.owner),
          topic: maskTopic(o.topic),
          reason: o.rejected?.reason,
          detail: o.rejected?.detail,
          fields: o.fields.slice(0, 5),
          suppressed,
        },
        o.rejected ? 'message rejected' : 'fields rejected',
      );
    } else w.suppressed++;
    if (!o.deviceId || !opts.store || w.rows >= ROWS_PER_DEVICE_MINUTE) return;
    w.rows++;
    const first = o.rejected ?? o.fields[0]!;
    const details = o.fields.map((f) => `${f.field}: ${f.detail}`);
    if (o.rejected) details.unshift(o.rejected.detail);
    queue.push({
      deviceId: o.deviceId,
      at: new Date(t),
      topic: o.topic,
      reason: first.reason,
      detail: details.join('; ').slice(0, 1000),
      sample: sample(o.payload),
    });
    if (queue.length > MAX_QUEUED_ROWS) {
      const drop = queue.length - MAX_QUEUED_ROWS;
      queue.splice(0, drop);
      counts.rowsDropped += drop;
    }
  }

  function flush(): Promise<void> {
    flushing = flushing.then(async () => {
      if (!opts.store || queue.length === 0) return;
      const rows = queue;
      queue = [];
      try {
        await opts.store.add(rows, opts.keep);
      } catch (err) {
        // Diagnostics, not data: counted and logged, never retried forever.
        counts.rowsDropped += rows.length;
        log.warn({ err, rows: rows.length }, 'could not store rejections');
      }
    });
    return flushing;
  }

  return {
    record,
    flush,
    start() {
      timer = setInterval(() => {
        void flush();
        sweep(now());
      }, opts.flushMs ?? 2000);
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
      await flush();
    },
    stats: () => ({
      messages: { ...counts.messages },
      fields: { ...counts.fields },
      rowsDropped: counts.rowsDropped,
    }),
  };
}

/** The start of a refused payload as text the store and a browser can hold: no NUL or control bytes. */
export function sample(payload: Buffer): string | null {
  if (payload.length === 0) return null;
  const text = payload
    .subarray(0, SAMPLE_CHARS * 4)
    .toString('utf8')
    .slice(0, SAMPLE_CHARS);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: replacing control characters is the point
  return text.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/g, '\uFFFD');
}
