import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { deviceTimeMs } from './reading.ts';

/** deviceTimeMs before ISO text was read by hand: the answers it must keep, rejections included. */
function deviceTimeMsBefore(raw: unknown): number | undefined {
  let ms: number | undefined;
  if (typeof raw === 'number' && Number.isFinite(raw)) ms = raw > 1e12 ? raw : raw * 1000;
  else if (typeof raw === 'string' && /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}/.test(raw)) ms = Date.parse(raw);
  if (ms === undefined || !Number.isFinite(ms) || Math.abs(ms) > 8.64e15) return undefined;
  return ms;
}

const pad = (n: number, w: number) => String(n).padStart(w, '0');

/** ISO-shaped text with every field anywhere in (and past) its range, sometimes one character changed. */
const isoLike = fc
  .tuple(
    fc.integer({ min: 0, max: 9999 }),
    fc.integer({ min: 0, max: 99 }),
    fc.integer({ min: 0, max: 99 }),
    fc.integer({ min: 0, max: 99 }),
    fc.integer({ min: 0, max: 99 }),
    fc.integer({ min: 0, max: 99 }),
    fc.option(fc.integer({ min: 0, max: 999 })),
    fc.constantFrom('Z', 'z', '+02:00', '', 'Z '),
    fc.constantFrom('T', ' ', 't'),
  )
  .map(
    ([y, mo, d, h, mi, s, ms, zone, sep]) =>
      `${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)}${sep}${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}${ms === null ? '' : `.${pad(ms, 3)}`}${zone}`,
  );
const plausible = fc
  .date({ min: new Date('1900-01-01T00:00:00Z'), max: new Date('2200-01-01T00:00:00Z'), noInvalidDate: true })
  .chain((t) => fc.constantFrom(t.toISOString(), t.toISOString().replace(/\.\d{3}Z$/, 'Z')));
const mutated = fc
  .tuple(fc.oneof(isoLike, plausible), fc.nat(30), fc.string({ maxLength: 1 }))
  .map(([s, at, c]) => s.slice(0, at) + c + s.slice(at + 1));

describe('device time', () => {
  it('reads ISO text as Date.parse did, rejections included', () => {
    fc.assert(
      fc.property(fc.oneof(isoLike, plausible, mutated, fc.string()), (s) => {
        expect(deviceTimeMs(s)).toBe(deviceTimeMsBefore(s));
      }),
      { numRuns: 50_000 },
    );
  });

  it('reads epoch numbers and refuses anything else, as before', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.double(), fc.integer(), fc.constantFrom(null, true, {}, [], undefined)),
        (v) => {
          expect(deviceTimeMs(v)).toBe(deviceTimeMsBefore(v));
        },
      ),
    );
  });
});
