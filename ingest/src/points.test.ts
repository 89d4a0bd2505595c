import { METRIC_NAMES, type MetricValues } from '@citytel/contract';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeReading, lineText, nanos, num, ReadingPoint, readingLineOf, Series } from './points.ts';

const RUNS = Number(process.env.PROPERTY_RUNS ?? 10_000);
const TIMEOUT = { timeout: 120_000 };

/** `num` before the writer encoded points itself: the text every number must keep. */
function numBefore(v: number): string {
  const t = String(v);
  return t.length > 15 ? String(Number(v.toPrecision(12))) : t;
}

const series = new Series('readings,device=kit-1,gh=gbwcu5,kind=native,loc=fixed', 'lat=48.1113,lon=-1.68,');

/** What the writer puts in its body for a point, as text. */
function encoded(p: ReadingPoint, at = 0): string {
  const buf = Buffer.alloc(at + p.series.maxBytes, 0x7e);
  const end = encodeReading(p, buf, at);
  expect(buf[end]).toBe(0x7e); // nothing written past the end it returns
  return buf.toString('latin1', at, end);
}

/** Doubles of every kind: any bit pattern, sensor-like decimals, integers, edges. */
const finite = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc
    .integer({ min: -1_000_000, max: 1_000_000 })
    .chain((k) => fc.constantFrom(k, k / 10, k / 100, k / 1000, k / 10_000, (k / 10) * 3, k * 1.1)),
  fc.double({ min: -1e13, max: 1e13, noNaN: true }),
  fc.constantFrom(0, -0, 0.1 + 0.2, 1e12, -1e12, 999_999_999_999.9, 1e-7, 5e-324, 1.005, 2 ** 53, 1e21),
  // Around the bounds of the 32-bit path for sensor-like values (|v| < 2 000 000, thousandths).
  fc.constantFrom(
    1_999_999.999,
    -1_999_999.999,
    2e6,
    -2e6,
    0.0005,
    -0.0005,
    1.0005,
    -0.001,
    0.1,
    2147483.647,
  ),
  fc.integer({ min: -2_000_001_000, max: 2_000_001_000 }).map((k) => k / 1000),
);

/** Epoch ms: anything a Date holds, and times since 1970 (the usual ones) with their edges. */
const times = fc.oneof(
  fc.integer({ min: -8.64e15, max: 8.64e15 }),
  fc.integer({ min: 0, max: 1e13 + 10 }),
  fc.integer({ min: 1_700_000_000_000, max: 1_900_000_000_000 }),
  fc.constantFrom(0, 1, 999_999, 1_000_000, 1_000_001, 9_999_999_999_999, 1e13, -1, -1_000_000),
);

describe('points encoded into the write body', () => {
  it('write every finite number as the text of num, which is what it was before', TIMEOUT, () => {
    fc.assert(
      fc.property(finite, (v) => {
        expect(num(v)).toBe(numBefore(v));
        const p = new ReadingPoint(series, { pm25: v }, 'broker', 1_795_860_900_123, 0);
        expect(encoded(p)).toBe(
          `${series.key} pm25=${numBefore(v)},${series.position}tsrc="broker" 1795860900123000000`,
        );
      }),
      { numRuns: RUNS * 5 },
    );
  });

  it('give the bytes of lineText and readingLineOf for any values, source and time', TIMEOUT, () => {
    const values: fc.Arbitrary<MetricValues> = fc.dictionary(
      fc.constantFrom(...METRIC_NAMES),
      finite,
    ) as fc.Arbitrary<MetricValues>;
    fc.assert(
      fc.property(
        values,
        fc.constantFrom('device', 'broker', 'ingest' as const),
        times,
        fc.nat({ max: 3_000_000 }),
        fc.nat({ max: 100 }),
        (v, source, ms, offset, at) => {
          const p = new ReadingPoint(series, v, source, ms, offset);
          const text = readingLineOf(series.key, v, series.position, source, nanos(new Date(ms), offset));
          expect(lineText(p)).toBe(text);
          expect(encoded(p, at)).toBe(text);
          expect(text.length + 1).toBeLessThanOrEqual(series.maxBytes);
        },
      ),
      { numRuns: RUNS },
    );
  });
});
