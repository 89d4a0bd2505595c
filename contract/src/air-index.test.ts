import { describe, expect, it } from 'vitest';
import { airIndex, EAQI_PERIODS } from './air-index.ts';

const HOUR = 3_600_000;
const TO = Date.UTC(2026, 10, 22, 12);
const hourly = (hours: number, v: (i: number) => number, skip: number[] = []) =>
  Array.from({ length: hours }, (_, i) => i)
    .filter((i) => !skip.includes(i))
    .map((i) => ({ t: TO - (hours - i) * HOUR + 10 * 60_000, v: v(i) }));

describe('EEA air quality index periods', () => {
  it('PM on a 24-hour running mean, NO2 and O3 hourly', () => {
    expect(EAQI_PERIODS.pm25).toMatchObject({ ms: 24 * HOUR, label: '24-hour running mean' });
    expect(EAQI_PERIODS.pm10.ms).toBe(24 * HOUR);
    expect(EAQI_PERIODS.no2).toMatchObject({ ms: HOUR, label: 'hourly mean' });
    expect(EAQI_PERIODS.o3.ms).toBe(HOUR);
  });

  it('a PM2.5 index is the band of the 24-hour mean, not of the last hour', () => {
    // 23 hours at 10 and one at 130: the mean is (23·10 + 130)/24 = 15 → "fair" (5 < x ≤ 15); the last hour alone would be "very poor".
    const idx = airIndex(
      'pm25',
      hourly(24, (i) => (i === 23 ? 130 : 10)),
      TO - 48 * HOUR,
      TO,
    );
    expect(idx.value).toBeCloseTo(15, 10);
    expect(idx.band?.label).toBe('fair');
    expect(idx).toMatchObject({ period: '24-hour running mean', from: TO - 24 * HOUR, to: TO, coverage: 1 });
  });

  it('refuses a PM index from a window shorter than 24 hours', () => {
    const idx = airIndex(
      'pm25',
      hourly(6, () => 80),
      TO - 6 * HOUR,
      TO,
    );
    expect(idx).toMatchObject({ value: null, band: null, insufficient: 'window_too_short', coverage: 0.25 });
  });

  it('refuses a PM index from fewer than 18 of its 24 hours, gives one from 18', () => {
    const seven = [0, 1, 2, 3, 4, 5, 6];
    expect(
      airIndex(
        'pm10',
        hourly(24, () => 20, seven),
        TO - 24 * HOUR,
        TO,
      ),
    ).toMatchObject({
      value: null,
      insufficient: 'incomplete',
      coverage: 17 / 24,
    });
    const six = [0, 1, 2, 3, 4, 5];
    expect(
      airIndex(
        'pm10',
        hourly(24, () => 20, six),
        TO - 24 * HOUR,
        TO,
      ),
    ).toMatchObject({
      value: 20,
      band: { label: 'fair' },
      coverage: 0.75,
    });
  });

  it('an NO2 index from the last hour, with three of its quarter hours at least', () => {
    const q = (minutes: number[], v: number) => minutes.map((m) => ({ t: TO - HOUR + m * 60_000, v }));
    expect(airIndex('no2', q([1, 16, 31], 30), TO - HOUR, TO)).toMatchObject({
      value: 30,
      band: { label: 'moderate' },
      period: 'hourly mean',
    });
    expect(airIndex('no2', q([1, 2, 50], 30), TO - HOUR, TO)).toMatchObject({
      value: null,
      insufficient: 'incomplete',
    });
  });
});
