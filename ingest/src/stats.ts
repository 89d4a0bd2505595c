import type { RejectionReason } from '@citytel/contract';
import type { RejectionStats } from './rejections.ts';
import type { Summary } from './sampler.ts';
import type { SourceStats } from './source/types.ts';
import type { WriterStats } from './writer.ts';

/**
 * The figures ingest publishes, retained, as JSON on `citytel/ingest/{id}/stats` (statsTopic) every
 * INGEST_STATS_MS, and serves on its own /metrics (METRICS_PORT). Their Prometheus names, types and units
 * are the contract's table (INGEST_FAMILIES in contract/src/process-stats.ts), which the api's relay reads
 * too. Counters count since the process started; the summaries' `le`/`buckets` are cumulative.
 */
export interface IngestStats {
  id: string;
  at: string;
  uptime_s: number;
  /** Messages taken from the source, and their bytes. */
  received: number;
  received_bytes: number;
  /** Messages that produced at least one point. */
  accepted: number;
  /** Messages refused whole, in total and by reason. */
  rejected: number;
  rejected_messages: Partial<Record<RejectionReason, number>>;
  /** Fields dropped from messages otherwise kept, by reason (a replaced device time counts as bad_time). */
  rejected_fields: Partial<Record<RejectionReason, number>>;
  /** Rejection rows the store could not take (diagnostics, not data). */
  rejection_rows_dropped: number;
  acked: number;
  /** Points produced (one per reading, vehicle record or live status), and by the clock of their time. */
  points: number;
  time_source: { device: number; broker: number; ingest: number };
  /** Readings stored with a quality flag (contract quality.ts). */
  flagged: number;
  points_written: number;
  /** Points in batches InfluxDB refused for good (400/422); 1.x still writes the valid points of such a batch. */
  points_refused: number;
  batches: number;
  batch_lines: Summary;
  /** HTTP round trip of each write attempt, in ms. */
  write_ms: Summary;
  /** From a message's points entering the writer to the last of them written, batching wait included. */
  queue_ms: Summary;
  /** What ingest holds: points not yet written, messages not yet acknowledged. */
  backlog_points: number;
  backlog_messages: number;
  influx_up: 0 | 1;
  influx_failed_attempts: number;
  /** Points the client would have given up on and the writer re-queued (404, 401, 413...). */
  influx_requeued: number;
  influx_last_error: string | null;
  mqtt_connected: 0 | 1;
  mqtt_reconnects: number;
  /** 1 while the source is held back by backpressure; total time held back. */
  mqtt_paused: 0 | 1;
  mqtt_paused_ms: number;
  registry: { entries: number; hits: number; misses: number; store_errors: number };
  /** Cluster mode: stream entries taken over from silent workers, trimmed, pending but gone from the stream. */
  stream?: { claimed: number; trimmed: number; missing: number };
}

export interface Counters {
  received: number;
  bytes: number;
  accepted: number;
  rejected: number;
  kept: number;
  deviceTime: number;
  brokerTime: number;
  ingestTime: number;
  /** Readings stored with a quality flag (contract quality.ts). */
  flagged: number;
}

export const newCounters = (): Counters => ({
  received: 0,
  bytes: 0,
  accepted: 0,
  rejected: 0,
  kept: 0,
  deviceTime: 0,
  brokerTime: 0,
  ingestTime: 0,
  flagged: 0,
});

export function assembleStats(parts: {
  id: string;
  startedAt: number;
  counters: Counters;
  open: number;
  writer: WriterStats;
  source: SourceStats;
  rejections: RejectionStats;
  registry: { entries: number; hits: number; misses: number; storeErrors: number };
}): IngestStats {
  const { counters: c, writer: w, source: src, rejections: r, registry: g } = parts;
  return {
    id: parts.id,
    at: new Date().toISOString(),
    uptime_s: Math.round((Date.now() - parts.startedAt) / 1000),
    received: c.received,
    received_bytes: c.bytes,
    accepted: c.accepted,
    rejected: c.rejected,
    rejected_messages: r.messages,
    rejected_fields: r.fields,
    rejection_rows_dropped: r.rowsDropped,
    acked: src.acked,
    points: c.kept,
    time_source: { device: c.deviceTime, broker: c.brokerTime, ingest: c.ingestTime },
    flagged: c.flagged,
    points_written: w.written,
    points_refused: w.refused,
    batches: w.batches,
    batch_lines: w.batchLines,
    write_ms: w.writeMs,
    queue_ms: w.queueMs,
    backlog_points: w.pending,
    backlog_messages: parts.open,
    influx_up: w.up ? 1 : 0,
    influx_failed_attempts: w.failedAttempts,
    influx_requeued: w.requeued,
    influx_last_error: w.lastError,
    mqtt_connected: src.connected ? 1 : 0,
    mqtt_reconnects: src.reconnects,
    mqtt_paused: src.paused ? 1 : 0,
    mqtt_paused_ms: src.pausedMs,
    registry: { entries: g.entries, hits: g.hits, misses: g.misses, store_errors: g.storeErrors },
  };
}
