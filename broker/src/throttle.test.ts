import { describe, expect, it } from 'vitest';
import { addressKey, createLoginThrottle, type LoginThrottleOptions, throttleBucket } from './throttle.ts';

/** A clock the test moves by hand; sleeps resolve when it passes their time. */
function fakeClock() {
  let now = 1_000_000;
  const sleepers: Array<{ at: number; wake(): void }> = [];
  return {
    now: () => now,
    sleep: (ms: number) => new Promise<void>((wake) => sleepers.push({ at: now + ms, wake })),
    async advance(ms: number) {
      now += ms;
      for (const s of sleepers.splice(0)) {
        if (s.at <= now) s.wake();
        else sleepers.push(s);
      }
      await new Promise((r) => setImmediate(r));
    },
  };
}

function setup(options: Partial<LoginThrottleOptions> = {}) {
  const clock = fakeClock();
  const throttle = createLoginThrottle(options, clock);
  /** `times` attempts of `bucket` that fail, one after the other, the clock moved past each wait. */
  const fail = async (bucket: string, times: number) => {
    for (let i = 0; i < times; i++) {
      const wait = throttle.delayFor(bucket);
      const admitted = throttle.admit(bucket);
      await new Promise((r) => setImmediate(r));
      await clock.advance(wait);
      (await admitted)!.end('failed');
    }
  };
  return { clock, throttle, fail };
}

describe('login slow-down', () => {
  it('lets the first three failures through at once, then doubles from 500 ms up to 30 s', async () => {
    const { throttle, fail } = setup();
    const delays: number[] = [];
    for (let i = 0; i < 12; i++) {
      delays.push(throttle.delayFor('a'));
      await fail('a', 1);
    }
    expect(delays).toEqual([0, 0, 0, 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  });

  it('counts attempts still in flight: a parallel burst is checked three at a time, the rest queued or refused', async () => {
    const { throttle } = setup({ maxWaiting: 4 });
    const admitted = Array.from({ length: 100 }, () => throttle.admit('a'));
    let settled = 0;
    for (const a of admitted) void a.then(() => settled++);
    await new Promise((r) => setImmediate(r));
    const answers = await Promise.all(admitted.map((a) => Promise.race([a, Promise.resolve('waiting')])));
    expect(answers.filter((a) => a !== 'waiting' && a !== undefined)).toHaveLength(3);
    expect(answers.filter((a) => a === 'waiting')).toHaveLength(4);
    expect(answers.filter((a) => a === undefined)).toHaveLength(93);
    // the refused ones count for nothing; the 7 in flight only space the queue, nothing has failed yet
    expect(throttle.delayFor('a')).toBe(500);
  });

  it('lets sixteen good kits behind one address in within seconds: attempts in flight space, failures escalate', async () => {
    const { clock, throttle } = setup();
    const admitted = Array.from({ length: 16 }, () => throttle.admit('token:nat'));
    const waited: number[] = [];
    for (const a of admitted)
      void a.then((attempt) => {
        waited.push(attempt!.waitedMs);
        attempt!.end('succeeded');
      });
    for (let t = 0; t < 20 && waited.length < 16; t++) await clock.advance(500);
    expect(waited).toHaveLength(16);
    // three at once, then one every 500 ms: the last within 6.5 s, far from any connect timeout
    expect(Math.max(...waited)).toBeLessThanOrEqual(6500);
  });

  it('lets many secret logins of one address run at once (freeInFlight), counting only their failures', async () => {
    const { throttle } = setup();
    const admitted = await Promise.all(Array.from({ length: 100 }, () => throttle.admit('s', 256)));
    expect(admitted.every((a) => a?.waitedMs === 0)).toBe(true);
    for (const a of admitted.slice(0, 4)) a!.end('failed');
    expect(throttle.delayFor('s', 256)).toBe(1000);
  });

  it('keeps buckets apart', async () => {
    const { throttle, fail } = setup();
    await fail(throttleBucket('token', '10.0.0.1'), 5);
    expect(throttle.delayFor(throttleBucket('token', '10.0.0.1'))).toBe(2000);
    expect(throttle.delayFor(throttleBucket('token', '10.0.0.2'))).toBe(0);
    expect(throttle.delayFor(throttleBucket('secret', '10.0.0.1'))).toBe(0);
  });

  it('answers parallel throttled attempts one after the other', async () => {
    const { clock, throttle, fail } = setup();
    await fail('a', 3);
    const answered: number[] = [];
    const start = clock.now();
    for (let i = 0; i < 3; i++)
      void throttle.admit('a').then((t) => {
        answered.push(clock.now());
        t?.end('abandoned');
      });
    await new Promise((r) => setImmediate(r));
    for (let i = 0; i < 8; i++) await clock.advance(500);
    // one after the other, each the failures' delay (3 failures: 500 ms) after the one before: attempts in
    // flight wait their turn but escalate nothing, only failures do
    expect(answered.map((t) => t - start)).toEqual([500, 1000, 1500]);
  });

  it('is reset by a success', async () => {
    const { clock, throttle, fail } = setup();
    await fail('a', 6);
    const ok = throttle.admit('a');
    await new Promise((r) => setImmediate(r));
    await clock.advance(8000);
    (await ok)!.end('succeeded');
    expect(throttle.delayFor('a')).toBe(0);
  });

  it('is not reset by a success once the bucket failed 20 times', async () => {
    const { clock, throttle, fail } = setup();
    await fail('a', 20);
    const ok = throttle.admit('a');
    await new Promise((r) => setImmediate(r));
    await clock.advance(30_000);
    (await ok)!.end('succeeded');
    expect(throttle.delayFor('a')).toBe(30000);
  });

  it('forgets a bucket ten minutes after its last attempt', async () => {
    const { clock, throttle, fail } = setup();
    await fail('a', 4);
    await clock.advance(10 * 60_000);
    expect(throttle.delayFor('a')).toBe(1000);
    await clock.advance(1);
    expect(throttle.delayFor('a')).toBe(0);
    await fail('b', 1);
    await clock.advance(10 * 60_000 + 1);
    throttle.sweep();
    expect(throttle.size).toBe(0);
  });

  it('holds at most maxEntries buckets, dropping the oldest', async () => {
    const { throttle, fail } = setup({ maxEntries: 3 });
    for (const a of ['a', 'b', 'c', 'd']) await fail(a, 3);
    expect(throttle.size).toBe(3);
    expect(throttle.delayFor('a')).toBe(0);
    expect(throttle.delayFor('d')).toBe(500);
  });

  it('counts an IPv6 /64 as one address', () => {
    expect(throttleBucket('token', '2001:db8:1:2::1')).toBe(throttleBucket('token', '2001:db8:1:2:ffff::9'));
    expect(throttleBucket('token', '2001:db8:1:2::1')).not.toBe(throttleBucket('token', '2001:db8:1:3::1'));
  });
});

describe('addressKey', () => {
  it('normalises addresses', () => {
    expect(addressKey('127.0.0.1')).toBe('127.0.0.1');
    expect(addressKey('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKey('2001:db8:a:b:c:d:e:f')).toBe('2001:db8:a:b::/64');
    expect(addressKey('unknown')).toBe('unknown');
  });
});
