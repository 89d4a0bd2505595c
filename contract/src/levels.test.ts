import { describe, expect, it } from 'vitest';
import { energyMean, energyToLevel, levelToEnergy, meanOfSum, summand } from './levels.ts';

describe('energy-mean of levels (ISO 1996-1)', () => {
  it('60 and 70 dB(A) average to 67.4, not 65', () => {
    // 10·lg((10^6 + 10^7)/2) = 10·lg(5.5·10^6) = 60 + 10·lg(5.5) = 60 + 7.4036 = 67.4036
    expect(energyMean([60, 70])).toBeCloseTo(67.4036, 4);
  });
  it('equal levels average to themselves; a level ten times as often adds 10 dB', () => {
    expect(energyMean([55, 55, 55])).toBeCloseTo(55, 10);
    // 10 dB above another over half the time: 10·lg((1 + 10)/2) = 7.4036 above the lower.
    expect(energyMean([40, 50])).toBeCloseTo(47.4036, 4);
  });
  it('80 dB for 1 of 4 quarters with 50 dB otherwise: 10·lg((10^8 + 3·10^5)/4) = 74.0', () => {
    // (1e8 + 3e5)/4 = 25 075 000; 10·lg(2.5075e7) = 73.9924
    expect(energyMean([80, 50, 50, 50])).toBeCloseTo(73.9924, 4);
  });
  it('sums combine: the mean of two halves equals the mean of the whole', () => {
    const a = [61, 63, 70].map((v) => summand('noise_laeq', v)).reduce((x, y) => x + y);
    const b = [52, 58].map((v) => summand('noise_laeq', v)).reduce((x, y) => x + y);
    expect(meanOfSum('noise_laeq', a + b, 5)).toBeCloseTo(energyMean([61, 63, 70, 52, 58]), 10);
  });
  it('other metrics keep the arithmetic mean', () => {
    expect(meanOfSum('pm25', summand('pm25', 10) + summand('pm25', 20), 2)).toBe(15);
  });
  it('energy and level are inverse', () => {
    expect(levelToEnergy(60)).toBeCloseTo(1e6, 3);
    expect(energyToLevel(1e7)).toBeCloseTo(70, 10);
  });
});
