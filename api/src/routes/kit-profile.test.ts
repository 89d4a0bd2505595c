import { describe, expect, it } from 'vitest';
import { hourProfile, median } from './kit-profile.ts';

describe('median', () => {
  it('is the middle value, or the mean of the two middle ones', () => {
    expect(median([])).toBeNull();
    expect(median([7])).toBe(7);
    expect(median([40, 15, 30])).toBe(30);
    expect(median([5, 7])).toBe(6);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });
});

describe('hourProfile', () => {
  it('follows daylight saving time: Paris changes from UTC+1 to UTC+2 at 01:00 UTC on 29 March 2026', () => {
    const hours = hourProfile(
      [
        [Date.parse('2026-03-29T00:00:00Z'), 10], // 01:00 CET
        [Date.parse('2026-03-29T01:00:00Z'), 20], // 03:00 CEST (02:00 does not exist that day)
        [Date.parse('2026-03-30T01:00:00Z'), 40], // 03:00 CEST
        [Date.parse('2026-10-25T00:00:00Z'), 30], // 02:00 CEST
        [Date.parse('2026-10-25T01:00:00Z'), 50], // 02:00 CET again: the hour that happens twice
      ],
      'Europe/Paris',
    );
    expect(hours[1]).toEqual({ hour: 1, v: 10, n: 1 });
    expect(hours[2]).toEqual({ hour: 2, v: 40, n: 2 });
    expect(hours[3]).toEqual({ hour: 3, v: 30, n: 2 });
    expect(hours.filter((h) => h.n > 0)).toHaveLength(3);
  });
});
