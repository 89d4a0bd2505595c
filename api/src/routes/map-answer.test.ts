import { describe, expect, it } from 'vitest';
import { methodOf } from '../influx/map-points.ts';
import { correctionOf } from './map-answer.ts';

const cell = (count: number, corrected: number) => ({
  cell: 'gbwc9y',
  sum: 0,
  count,
  max: 0,
  devices: 1,
  corrected,
});

describe('what the map says of corrected PM', () => {
  it('gives the share of readings served corrected and the methods', () => {
    expect(correctionOf('pm25', true, [cell(4, 1), cell(3, 1)], new Set(['b@1', 'a@1']))).toEqual({
      used: true,
      methods: ['a@1', 'b@1'],
      share: 0.286,
    });
  });

  it('says when none was used, and is null for a metric without corrected values', () => {
    expect(correctionOf('pm10', true, [cell(2, 0)], new Set())).toEqual({
      used: false,
      methods: [],
      share: 0,
    });
    expect(correctionOf('pm25', false, [cell(2, 0)], new Set())).toMatchObject({
      used: false,
      reason: 'corrected=false asked',
    });
    expect(correctionOf('noise_laeq', true, [], new Set())).toBeNull();
  });

  it('reads a method from `pmc`, never a reason for none', () => {
    expect(methodOf('epa-barkjohn-2021@1')).toBe('epa-barkjohn-2021@1');
    expect(methodOf('none:no_humidity')).toBeUndefined();
    expect(methodOf(null)).toBeUndefined();
  });
});
