import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { resolveTime } from './reading.ts';
import { stamp, unstamp } from './stamp.ts';

describe('broker receive-time stamp', () => {
  it('round-trips any payload', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 200 }),
        fc.integer({ min: 0, max: 4102444800000 }),
        (bytes, ms) => {
          const out = unstamp(stamp(Buffer.from(bytes), ms));
          expect(out.receivedAt?.getTime()).toBe(ms);
          expect(Buffer.compare(out.payload, Buffer.from(bytes))).toBe(0);
        },
      ),
    );
  });
  it('leaves an unstamped payload alone', () => {
    expect(unstamp(Buffer.from('{"pm25":1}'))).toEqual({ payload: Buffer.from('{"pm25":1}') });
    for (const odd of [
      '\x00\x00{}',
      '\x00 12\x00{}',
      '\x00-5\x00{}',
      '\x0012345678901234567\x00{}',
      '\x00123',
    ])
      expect(unstamp(Buffer.from(odd, 'latin1')).receivedAt).toBeUndefined();
  });
});

describe('time resolution', () => {
  const rx = new Date('2026-11-22T10:15:00Z');
  it('keeps a plausible device time', () => {
    const t = new Date('2026-11-22T10:14:00Z');
    expect(resolveTime(t, rx)).toEqual({ ts: t, source: 'device' });
    expect(resolveTime(new Date(rx.getTime() + 299_000), rx).source).toBe('device');
  });
  it('uses the broker time when absent, too far in the future, or from an unset clock', () => {
    expect(resolveTime(undefined, rx)).toEqual({ ts: rx, source: 'broker' });
    expect(resolveTime(new Date(rx.getTime() + 301_000), rx)).toEqual({ ts: rx, source: 'broker' });
    expect(resolveTime(new Date('1970-01-01T00:00:10Z'), rx)).toEqual({ ts: rx, source: 'broker' });
    expect(resolveTime(new Date(Number.NaN), rx)).toEqual({ ts: rx, source: 'broker' });
  });
});
