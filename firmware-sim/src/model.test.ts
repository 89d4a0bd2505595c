import { METRIC_NAMES, METRICS, type Metric } from '@citytel/contract';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RENNES } from './city.ts';
import { createModel, diurnalShape, trafficFactor } from './model.ts';

const model = createModel({ seed: 7, city: RENNES });
/** On the Quais, beside République: a busy street. */
const roadside = { id: 'kit-road', position: { lat: 48.1097, lon: -1.6835 } };
/** Inside the Thabor park area, far from the main roads of the map. */
const quiet = { id: 'kit-quiet', position: { lat: 48.0905, lon: -1.7205 } };
/** A Tuesday in November, local time (UTC+1). */
const at = (hour: number, minute = 0) => Date.UTC(2026, 10, 24, hour - 1, minute);
/** Mean of a metric over an hour's minutes, so the per-second jitter does not decide a comparison. */
function hourMean(site: typeof roadside, hour: number, metric: Metric): number {
  let sum = 0;
  for (let m = 0; m < 60; m++) sum += model.values(site, at(hour, m))[metric]!;
  return sum / 60;
}

describe('model', () => {
  it('has a morning and an evening traffic peak above the night', () => {
    expect(trafficFactor(8, 2)).toBeGreaterThan(3 * trafficFactor(3, 2));
    expect(trafficFactor(18, 2)).toBeGreaterThan(3 * trafficFactor(3, 2));
    for (const metric of ['pm25', 'no2'] as const) {
      const night = hourMean(roadside, 3, metric);
      expect(hourMean(roadside, 8, metric)).toBeGreaterThan(night * 1.3);
      expect(hourMean(roadside, 18, metric)).toBeGreaterThan(night * 1.3);
    }
  });

  it('is dirtier and louder near a main road', () => {
    expect(model.roadProximity(roadside.position)).toBeGreaterThan(0.5);
    expect(model.roadProximity(quiet.position)).toBeLessThan(0.05);
    expect(hourMean(roadside, 8, 'no2')).toBeGreaterThan(hourMean(quiet, 8, 'no2') * 1.5);
    expect(hourMean(roadside, 8, 'pm25')).toBeGreaterThan(hourMean(quiet, 8, 'pm25'));
  });

  it('gives 55–70 dB(A) near roads by day and 40–50 in quiet streets at night', () => {
    const roadDay = hourMean(roadside, 17, 'noise_laeq');
    const quietNight = hourMean(quiet, 3, 'noise_laeq');
    expect(roadDay).toBeGreaterThanOrEqual(55);
    expect(roadDay).toBeLessThanOrEqual(72);
    expect(quietNight).toBeGreaterThanOrEqual(38);
    expect(quietNight).toBeLessThanOrEqual(50);
  });

  it('puts ozone highest in the afternoon and lowest where NO2 is high', () => {
    expect(hourMean(quiet, 15, 'o3')).toBeGreaterThan(hourMean(quiet, 6, 'o3'));
    expect(hourMean(quiet, 8, 'o3')).toBeGreaterThan(hourMean(roadside, 8, 'o3'));
  });

  it('is coldest at dawn and warmest mid-afternoon, humidity the other way', () => {
    expect(diurnalShape(6)).toBeCloseTo(-1);
    expect(diurnalShape(15)).toBeCloseTo(1);
    expect(hourMean(quiet, 15, 'temperature')).toBeGreaterThan(hourMean(quiet, 6, 'temperature') + 3);
    expect(hourMean(quiet, 6, 'humidity')).toBeGreaterThan(hourMean(quiet, 15, 'humidity') + 5);
  });

  it('keeps PM10 at 1.3–1.8 × PM2.5 and PM1 near 0.7 × PM2.5', () => {
    for (let h = 0; h < 24; h++) {
      const v = model.values(roadside, at(h));
      expect(v.pm10! / v.pm25!).toBeGreaterThanOrEqual(1.28);
      expect(v.pm10! / v.pm25!).toBeLessThanOrEqual(1.82);
      expect(v.pm1! / v.pm25!).toBeGreaterThan(0.55);
      expect(v.pm1! / v.pm25!).toBeLessThan(0.85);
    }
  });

  it('is dark at night and bright at noon; pressure stays near 1013 hPa', () => {
    expect(model.values(quiet, at(2)).light!).toBeLessThan(20);
    expect(model.values(quiet, at(13)).light!).toBeGreaterThan(1000);
    const p = model.values(quiet, at(12)).pressure!;
    expect(p).toBeGreaterThan(995);
    expect(p).toBeLessThan(1030);
  });

  it('gives the same values for the same seed, device and time, and others for another seed', () => {
    const again = createModel({ seed: 7, city: RENNES });
    const other = createModel({ seed: 8, city: RENNES });
    const t = at(9, 17);
    expect(again.values(roadside, t)).toEqual(model.values(roadside, t));
    expect(again.reading(roadside, t, METRIC_NAMES)).toEqual(model.reading(roadside, t, METRIC_NAMES));
    expect(other.values(roadside, t)).not.toEqual(model.values(roadside, t));
  });

  it('keeps every value inside the contract ranges, anywhere in town, at any time', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: Date.UTC(2025, 0, 1), max: Date.UTC(2028, 0, 1) }),
        fc.double({ min: 48.075, max: 48.145, noNaN: true }),
        fc.double({ min: -1.755, max: -1.625, noNaN: true }),
        fc.boolean(),
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        (t, lat, lon, indoor, seed) => {
          const m = createModel({ seed, city: RENNES });
          const site = { id: `kit-${seed}`, position: { lat, lon }, indoor };
          const all = [m.values(site, t), m.reading(site, t, METRIC_NAMES)];
          for (const values of all) {
            for (const [metric, v] of Object.entries(values)) {
              if (v === null) continue;
              const range = METRICS[metric as Metric];
              expect(Number.isFinite(v)).toBe(true);
              expect(v).toBeGreaterThanOrEqual(range.min);
              expect(v).toBeLessThanOrEqual(range.max);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('lets a sensor give nothing now and then, as real kits do', () => {
    let nulls = 0;
    for (let i = 0; i < 2000; i++) {
      const r = model.reading(roadside, at(10) + i * 60_000, ['pm25']);
      if (r.pm25 === null) nulls++;
    }
    expect(nulls).toBeGreaterThan(0);
    expect(nulls).toBeLessThan(200);
  });
});
