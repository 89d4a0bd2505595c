import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration, parseTime } from './time.ts';

const NOW = Date.UTC(2026, 10, 22, 10, 15);

describe('durations', () => {
  it('reads s, m, h, d and w', () => {
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('5m')).toBe(300_000);
    expect(parseDuration('1h')).toBe(3_600_000);
    expect(parseDuration('7d')).toBe(604_800_000);
    expect(parseDuration('2w')).toBe(1_209_600_000);
  });

  it('refuses anything else', () => {
    for (const bad of ['', '0m', '1', 'h', '1.5h', '-1h', '1y', '1h;', '01h', '1H', '9999999d']) {
      expect(parseDuration(bad), bad).toBeUndefined();
    }
  });

  it('formats with the largest exact unit', () => {
    expect(formatDuration(3_600_000)).toBe('1h');
    expect(formatDuration(5_400_000)).toBe('90m');
    expect(formatDuration(86_400_000)).toBe('1d');
  });
});

describe('times', () => {
  it('reads relative times', () => {
    expect(parseTime('now', NOW)).toBe(NOW);
    expect(parseTime('-24h', NOW)).toBe(NOW - 86_400_000);
    expect(parseTime('now-90m', NOW)).toBe(NOW - 5_400_000);
  });

  it('reads ISO 8601 times with a zone, and bare dates as UTC midnight', () => {
    expect(parseTime('2026-11-22T10:00:00Z', NOW)).toBe(Date.UTC(2026, 10, 22, 10));
    expect(parseTime('2026-11-22T11:00:00+01:00', NOW)).toBe(Date.UTC(2026, 10, 22, 10));
    expect(parseTime('2026-11-22T10:00:00.250Z', NOW)).toBe(Date.UTC(2026, 10, 22, 10, 0, 0, 250));
    expect(parseTime('2026-11-22', NOW)).toBe(Date.UTC(2026, 10, 22));
  });

  it('refuses times without a zone, impossible dates, far years and other text', () => {
    for (const bad of [
      '',
      'now+1h',
      '-1h-1h',
      '2026-11-22T10:00:00',
      '2026-13-01',
      '1969-01-01',
      'yesterday',
      "now' OR 1=1",
    ]) {
      expect(parseTime(bad, NOW), bad).toBeUndefined();
    }
  });
});
