import { describe, expect, it } from 'vitest';
import { CredentialCache, parseBasicAuth } from './basic-auth.ts';

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
