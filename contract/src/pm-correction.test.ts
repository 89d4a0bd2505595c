import { describe, expect, it } from 'vitest';
import { correctPm, epaPms5003, kappaKohler, kappaKohlerFactor, pmFamilyOf } from './pm-correction.ts';

describe('US EPA correction for PMS5003 (Barkjohn et al. 2021)', () => {
  it.each([
    // 0.524·20 − 0.0862·50 + 5.75 = 10.48 − 4.31 + 5.75 = 11.92
    [20, 50, 11.92],
    // 0.524·50 − 0.0862·80 + 5.75 = 26.2 − 6.896 + 5.75 = 25.054
    [50, 80, 25.054],
    // 0.524·10 − 0.0862·30 + 5.75 = 5.24 − 2.586 + 5.75 = 8.404
    [10, 30, 8.404],
    // 0.524·0 − 0.0862·95 + 5.75 = −2.439 → 0
    [0, 95, 0],
  ])('PM2.5 %s at %s %%RH → %s', (pm, rh, expected) => {
    expect(epaPms5003(pm, rh)).toBeCloseTo(expected, 9);
  });
});

describe('κ-Köhler growth factor (Crilley et al. 2018, eq. 2), κ = 0.4', () => {
  it.each([
    // a_w = 0.5: −1 + 1/0.5 = 1;    C = 1 + 0.4/1.65 = 1.2424242;  20 / C = 16.097561
    [50, 1.2424242, 16.097561],
    // a_w = 0.8: −1 + 1.25 = 0.25;  C = 1 + 0.2424242/0.25 = 1.9696970;  20 / C = 10.153846
    [80, 1.969697, 10.153846],
    // a_w = 0.9: −1 + 1.1111 = 0.1111;  C = 1 + 0.2424242·9 = 3.1818182;  20 / C = 6.2857143
    [90, 3.1818182, 6.2857143],
    // a_w = 0.3: −1 + 3.3333 = 2.3333;  C = 1 + 0.2424242/2.3333 = 1.1038961;  20 / C = 18.117647
    [30, 1.1038961, 18.117647],
  ])('at %s %%RH C = %s, 20 µg/m³ → %s', (rh, c, pm) => {
    expect(kappaKohlerFactor(rh)).toBeCloseTo(c, 6);
    expect(kappaKohler(20, rh)).toBeCloseTo(pm, 5);
  });
});

describe('correctPm chooses by what the kit reports', () => {
  it('by sensor family, with the method named', () => {
    expect(pmFamilyOf('SDS011')).toBe('nova');
    expect(pmFamilyOf('PMS5003')).toBe('plantower');
    expect(correctPm('pm25', 20, 50, 'plantower')).toMatchObject({ method: { id: 'epa-barkjohn-2021' } });
    expect(correctPm('pm10', 20, 50, 'nova')).toMatchObject({ method: { id: 'kappa-kohler-crilley-2018' } });
  });
  it('and says why there is no corrected value', () => {
    expect(correctPm('pm25', 20, undefined, 'nova')).toEqual({ value: null, reason: 'no_humidity' });
    expect(correctPm('pm25', 20, 50, undefined)).toEqual({ value: null, reason: 'unknown_sensor' });
    expect(correctPm('pm25', 20, 100, 'nova')).toEqual({ value: null, reason: 'humidity_out_of_range' });
    expect(correctPm('pm10', 20, 50, 'plantower')).toEqual({ value: null, reason: 'not_corrected_metric' });
  });
});
