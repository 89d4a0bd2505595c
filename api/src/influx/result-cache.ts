/**
 * A small time-bounded cache of query answers with request coalescing. Public map and devices answers
 * are the same for every citizen looking at the same view: fifty browsers opening the city map at once
 * cost one InfluxDB query, not fifty, and each answer is at most `ttlMs` old (the routes say so in
 * Cache-Control). A failed computation is not cached.
 */
export interface ResultCache<T> {
  get(key: string, compute: () => Promise<T>): Promise<T>;
  clear(): void;
  readonly size: number;
}

export function createResultCache<T>(opts: {
  ttlMs: number;
  maxEntries?: number;
  now?: () => number;
}): ResultCache<T> {
  const maxEntries = opts.maxEntries ?? 500;
  const now = opts.now ?? Date.now;
  const done = new Map<string, { value: T; expires: number }>();
  const inFlight = new Map<string, Promise<T>>();

  return {
    get(key, compute) {
      const hit = done.get(key);
      if (hit && hit.expires > now()) {
        // Re-inserting keeps the Map in least-recently-used order for eviction.
        done.delete(key);
        done.set(key, hit);
        return Promise.resolve(hit.value);
      }
      const pending = inFlight.get(key);
      if (pending) return pending;
      const p = compute().then(
        (value) => {
          inFlight.delete(key);
          if (opts.ttlMs > 0) {
            done.delete(key);
            done.set(key, { value, expires: now() + opts.ttlMs });
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
    },
    clear() {
      done.clear();
    },
    get size() {
      return done.size;
    },
  };
}
