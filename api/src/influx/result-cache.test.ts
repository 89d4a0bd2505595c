import { describe, expect, it } from 'vitest';
import { createResultCache } from './result-cache.ts';

describe('result cache', () => {
  it('computes once for concurrent identical requests', async () => {
    const cache = createResultCache<number>({ ttlMs: 1000 });
    let calls = 0;
    const compute = async () => {
      calls++;
      await new Promise((r) => setTimeout(r, 10));
      return 42;
    };
    const answers = await Promise.all(Array.from({ length: 50 }, () => cache.get('k', compute)));
    expect(answers.every((a) => a === 42)).toBe(true);
    expect(calls).toBe(1);
  });

  it('recomputes after the ttl, and never keeps a failure', async () => {
    let now = 0;
    const cache = createResultCache<number>({ ttlMs: 100, now: () => now });
    let n = 0;
    expect(await cache.get('k', async () => ++n)).toBe(1);
    now = 99;
    expect(await cache.get('k', async () => ++n)).toBe(1);
    now = 100;
    expect(await cache.get('k', async () => ++n)).toBe(2);
    await expect(cache.get('e', async () => Promise.reject(new Error('down')))).rejects.toThrow('down');
    expect(await cache.get('e', async () => 7)).toBe(7);
  });

  it('keeps the answers under maxBytes, dropping the least recently used, and never one too big', async () => {
    const cache = createResultCache<string>({ ttlMs: 1000, maxBytes: 10, sizeOf: (v) => v.length });
    await cache.get('a', async () => 'aaaa');
    await cache.get('b', async () => 'bbbb');
    expect([cache.size, cache.bytes]).toEqual([2, 8]);
    await cache.get('a', async () => 'x');
    await cache.get('c', async () => 'cccc');
    expect([cache.size, cache.bytes]).toEqual([2, 8]);
    expect(await cache.get('b', async () => 'recomputed')).toBe('recomputed');
    await cache.get('huge', async () => 'h'.repeat(11));
    expect(await cache.get('huge', async () => 'again')).toBe('again');
    expect(cache.bytes).toBeLessThanOrEqual(10);
  });

  it('keeps at most maxEntries, dropping the least recently used', async () => {
    const cache = createResultCache<string>({ ttlMs: 1000, maxEntries: 2 });
    await cache.get('a', async () => 'a');
    await cache.get('b', async () => 'b');
    await cache.get('a', async () => 'x');
    await cache.get('c', async () => 'c');
    expect(cache.size).toBe(2);
    expect(await cache.get('a', async () => 'recomputed')).toBe('a');
    expect(await cache.get('b', async () => 'recomputed')).toBe('recomputed');
  });

  it('caches nothing with a ttl of 0', async () => {
    const cache = createResultCache<number>({ ttlMs: 0 });
    let n = 0;
    await cache.get('k', async () => ++n);
    expect(await cache.get('k', async () => ++n)).toBe(2);
  });
});

describe('stale-while-revalidate', () => {
  it('serves a stale answer at once and refreshes it in the background', async () => {
    let now = 0;
    const cache = createResultCache<number>({ ttlMs: 100, staleMs: 1000, now: () => now });
    let n = 0;
    let release: () => void = () => {};
    const slow = () =>
      new Promise<number>((resolve) => {
        n++;
        release = () => resolve(n);
      });
    const first = cache.get('k', slow);
    release();
    expect(await first).toBe(1);
    now = 150;
    // Stale: answered from memory while one refresh starts.
    expect(await cache.get('k', slow)).toBe(1);
    expect(await cache.get('k', slow)).toBe(1);
    expect(n).toBe(2);
    release();
    await new Promise((r) => setTimeout(r, 0));
    expect(await cache.get('k', slow)).toBe(2);
  });

  it('waits for a new answer once the stale one is too old', async () => {
    let now = 0;
    const cache = createResultCache<number>({ ttlMs: 100, staleMs: 100, now: () => now });
    let n = 0;
    await cache.get('k', async () => ++n);
    now = 250;
    expect(await cache.get('k', async () => ++n)).toBe(2);
  });

  it('takes the ttl and the stale time of each answer from its request', async () => {
    let now = 0;
    const cache = createResultCache<number>({ ttlMs: 100, staleMs: 100, now: () => now });
    let n = 0;
    await cache.get('k', async () => ++n, 1000, 5000);
    now = 999;
    expect(await cache.get('k', async () => ++n, 1000, 5000)).toBe(1);
    now = 5999;
    // Stale (past 1 s, within 5 s more): served, and refreshed.
    expect(await cache.get('k', async () => ++n, 1000, 5000)).toBe(1);
    await new Promise((r) => setTimeout(r, 0));
    expect(await cache.get('k', async () => ++n, 1000, 5000)).toBe(2);
  });

  it('keeps the stale answer when a refresh fails', async () => {
    let now = 0;
    const errors: unknown[] = [];
    const cache = createResultCache<number>({
      ttlMs: 100,
      staleMs: 1000,
      now: () => now,
      onRefreshError: (e) => errors.push(e),
    });
    await cache.get('k', async () => 1);
    now = 150;
    expect(await cache.get('k', async () => Promise.reject(new Error('down')))).toBe(1);
    await new Promise((r) => setTimeout(r, 0));
    expect(errors).toHaveLength(1);
    // The next request still gets the stale answer, and starts another refresh, which succeeds.
    expect(await cache.get('k', async () => 3)).toBe(1);
    await new Promise((r) => setTimeout(r, 0));
    expect(await cache.get('k', async () => 4)).toBe(3);
  });
});
