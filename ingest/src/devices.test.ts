import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createDeviceCache, StoppedError } from './devices.ts';
import { device, directory } from './testing.ts';

const log = pino({ level: 'silent' });

describe('the registry cache', () => {
  it('answers from memory within its TTL, and asks the store again after', async () => {
    let t = 0;
    const dir = directory([device('kit-1')]);
    const cache = createDeviceCache(dir, { ttlMs: 1000, unknownTtlMs: 100, log, now: () => t });
    expect(await cache.byId('kit-1')).toMatchObject({ id: 'kit-1' });
    expect(cache.byId('kit-1')).toMatchObject({ id: 'kit-1' }); // synchronous: no promise on the hot path
    expect(dir.calls).toBe(1);
    t = 1001;
    expect(cache.byId('kit-1')).toBeInstanceOf(Promise);
    await cache.byId('kit-1');
    expect(dir.calls).toBe(2);
  });

  it('forgets an unknown id sooner than a known one', async () => {
    let t = 0;
    const dir = directory([]);
    const cache = createDeviceCache(dir, { ttlMs: 60_000, unknownTtlMs: 100, log, now: () => t });
    expect(await cache.byId('ghost')).toBeNull();
    expect(cache.byId('ghost')).toBeNull();
    t = 101;
    expect(await cache.byId('ghost')).toBeNull();
    expect(dir.calls).toBe(2);
  });

  it('shares one store query among concurrent misses', async () => {
    const dir = directory([device('kit-1')]);
    const cache = createDeviceCache(dir, { ttlMs: 1000, unknownTtlMs: 100, log });
    await Promise.all([cache.byId('kit-1'), cache.byId('kit-1'), cache.byId('kit-1')]);
    expect(dir.calls).toBe(1);
  });

  it('runs the slow token search once per token, then refreshes the kit by id', async () => {
    let t = 0;
    const searches: string[] = [];
    const dir = directory([{ ...device('sck-1', { kind: 'sck' }), token: 'ab12cd' }]);
    const find = dir.findBySckToken;
    dir.findBySckToken = (token) => {
      searches.push(token);
      return find(token);
    };
    const cache = createDeviceCache(dir, { ttlMs: 1000, unknownTtlMs: 100, log, now: () => t });
    expect(await cache.byToken('ab12cd')).toMatchObject({ id: 'sck-1' });
    t = 5000;
    expect(await cache.byToken('ab12cd')).toMatchObject({ id: 'sck-1' });
    expect(searches).toEqual(['ab12cd']);
  });

  it('retries a failing store until it answers, and gives up only when stopped', async () => {
    let failures = 2;
    const cache = createDeviceCache(
      {
        async get(id) {
          if (failures-- > 0) throw new Error('database is locked');
          return device(id);
        },
        findBySckToken: async () => undefined,
      },
      { ttlMs: 1000, unknownTtlMs: 100, log },
    );
    expect(await cache.byId('kit-1')).toMatchObject({ id: 'kit-1' });
    expect(cache.stats().storeErrors).toBe(2);

    const stuck = createDeviceCache(
      {
        get: () => Promise.reject(new Error('down')),
        findBySckToken: () => Promise.reject(new Error('down')),
      },
      { ttlMs: 1000, unknownTtlMs: 100, log },
    );
    const pending = stuck.byId('kit-1');
    setTimeout(() => stuck.close(), 50);
    await expect(pending).rejects.toBeInstanceOf(StoppedError);
  });
});
