/**
 * A small time-bounded cache of query answers with request coalescing. Public map and devices answers
 * are the same for every citizen looking at the same view: fifty browsers opening the city map at once
 * cost one InfluxDB query, not fifty.
 *
 * With `staleMs`, an answer past its `ttlMs` is still served for that long while one refresh runs in the
 * background (stale-while-revalidate, RFC 5861): once a view is warm no request waits for InfluxDB, and
 * each answer is at most `ttlMs` plus one refresh old. A failed computation is never cached; a failed
 * refresh leaves the stale answer until it expires.
 */
export interface ResultCache<T> {
  /**
   * `compute` is called with nothing: it resolves relative times itself, so a late refresh is current.
   * `ttlMs` and `staleMs` override the cache's for this answer.
   */
  get(key: string, compute: () => Promise<T>, ttlMs?: number, staleMs?: number): Promise<T>;
  clear(): void;
  readonly size: number;
  /** Sum of `sizeOf` over the kept answers (0 without `sizeOf`). */
  readonly bytes: number;
}

export interface ResultCacheOptions<T = unknown> {
  ttlMs: number;
  staleMs?: number;
  maxEntries?: number;
  /**
   * With `sizeOf`, the kept answers' total stays under this many bytes (least recently used dropped
   * first): many distinct valid requests (every absolute range of a year of series) cannot grow the cache
   * past it, whatever their number.
   */
  maxBytes?: number;
  sizeOf?: (value: T) => number;
  now?: () => number;
  /** Told about background refreshes that failed. */
  onRefreshError?: (err: unknown) => void;
}

export function createResultCache<T>(opts: ResultCacheOptions<T>): ResultCache<T> {
  const maxEntries = opts.maxEntries ?? 500;
  const now = opts.now ?? Date.now;
  const maxBytes = opts.maxBytes ?? Number.POSITIVE_INFINITY;
  const sizeOf = opts.sizeOf ?? (() => 0);
  const done = new Map<string, { value: T; fresh: number; stale: number; bytes: number }>();
  const inFlight = new Map<string, Promise<T>>();
  let bytes = 0;
  const drop = (key: string) => {
    const e = done.get(key);
    if (!e) return;
    bytes -= e.bytes;
    done.delete(key);
  };

  const run = (key: string, compute: () => Promise<T>, ttlMs: number, staleMs: number): Promise<T> => {
    const pending = inFlight.get(key);
    if (pending) return pending;
    const p = compute().then(
      (value) => {
        inFlight.delete(key);
        const size = ttlMs > 0 ? sizeOf(value) : 0;
        if (ttlMs > 0 && size <= maxBytes) {
          const t = now();
          drop(key);
          done.set(key, { value, fresh: t + ttlMs, stale: t + ttlMs + staleMs, bytes: size });
          bytes += size;
          while (done.size > maxEntries || bytes > maxBytes) drop(done.keys().next().value as string);
        }
        return value;
      },
      (err: unknown) => {
        inFlight.delete(key);
        throw err;
      },
    );
    inFlight.set(key, p);
    return p;
  };

  return {
    get(key, compute, ttlMs = opts.ttlMs, staleMs = opts.staleMs ?? 0) {
      const hit = done.get(key);
      const t = now();
      if (hit && hit.stale > t) {
        // Re-inserting keeps the Map in least-recently-used order for eviction.
        done.delete(key);
        done.set(key, hit);
        if (hit.fresh <= t && !inFlight.has(key))
          run(key, compute, ttlMs, staleMs).catch((err) => opts.onRefreshError?.(err));
        return Promise.resolve(hit.value);
      }
      return run(key, compute, ttlMs, staleMs);
    },
    clear() {
      done.clear();
      bytes = 0;
    },
    get size() {
      return done.size;
    },
    get bytes() {
      return bytes;
    },
  };
}
