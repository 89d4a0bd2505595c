import { describe, expect, it } from 'vitest';
import {
  and,
  call,
  InfluxqlError,
  ident,
  num,
  oneOf,
  select,
  str,
  tagEquals,
  time,
  timeRange,
} from './influxql.ts';

describe('escaping', () => {
  it('quotes identifiers and escapes their quotes and backslashes', () => {
    expect(ident('pm25')).toBe('"pm25"');
    expect(ident('a"b\\c')).toBe('"a\\"b\\\\c"');
  });

  it('quotes string literals so that a quote in a value cannot end them', () => {
    expect(str('kit-1')).toBe("'kit-1'");
    expect(str("x' OR 1=1 --")).toBe("'x\\' OR 1=1 --'");
    expect(str("a\\'b")).toBe("'a\\\\\\'b'");
  });

  it('refuses control characters that would split a statement', () => {
    expect(() => str('a\nDROP DATABASE x')).toThrow(InfluxqlError);
    expect(() => ident('a\rb')).toThrow(InfluxqlError);
  });

  it('writes numbers without exponents and refuses NaN', () => {
    expect(num(48.1113)).toBe('48.1113');
    expect(num(-1.68)).toBe('-1.68');
    expect(num(1e-7)).toBe('0.0000001');
    expect(num(12)).toBe('12');
    expect(() => num(Number.NaN)).toThrow(InfluxqlError);
  });

  it('writes times as integer milliseconds', () => {
    expect(time(1764064800000)).toBe('1764064800000ms');
    expect(() => time(1.5)).toThrow(InfluxqlError);
  });

  it('builds regex alternations only from plain cells and ids', () => {
    expect(oneOf(['gbsuv7', 'gbsuv8'])).toBe('/^(?:gbsuv7|gbsuv8)$/');
    expect(oneOf(['gbs'], true)).toBe('/^(?:gbs)/');
    expect(() => oneOf(['a/b'])).toThrow(InfluxqlError);
    expect(() => oneOf(['.*'])).toThrow(InfluxqlError);
    expect(() => oneOf([])).toThrow(InfluxqlError);
  });
});

describe('builders', () => {
  it('assembles a SELECT with a half-open time range, tags and buckets', () => {
    const q = select({
      fields: [call('mean', 'pm25'), call('p95', 'pm25')],
      from: 'readings',
      where: and(tagEquals('device', 'kit-1'), timeRange(1000, 2000)),
      groupBy: [{ time: 3_600_000 }, 'device'],
      fill: 'null',
    });
    expect(q).toBe(
      `SELECT mean("pm25"), percentile("pm25", 95) FROM "readings" WHERE ("device" = 'kit-1') AND ` +
        `(time >= 1000ms AND time < 2000ms) GROUP BY time(3600000ms), "device" fill(null)`,
    );
  });

  it('leaves out empty conditions', () => {
    expect(and(undefined, 'a', false, '')).toBe('(a)');
  });
});
