import { describe, expect, it } from 'vitest';
import { dailyIndicators, lden, parseEndPeriods } from './noise-indicators.ts';

const HOUR = 3_600_000;

describe('Lden (Directive 2002/49/EC, Annex I)', () => {
  it('closed forms: 5 dB and 10 dB penalties exactly offset 5 dB and 10 dB lower levels', () => {
    // (12·10^6 + 4·10^((55+5)/10) + 8·10^((50+10)/10)) / 24 = 24·10^6 / 24 → 60 dB
    expect(lden(60, 55, 50)).toBeCloseTo(60, 10);
    expect(lden(70, 65, 60)).toBeCloseTo(70, 10);
  });
  it('a constant 60 dB gives 66.40 dB Lden', () => {
    // (12·10^6 + 4·10^6.5 + 8·10^7)/24 = (12 + 12.6491 + 80)·10^6/24 = 4.36038·10^6; 10·lg = 66.3952 dB
    expect(lden(60, 60, 60)).toBeCloseTo(66.3952, 4);
  });
  it('weights follow the periods: France 06–18–22 keeps 12/4/8; a 3-hour evening weighs 12/3/9', () => {
    const fr = parseEndPeriods('06-18-22')!;
    expect(lden(60, 60, 60, fr)).toBeCloseTo(66.3952, 4);
    // (12·10^6 + 3·10^6.5 + 9·10^7)/24 = (12 + 9.4868 + 90)·10^6/24 = 4.645285·10^6 → 66.6701 dB
    expect(lden(60, 60, 60, parseEndPeriods('07-19-22')!)).toBeCloseTo(66.6701, 4);
    expect(parseEndPeriods('19-07-23')).toBeUndefined();
  });
});

/** Hourly levels of the UTC hours [from, to): `level(localHour)`, null for hours in `gaps`. */
function hours(from: number, to: number, level: (h: number) => number, offsetH: number, gaps: number[] = []) {
  const m = new Map<number, number | null>();
  for (let t = from; t < to; t += HOUR) {
    const local = (((t / HOUR + offsetH) % 24) + 24) % 24;
    m.set(t, gaps.includes(t) ? null : level(local));
  }
  return m;
}
const byPeriod = (h: number) => (h >= 7 && h < 19 ? 60 : h >= 19 && h < 23 ? 55 : 50);

describe('daily indicators in local time', () => {
  it('a synthetic summer day in Paris (UTC+2) gives the closed-form Lden of its period levels', () => {
    const from = Date.UTC(2026, 5, 10, 5); // 07:00 local
    const days = dailyIndicators(hours(from, from + 24 * HOUR, byPeriod, 2), 'Europe/Paris');
    expect(days).toHaveLength(1);
    expect(days[0]).toMatchObject({
      date: '2026-06-10',
      lday: { level: 60, hours: 12, of: 12, coverage: 1, complete: true },
      levening: { level: 55, hours: 4, of: 4 },
      lnight: { level: 50, hours: 8, of: 8 },
      lden: 60,
      complete: true,
    });
  });

  it('the night of the DST change lasts 9 hours (25 October 2026), and is weighted as such', () => {
    const from = Date.UTC(2026, 9, 24, 5); // 07:00 CEST on the 24th
    const to = Date.UTC(2026, 9, 25, 6); // 07:00 CET on the 25th
    const [d] = dailyIndicators(
      hours(from, to, () => 60, 0),
      'Europe/Paris',
    );
    expect(d!.date).toBe('2026-10-24');
    expect(d!.lnight).toMatchObject({ hours: 9, of: 9, level: 60 });
  });

  it('flags a period covered below the threshold, and gives no Lden without a night', () => {
    const from = Date.UTC(2026, 5, 10, 5);
    const night = Array.from({ length: 5 }, (_, i) => from + (16 + i) * HOUR);
    const [d] = dailyIndicators(hours(from, from + 24 * HOUR, byPeriod, 2, night), 'Europe/Paris');
    expect(d!.lnight).toMatchObject({ hours: 3, of: 8, coverage: 0.375, complete: false, level: 50 });
    expect(d!.complete).toBe(false);
    expect(d!.lden).toBe(60);
    const all = Array.from({ length: 8 }, (_, i) => from + (16 + i) * HOUR);
    const [e] = dailyIndicators(hours(from, from + 24 * HOUR, byPeriod, 2, all), 'Europe/Paris');
    expect(e!.lnight.level).toBeNull();
    expect(e!.lden).toBeNull();
  });
});
