import { describe, expect, it } from 'vitest';
import { CredentialCache, FailedLoginThrottle, parseBasicAuth } from './basic-auth.ts';

const header = (s: string) => `Basic ${Buffer.from(s).toString('base64')}`;

describe('Basic auth', () => {
  it('reads the user and a password that may hold colons', () => {
    expect(parseBasicAuth(header('air-1:se:cret'))).toEqual({ user: 'air-1', password: 'se:cret' });
    expect(parseBasicAuth(`basic  ${Buffer.from('a:b').toString('base64')}`)).toEqual({
      user: 'a',
      password: 'b',
    });
  });

  it.each([undefined, 'Bearer abc', header('no-colon'), header(':nouser'), 'Basic !!!'])(
    'refuses %s',
    (h) => {
      expect(parseBasicAuth(h)).toBeUndefined();
    },
  );
});

describe('the verified-credential cache', () => {
  it('keeps a success for its time to live, keyed without the clear secret', () => {
    const cache = new CredentialCache<string>(1000);
    const key = CredentialCache.key('air-1', 'secret');
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(key).not.toBe(CredentialCache.key('air-1', 'secret2'));
    cache.set(key, 'air-1', 0);
    expect(cache.get(key, 999)).toBe('air-1');
    expect(cache.get(key, 1000)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('drops the oldest entry when full', () => {
    const cache = new CredentialCache<number>(60_000, 2);
    cache.set('a', 1, 0);
    cache.set('b', 2, 0);
    cache.set('c', 3, 0);
    expect([cache.get('a', 1), cache.get('b', 1), cache.get('c', 1)]).toEqual([undefined, 2, 3]);
  });
});

describe('failed login throttle', () => {
  const clock = () => {
    let t = 1_000_000;
    return { now: () => t, advance: (ms: number) => (t += ms) };
  };

  it('refuses a burst past the free tries while they are in flight, before any check runs', () => {
    const c = clock();
    const th = new FailedLoginThrottle({ freeFailures: 3, now: c.now });
    const turns = Array.from({ length: 2000 }, () => th.begin('203.0.113.9'));
    expect(turns.filter((t) => t.ok).length).toBe(3);
    // Another address is not concerned.
    expect(th.begin('198.51.100.1').ok).toBe(true);
  });

  it('doubles the wait past the free failures, up to the cap, and forgets after a quiet while', () => {
    const c = clock();
    const th = new FailedLoginThrottle({
      freeFailures: 2,
      baseDelayMs: 1000,
      maxDelayMs: 4000,
      forgetMs: 60_000,
      now: c.now,
    });
    const fail = () => {
      const t = th.begin('a');
      if (!t.ok) return t.retryAfterMs;
      t.done(false);
      return 0;
    };
    expect([fail(), fail()]).toEqual([0, 0]);
    // The second failure was the last free one: a wait of 1 s now.
    expect(fail()).toBe(1000);
    c.advance(1000);
    expect(fail()).toBe(0);
    expect(fail()).toBe(2000);
    c.advance(2000);
    fail();
    c.advance(4000);
    fail();
    // capped
    expect(fail()).toBe(4000);
    c.advance(61_000);
    expect(fail()).toBe(0);
  });

  it('lets a good device through but does not clear a guesser sharing its address', () => {
    const c = clock();
    const th = new FailedLoginThrottle({ freeFailures: 2, now: c.now });
    for (let i = 0; i < 2; i++) {
      const t = th.begin('nat');
      if (t.ok) t.done(false);
    }
    expect(th.begin('nat').ok).toBe(false);
    c.advance(1000);
    const good = th.begin('nat');
    expect(good.ok).toBe(true);
    if (good.ok) good.done(true);
    const guess = th.begin('nat');
    expect(guess.ok).toBe(true);
    if (guess.ok) guess.done(false);
    expect(th.begin('nat').ok).toBe(false);
  });
});
