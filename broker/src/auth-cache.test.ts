import { describe, expect, it } from 'vitest';
import { createVerifiedCache } from './auth-cache.ts';

describe('verified credentials cache', () => {
  it('keeps a success for five minutes', async () => {
    let t = 0;
    let loads = 0;
    const cache = createVerifiedCache<string>({ now: () => t });
    const load = async () => {
      loads++;
      return 'dev-1';
    };
    expect(await cache.resolve(['dev-1', 's3cret'], load)).toBe('dev-1');
    t = 5 * 60_000 - 1;
    expect(await cache.resolve(['dev-1', 's3cret'], load)).toBe('dev-1');
    expect(loads).toBe(1);
    t = 5 * 60_000;
    expect(await cache.resolve(['dev-1', 's3cret'], load)).toBe('dev-1');
    expect(loads).toBe(2);
  });

  it('never keeps a failure', async () => {
    let loads = 0;
    const cache = createVerifiedCache<string>();
    const load = async () => {
      loads++;
      return undefined;
    };
    await cache.resolve(['dev-1', 'wrong'], load);
    await cache.resolve(['dev-1', 'wrong'], load);
    expect(loads).toBe(2);
    expect(cache.size).toBe(0);
  });

  it('tells credentials apart', async () => {
    const cache = createVerifiedCache<string>();
    await cache.resolve(['dev-1', 'a'], async () => 'dev-1');
    expect(await cache.resolve(['dev-1', 'b'], async () => undefined)).toBeUndefined();
    // the separator keeps ('ab','c') and ('a','bc') apart
    await cache.resolve(['ab', 'c'], async () => 'x');
    expect(await cache.resolve(['a', 'bc'], async () => undefined)).toBeUndefined();
  });

  it('shares one lookup among concurrent checks', async () => {
    let loads = 0;
    const cache = createVerifiedCache<string>();
    const load = async () => {
      loads++;
      await new Promise((r) => setTimeout(r, 10));
      return 'dev-1';
    };
    const all = await Promise.all(Array.from({ length: 5 }, () => cache.resolve(['dev-1', 's'], load)));
    expect(all).toEqual(['dev-1', 'dev-1', 'dev-1', 'dev-1', 'dev-1']);
    expect(loads).toBe(1);
  });

  it('holds at most maxEntries, dropping the oldest', async () => {
    const cache = createVerifiedCache<string>({ maxEntries: 2 });
    for (const id of ['a', 'b', 'c']) await cache.resolve([id], async () => id);
    expect(cache.size).toBe(2);
    let reloaded = false;
    await cache.resolve(['a'], async () => {
      reloaded = true;
      return 'a';
    });
    expect(reloaded).toBe(true);
  });

  it('passes a failed lookup on and keeps nothing', async () => {
    const cache = createVerifiedCache<string>();
    await expect(cache.resolve(['x'], async () => Promise.reject(new Error('db down')))).rejects.toThrow(
      'db down',
    );
    expect(await cache.resolve(['x'], async () => 'x')).toBe('x');
  });
});
