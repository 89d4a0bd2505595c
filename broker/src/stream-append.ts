import { streamEntryFields } from '@citytel/contract';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

/** Appends one accepted device message to the ingest stream; resolves once Redis holds it. */
export type AppendToStream = (topic: string, stampedPayload: Buffer) => Promise<void>;

const WARN_EVERY_MS = 60_000;

/**
 * The broker half of the ingest stream (contract/src/ingest-stream.ts): `XADD key * t <topic> p <payload>`.
 * No MAXLEN: trimming belongs to the ingest workers, which alone know what every consumer group has
 * acknowledged. The connection auto-pipelines, so the appends of all devices publishing at once travel in
 * a few writes; its command timeout bounds how long a device waits for its PUBACK.
 */
export function createStreamAppender(redis: Redis, streamKey: string, log: Logger): AppendToStream {
  let failed = 0;
  let lastWarnAt = 0;
  return async (topic, stampedPayload) => {
    try {
      await redis.xadd(streamKey, '*', ...streamEntryFields(topic, stampedPayload));
    } catch (err) {
      failed++;
      const now = Date.now();
      if (now - lastWarnAt >= WARN_EVERY_MS) {
        lastWarnAt = now;
        log.warn({ err: (err as Error).message, failed, streamKey }, 'ingest stream append failed');
        failed = 0;
      }
      throw err;
    }
  };
}
