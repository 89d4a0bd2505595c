import type { RejectionStats } from './rejections.ts';
import type { Summary } from './sampler.ts';
import type { SourceStats } from './source/types.ts';
import type { WriterStats } from './writer.ts';

/**
 * The figures ingest publishes, retained, as JSON on `$SYS/citytel/ingest/{id}/stats` (statsTopic) every
 * INGEST_STATS_MS; the api renders them in /metrics. Counters count since the process started.
 */
export interface IngestStats {
  id: string;
  at: string;
  uptimeS: number;
  messages: {
    received: number;
    bytes: number;
    /** Messages that produced at least one point. */
    accepted: number;
    /** Messages refused whole (by reason in `rejected.messages`). */
    rejected: number;
    acked: number;
    unacked: number;
  };
  readings: {
    /** Points produced (a reading or a vehicle record each). */
    kept: number;
    /** By the clock that gave their time. */
    deviceTime: number;
    brokerTime: number;
    ingestTime: number;
  };
  rejected: RejectionStats;
  points: { written: number; refused: number };
  batches: { count: number; lines: Summary };
  /** HTTP round trip of each write attempt. */
  writeMs: Summary;
  /** From a message's points entering the writer to their write, batching wait included. */
  queueMs: Summary;
  /** What ingest holds: points not yet written, messages not yet acknowledged. */
  backlog: { points: number; messages: number };
  influx: { up: boolean; failedAttempts: number; requeued: number; lastError: string | null };
  mqtt: Pick<SourceStats, 'connected' | 'reconnects' | 'paused' | 'pausedMs'>;
  registry: { entries: number; hits: number; misses: number; storeErrors: number };
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
});

export function assembleStats(parts: {
  id: string;
  startedAt: number;
  counters: Counters;
  open: number;
  writer: WriterStats;
  source: SourceStats;
  rejections: RejectionStats;
  registry: IngestStats['registry'];
}): IngestStats {
  const { counters: c, writer: w, source: src } = parts;
  return {
    id: parts.id,
    at: new Date().toISOString(),
    uptimeS: Math.round((Date.now() - parts.startedAt) / 1000),
    messages: {
      received: c.received,
      bytes: c.bytes,
      accepted: c.accepted,
      rejected: c.rejected,
      acked: src.acked,
      unacked: parts.open,
    },
    readings: { kept: c.kept, deviceTime: c.deviceTime, brokerTime: c.brokerTime, ingestTime: c.ingestTime },
    rejected: parts.rejections,
    points: { written: w.written, refused: w.refused },
    batches: { count: w.batches, lines: w.batchLines },
    writeMs: w.writeMs,
    queueMs: w.queueMs,
    backlog: { points: w.pending, messages: parts.open },
    influx: { up: w.up, failedAttempts: w.failedAttempts, requeued: w.requeued, lastError: w.lastError },
    mqtt: {
      connected: src.connected,
      reconnects: src.reconnects,
      paused: src.paused,
      pausedMs: src.pausedMs,
    },
    registry: parts.registry,
  };
}
