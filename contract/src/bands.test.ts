import { describe, expect, it } from 'vitest';
import { bandFor, legendFor } from './bands.ts';

describe('EEA air quality index bands', () => {
  it.each([
    ['pm25', 5, 1],
    ['pm25', 5.1, 2],
    ['pm25', 15, 2],
    ['pm25', 50, 3],
    ['pm25', 90, 4],
    ['pm25', 140, 5],
    ['pm25', 141, 6],
    ['pm10', 15, 1],
    ['pm10', 45.5, 3],
    ['pm10', 270, 5],
    ['pm10', 271, 6],
    ['no2', 10, 1],
    ['no2', 26, 3],
    ['no2', 151, 6],
    ['o3', 60, 1],
    ['o3', 100, 2],
    ['o3', 181, 6],
  ] as const)('%s %d is level %d', (metric, value, level) => {
    expect(bandFor(metric, value)?.level).toBe(level);
  });

  it('labels and colours as the contract says', () => {
    expect(bandFor('pm25', 8.2)).toEqual({ level: 2, label: 'fair', color: '#50ccaa' });
    expect(bandFor('pm25', 2)).toEqual({ level: 1, label: 'good', color: '#50f0e6' });
    expect(bandFor('no2', 500)).toEqual({ level: 6, label: 'extremely poor', color: '#7d2181' });
  });
});

describe('noise classes', () => {
  it.each([
    [39.9, 1, '<40'],
    [40, 2, '40–44'],
    [44.9, 2, '40–44'],
    [53, 4, '50–54'],
    [79.9, 9, '75–79'],
    [80, 10, '≥80'],
  ])('%d dB(A) is class %d', (value, level, label) => {
    expect(bandFor('noise_laeq', value)).toMatchObject({ level, label });
  });
});

describe('legend', () => {
  it('has the six EAQI bands with their ranges', () => {
    const l = legendFor('pm25');
    expect(l.map((b) => b.label)).toEqual([
      'good',
      'fair',
      'moderate',
      'poor',
      'very poor',
      'extremely poor',
    ]);
    expect(l[0]).toMatchObject({ from: null, to: 5 });
    expect(l[5]).toMatchObject({ from: 140, to: null });
  });
  it('is empty for a metric without an index', () => {
    expect(legendFor('temperature')).toEqual([]);
    expect(bandFor('temperature', 10)).toBeUndefined();
  });
});
