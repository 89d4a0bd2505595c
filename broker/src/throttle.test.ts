import { describe, expect, it } from 'vitest';
import { addressKey, createLoginThrottle, type LoginThrottleOptions } from './throttle.ts';

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
  return { clock, throttle: createLoginThrottle(options, clock) };
}

const fail = (t: ReturnType<typeof createLoginThrottle>, address: string, times: number) => {
  for (let i = 0; i < times; i++) t.failed(address);
};

describe('login slow-down', () => {
  it('lets the first three failures through at once, then doubles from 500 ms up to 30 s', () => {
    const { throttle } = setup();
    const delays: number[] = [];
    for (let i = 0; i < 12; i++) {
      delays.push(throttle.delayFor('10.0.0.1'));
      throttle.failed('10.0.0.1');
    }
    expect(delays).toEqual([0, 0, 0, 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  });

  it('keeps addresses apart', () => {
    const { throttle } = setup();
    fail(throttle, '10.0.0.1', 5);
    expect(throttle.delayFor('10.0.0.1')).toBe(2000);
    expect(throttle.delayFor('10.0.0.2')).toBe(0);
  });

  it('answers an unthrottled address without waiting', async () => {
    const { throttle } = setup();
    fail(throttle, '10.0.0.1', 2);
    expect(await throttle.admit('10.0.0.1')).toEqual({ go: true, waitedMs: 0 });
  });

  it('makes a throttled attempt wait its delay', async () => {
    const { clock, throttle } = setup();
    fail(throttle, '10.0.0.1', 3);
    let answer: unknown;
    void throttle.admit('10.0.0.1').then((a) => {
      answer = a;
    });
    await clock.advance(499);
    expect(answer).toBeUndefined();
    await clock.advance(1);
    expect(answer).toEqual({ go: true, waitedMs: 500 });
  });

  it('answers parallel attempts from one address one after the other', async () => {
    const { clock, throttle } = setup();
    fail(throttle, '10.0.0.1', 3);
    const answered: number[] = [];
    for (let i = 0; i < 3; i++) void throttle.admit('10.0.0.1').then(() => answered.push(clock.now()));
    const start = clock.now();
    for (let i = 0; i < 3; i++) await clock.advance(500);
    expect(answered.map((t) => t - start)).toEqual([500, 1000, 1500]);
  });

  it('refuses at once past the queue limit', async () => {
    const { throttle } = setup({ maxWaiting: 2 });
    fail(throttle, '10.0.0.1', 3);
    void throttle.admit('10.0.0.1');
    void throttle.admit('10.0.0.1');
    expect(await throttle.admit('10.0.0.1')).toEqual({ go: false });
  });

  it('is reset by a success', () => {
    const { throttle } = setup();
    fail(throttle, '10.0.0.1', 6);
    throttle.succeeded('10.0.0.1');
    expect(throttle.delayFor('10.0.0.1')).toBe(0);
    expect(throttle.size).toBe(0);
  });

  it('is not reset by a success once the address failed 20 times', () => {
    const { throttle } = setup();
    fail(throttle, '10.0.0.1', 20);
    throttle.succeeded('10.0.0.1');
    expect(throttle.delayFor('10.0.0.1')).toBe(30000);
  });

  it('forgets an address ten minutes after its last failure', async () => {
    const { clock, throttle } = setup();
    fail(throttle, '10.0.0.1', 4);
    await clock.advance(10 * 60_000);
    expect(throttle.delayFor('10.0.0.1')).toBe(1000);
    await clock.advance(1);
    expect(throttle.delayFor('10.0.0.1')).toBe(0);
    fail(throttle, '10.0.0.2', 1);
    await clock.advance(10 * 60_000 + 1);
    throttle.sweep();
    expect(throttle.size).toBe(0);
  });

  it('holds at most maxEntries addresses, dropping the oldest', () => {
    const { throttle } = setup({ maxEntries: 3 });
    for (const a of ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4']) fail(throttle, a, 3);
    expect(throttle.size).toBe(3);
    expect(throttle.delayFor('10.0.0.1')).toBe(0);
    expect(throttle.delayFor('10.0.0.4')).toBe(500);
  });

  it('counts an IPv6 /64 as one address', () => {
    const { throttle } = setup();
    throttle.failed('2001:db8:1:2::1');
    throttle.failed('2001:db8:1:2:ffff::9');
    throttle.failed('2001:0db8:0001:0002:aaaa:bbbb:cccc:dddd');
    expect(throttle.delayFor('2001:db8:1:2::77')).toBe(500);
    expect(throttle.delayFor('2001:db8:1:3::1')).toBe(0);
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
