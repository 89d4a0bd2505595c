import { setTimeout as sleep } from 'node:timers/promises';
import type { Device } from '@citytel/store';
import type { Logger } from 'pino';

/** What ingest reads of the registry: a subset of the store's DeviceRepo. */
export interface DeviceDirectory {
  get(id: string): Promise<Device | undefined>;
  /** Slow by design (scrypt): called once per token and cache lifetime. */
  findBySckToken(token: string): Promise<Device | undefined>;
}

/** Thrown to messages still waiting for the registry when ingest stops; they are not acknowledged. */
export class StoppedError extends Error {
  override name = 'StoppedError';
}

/** A lookup answer now (`Device`, or `null` for unknown), or later when it is not cached. */
export type Lookup = Device | null | Promise<Device | null>;

export interface DeviceCache {
  byId(id: string): Lookup;
  byToken(token: string): Lookup;
  /** Drops every entry, e.g. after a device was provisioned (tests, admin tools). */
  clear(): void;
  close(): void;
  stats(): { entries: number; hits: number; misses: number; storeErrors: number };
}

interface Entry {
  device: Device | null;
  expires: number;
}

/**
 * The registry as ingest sees it: id → device and SCK token → device, each entry kept `ttlMs`, unknown
 * ones only `unknownTtlMs` (a kit provisioned a moment ago must not wait a minute). Concurrent misses for
 * one key share one store query. A token, once resolved, is refreshed by id so the scrypt search runs
 * once per token; the broker has already checked the token when the kit connected.
 *
 * A store error is retried with backoff for as long as ingest runs: the message waits, unacknowledged,
 * rather than being rejected for a fault of ours.
 */
export function createDeviceCache(
  dir: DeviceDirectory,
  opts: { ttlMs: number; unknownTtlMs: number; maxEntries?: number; log: Logger; now?: () => number },
): DeviceCache {
  const now = opts.now ?? Date.now;
  const maxEntries = opts.maxEntries ?? 200_000;
  const ids = new Map<string, Entry>();
  const tokens = new Map<string, Entry>();
  const loading = new Map<string, Promise<Device | null>>();
  const abort = new AbortController();
  const counts = { hits: 0, misses: 0, storeErrors: 0 };

  const remember = (map: Map<string, Entry>, key: string, device: Device | null) => {
    // Insertion order is age order: past the bound, the oldest tenth goes.
    if (map.size >= maxEntries) {
      let drop = Math.ceil(maxEntries / 10);
      for (const k of map.keys()) {
        map.delete(k);
        if (--drop === 0) break;
      }
    }
    map.delete(key);
    map.set(key, { device, expires: now() + (device ? opts.ttlMs : opts.unknownTtlMs) });
  };

  async function retrying<T>(what: string, query: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      if (abort.signal.aborted) throw new StoppedError('ingest is stopping');
      try {
        return await query();
      } catch (err) {
        counts.storeErrors++;
        if (attempt === 0 || attempt % 10 === 0)
          opts.log.warn({ err, what, attempt }, 'registry lookup failed; retrying');
        try {
          await sleep(Math.min(200 * 2 ** attempt, 5000), undefined, { signal: abort.signal });
        } catch {
          throw new StoppedError('ingest is stopping');
        }
      }
    }
  }

  function cached(map: Map<string, Entry>, key: string): Entry | undefined {
    const e = map.get(key);
    if (e && e.expires > now()) {
      counts.hits++;
      return e;
    }
    counts.misses++;
    return undefined;
  }

  function shared(key: string, load: () => Promise<Device | null>): Promise<Device | null> {
    let p = loading.get(key);
    if (!p) {
      p = load().finally(() => loading.delete(key));
      loading.set(key, p);
    }
    return p;
  }

  return {
    byId(id) {
      const e = cached(ids, id);
      if (e) return e.device;
      return shared(`id:${id}`, async () => {
        const device = (await retrying(`device ${id}`, () => dir.get(id))) ?? null;
        remember(ids, id, device);
        return device;
      });
    },
    byToken(token) {
      const e = cached(tokens, token);
      if (e) return e.device;
      const stale = tokens.get(token)?.device;
      return shared(`sck:${token}`, async () => {
        let device: Device | null = null;
        if (stale) device = (await retrying(`device ${stale.id}`, () => dir.get(stale.id))) ?? null;
        if (device?.kind !== 'sck') {
          device = (await retrying(`sck token`, () => dir.findBySckToken(token))) ?? null;
        }
        remember(tokens, token, device);
        if (device) remember(ids, device.id, device);
        return device;
      });
    },
    clear() {
      ids.clear();
      tokens.clear();
    },
    close() {
      abort.abort();
    },
    stats: () => ({ entries: ids.size + tokens.size, ...counts }),
  };
}
