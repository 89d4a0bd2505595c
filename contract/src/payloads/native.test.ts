import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { METRIC_NAMES, METRICS, type MetricValues } from '../metrics.ts';
import { checkMetric, type FieldRejection } from '../reading.ts';
import { decodeNative } from './native.ts';

const example = {
  ts: '2026-11-22T10:15:00Z',
  lat: 48.1113,
  lon: -1.68,
  pm1: 4.1,
  pm25: 8.2,
  pm10: 14.0,
  no2: 21.0,
  o3: 40.0,
  co: 0.3,
  noise_laeq: 58.4,
  temperature: 11.2,
  humidity: 71.0,
  pressure: 1012.3,
  light: 320,
};

describe('native reading', () => {
  it('decodes the contract example exactly', () => {
    const r = decodeNative(JSON.stringify(example));
    expect(r.error).toBeUndefined();
    expect(r.rejections).toEqual([]);
    expect(r.readings).toEqual([
      {
        ts: new Date('2026-11-22T10:15:00Z'),
        position: { lat: 48.1113, lon: -1.68 },
        values: {
          pm1: 4.1,
          pm25: 8.2,
          pm10: 14,
          no2: 21,
          o3: 40,
          co: 0.3,
          noise_laeq: 58.4,
          temperature: 11.2,
          humidity: 71,
          pressure: 1012.3,
          light: 320,
        },
      },
    ]);
  });

  it('decodes a batch', () => {
    const r = decodeNative(JSON.stringify({ readings: [{ pm25: 1 }, { pm25: 2, ts: 1764000000 }] }));
    expect(r.readings.map((x) => x.values.pm25)).toEqual([1, 2]);
    expect(r.readings[1]?.ts).toEqual(new Date(1764000000 * 1000));
  });

  it('accepts a reading without time or position (fixed kit, broker time)', () => {
    const r = decodeNative('{"pm25":3}');
    expect(r.readings).toEqual([{ values: { pm25: 3 } }]);
  });

  describe.each(METRIC_NAMES)('field %s', (m) => {
    const { min, max } = METRICS[m];
    it('is dropped below its range, the rest kept', () => {
      const r = decodeNative(JSON.stringify({ [m]: min - 1, ...(m === 'pm25' ? { pm10: 3 } : { pm25: 3 }) }));
      expect(r.readings[0]?.values[m]).toBeUndefined();
      expect(r.rejections).toEqual([expect.objectContaining({ field: m, reason: 'out_of_range' })]);
      expect(r.readings[0]?.values[m === 'pm25' ? 'pm10' : 'pm25']).toBe(3);
    });
    it('is dropped above its range', () => {
      const r = decodeNative(JSON.stringify({ [m]: max + 1 }));
      expect(r.error?.reason).toBe('no_valid_values');
      expect(r.rejections[0]).toMatchObject({ field: m, reason: 'out_of_range' });
    });
    it('keeps its bounds', () => {
      expect(decodeNative(JSON.stringify({ [m]: min })).readings[0]?.values[m]).toBe(min);
      expect(decodeNative(JSON.stringify({ [m]: max })).readings[0]?.values[m]).toBe(max);
    });
    it('is dropped when not a number', () => {
      const r = decodeNative(JSON.stringify({ [m]: '12', pm1: m === 'pm1' ? '1' : 1 }));
      expect(r.rejections[0]).toMatchObject({ field: m, reason: 'wrong_type' });
    });
  });

  it('rejects negative particles and humidity over 100 as the contract says', () => {
    const r = decodeNative('{"pm25":-1,"humidity":101,"temperature":5}');
    expect(r.readings[0]?.values).toEqual({ temperature: 5 });
    expect(r.rejections.map((x) => x.field)).toEqual(['pm25', 'humidity']);
  });

  it('drops a position at 0,0 or outside the earth, keeping the values', () => {
    for (const [lat, lon] of [
      [0, 0],
      [91, 2],
      [45, 181],
      [-90.5, 0],
    ]) {
      const r = decodeNative(JSON.stringify({ lat, lon, pm25: 4 }));
      expect(r.readings[0]).toEqual({ values: { pm25: 4 } });
      expect(r.rejections[0]?.reason).toBe('bad_position');
    }
  });

  it('drops a time beyond what a date can hold', () => {
    const r = decodeNative('{"ts":1e308,"pm25":4}');
    expect(r.readings[0]).toEqual({ values: { pm25: 4 } });
    expect(r.rejections[0]).toMatchObject({ field: 'ts', reason: 'bad_time' });
  });

  it('drops an unparseable time, keeping the values', () => {
    const r = decodeNative('{"ts":"yesterday","pm25":4}');
    expect(r.readings[0]).toEqual({ values: { pm25: 4 } });
    expect(r.rejections[0]).toMatchObject({ field: 'ts', reason: 'bad_time' });
  });

  it('rejects what is not JSON, not an object, or empty', () => {
    expect(decodeNative('pm25=3').error?.reason).toBe('not_json');
    expect(decodeNative('[1,2]').error?.reason).toBe('schema');
    expect(decodeNative('{}').error?.reason).toBe('no_valid_values');
    expect(decodeNative('{"readings":3}').error?.reason).toBe('schema');
  });

  it('refuses batches over 1000 readings', () => {
    const readings = Array.from({ length: 1001 }, () => ({ pm25: 1 }));
    expect(decodeNative(JSON.stringify({ readings })).error?.reason).toBe('too_many_readings');
  });

  it('reports unknown fields without losing the reading', () => {
    const r = decodeNative('{"pm25":4,"pm4":3}');
    expect(r.readings[0]?.values).toEqual({ pm25: 4 });
    expect(r.rejections[0]).toMatchObject({ field: 'pm4', reason: 'schema' });
  });
});

describe('native values, read by their own keys', () => {
  /** The values and rejections as decodeOne found them before, every metric looked up by name. */
  function before(o: Record<string, unknown>) {
    const rejections: FieldRejection[] = [];
    const values: MetricValues = {};
    for (const m of METRIC_NAMES) {
      const v = checkMetric(m, o[m], m, rejections);
      if (v !== undefined) values[m] = v;
    }
    for (const k in o) {
      if (!['ts', 'lat', 'lon', ...METRIC_NAMES].includes(k))
        rejections.push({ field: k, reason: 'schema', detail: `unknown field ${k}` });
    }
    return { values, rejections };
  }

  it('keeps the same values, in the same order, and the same rejections, whatever the keys', () => {
    const key = fc.oneof(
      fc.constantFrom(...METRIC_NAMES, 'ts', 'lat', 'lon'),
      fc.constantFrom('x', '__proto__', 'PM25'),
    );
    const value = fc.oneof(
      fc.double({ min: -100, max: 3000, noNaN: true }),
      fc.integer({ min: 0, max: 100 }),
      fc.constantFrom(null, '12', true, 1e308),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(key, value), { maxLength: 8 }), fc.boolean(), (unordered, sort) => {
        // Sorted in METRIC_NAMES order half the time, as kits send them (the reading read fastest).
        const rank = (k: string) => METRIC_NAMES.indexOf(k as never);
        const pairs = sort ? [...unordered].sort((a, b) => rank(a[0]) - rank(b[0])) : unordered;
        // Built as JSON text, as it arrives: every order of keys, repeated keys, `__proto__` as a key.
        const text = `{${pairs.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`;
        const o = JSON.parse(text) as Record<string, unknown>;
        const want = before(o);
        const got = decodeNative(text);
        const metricRejections = got.rejections.filter((r) => r.field !== 'position' && r.field !== 'ts');
        expect(metricRejections).toEqual(want.rejections);
        const values = got.readings[0]?.values ?? {};
        expect(Object.entries(values)).toEqual(Object.entries(want.values));
      }),
      { numRuns: 20_000 },
    );
  });
});
