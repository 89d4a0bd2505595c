import type { Store } from '@citytel/store';
import type { Logger } from 'pino';

export interface Seen {
  id: string;
  at: Date;
  firmware?: string | undefined;
}

export interface LastSeen {
  record(seen: Seen): void;
  flush(): Promise<void>;
  start(): void;
  stop(): Promise<void>;
}

/**
 * Last-seen times (and SCK firmware) reach the store coalesced: one `touchMany` every few seconds for
 * every device heard since, rather than one UPDATE per message. Memory is one entry per device.
 */
export function createLastSeen(opts: {
  touchMany: Store['touchMany'];
  flushMs: number;
  log: Logger;
}): LastSeen {
  let pending = new Map<string, Seen>();
  let timer: NodeJS.Timeout | undefined;
  let flushing: Promise<void> = Promise.resolve();
  let failing = false;

  // Called for every message: updates in place, no allocation once a device is pending.
  function record(s: Seen) {
    const prev = pending.get(s.id);
    if (!prev) {
      pending.set(s.id, { id: s.id, at: s.at, firmware: s.firmware });
      return;
    }
    // getTime: comparing the Dates themselves converts both to primitives first.
    if (s.at.getTime() > prev.at.getTime()) prev.at = s.at;
    if (s.firmware) prev.firmware = s.firmware;
  }

  function flush(): Promise<void> {
    flushing = flushing.then(async () => {
      if (pending.size === 0) return;
      const batch = pending;
      pending = new Map();
      try {
        await opts.touchMany([...batch.values()]);
        if (failing) opts.log.info('last-seen updates reach the store again');
        failing = false;
      } catch (err) {
        // Kept for the next round; newer sightings merged in meanwhile win.
        for (const s of batch.values()) if (!pending.has(s.id)) pending.set(s.id, s);
        if (!failing)
          opts.log.warn({ err, devices: batch.size }, 'could not update last-seen times; will retry');
        failing = true;
      }
    });
    return flushing;
  }

  return {
    record,
    flush,
    start() {
      timer = setInterval(() => void flush(), opts.flushMs);
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
      await flush();
    },
  };
}
