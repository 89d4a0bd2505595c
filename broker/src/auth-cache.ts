import { createHash } from 'node:crypto';

/**
 * Successful credential checks, kept for a while so that a reconnect storm (a broker restart, a cell
 * tower coming back) costs one scrypt per device rather than one per connection. Failures are never
 * kept: a wrong secret must be checked each time, slowly. Concurrent checks of the same credentials share
 * one lookup. Keys are hashes, so no clear secret stays in memory longer than the check.
 */
export interface VerifiedCache<T> {
  resolve(parts: readonly string[], load: () => Promise<T | undefined>): Promise<T | undefined>;
  /** The cached value, without loading. */
  peek(parts: readonly string[]): T | undefined;
  forget(parts: readonly string[]): void;
  clear(): void;
  readonly size: number;
}

export function createVerifiedCache<T>(
  options: { ttlMs?: number; maxEntries?: number; now?: () => number } = {},
): VerifiedCache<T> {
  const ttlMs = options.ttlMs ?? 5 * 60_000;
  const maxEntries = options.maxEntries ?? 20_000;
  const now = options.now ?? Date.now;
  const verified = new Map<string, { value: T; expiresAt: number }>();
  const pending = new Map<string, Promise<T | undefined>>();

  return {
    resolve(parts, load) {
      const key = cacheKey(parts);
      const hit = verified.get(key);
      if (hit && hit.expiresAt > now()) return Promise.resolve(hit.value);
      if (hit) verified.delete(key);
      const running = pending.get(key);
      if (running) return running;
      const lookup = load()
        .then((value) => {
          if (value !== undefined) {
            // Map order is insertion order: the first key is the oldest entry.
            if (verified.size >= maxEntries) verified.delete(verified.keys().next().value!);
            verified.set(key, { value, expiresAt: now() + ttlMs });
          }
          return value;
        })
        .finally(() => pending.delete(key));
      pending.set(key, lookup);
      return lookup;
    },
    peek(parts) {
      const hit = verified.get(cacheKey(parts));
      return hit && hit.expiresAt > now() ? hit.value : undefined;
    },
    forget(parts) {
      verified.delete(cacheKey(parts));
    },
    clear() {
      verified.clear();
    },
    get size() {
      return verified.size;
    },
  };
}

/** Parts are joined with NUL, which no id, token or MQTT password field we accept contains unescaped. */
function cacheKey(parts: readonly string[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('base64');
}
