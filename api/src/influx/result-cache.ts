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
}

export interface ResultCacheOptions {
  ttlMs: number;
  staleMs?: number;
  maxEntries?: number;
  now?: () => number;
  /** Told about background refreshes that failed. */
  onRefreshError?: (err: unknown) => void;
}

export function createResultCache<T>(opts: ResultCacheOptions): ResultCache<T> {
  const maxEntries = opts.maxEntries ?? 500;
  const now = opts.now ?? Date.now;
  const done = new Map<string, { value: T; fresh: number; stale: number }>();
  const inFlight = new Map<string, Promise<T>>();

  const run = (key: string, compute: () => Promise<T>, ttlMs: number, staleMs: number): Promise<T> => {
    const pending = inFlight.get(key);
    if (pending) return pending;
    const p = compute().then(
      (value) => {
        inFlight.delete(key);
        if (ttlMs > 0) {
          const t = now();
          done.delete(key);
          done.set(key, { value, fresh: t + ttlMs, stale: t + ttlMs + staleMs });
          while (done.size > maxEntries) done.delete(done.keys().next().value as string);
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
    },
    get size() {
      return done.size;
    },
  };
}
