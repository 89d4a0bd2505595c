import { type Band, bandFor } from './bands.ts';

/**
 * The European Air Quality Index on the averaging period its definition sets (European Environment Agency,
 * "European Air Quality Index", 2024 revision, https://airindex.eea.europa.eu/AQI/index.html): NO₂ and O₃ from hourly
 * concentrations; PM2.5 and PM10 from 24-hour running means of the hourly values. An index is only given
 * where that period is covered: the EU air quality directive's criteria for aggregating data (Directive
 * 2008/50/EC, Annex XI, section A) take a 24-hour mean from at least 75 % of its hourly values (18 of 24)
 * and an hourly value from at least 75 % of the hour (here: 3 of its 4 quarter hours hold a reading). Otherwise: "insufficient data", never a band from whatever the window happened to hold.
 */

export type IndexPollutant = 'pm25' | 'pm10' | 'no2' | 'o3';

export interface IndexPeriod {
  /** Length of the averaging period, ms. */
  ms: number;
  /** Sub-periods the coverage is counted in, ms, and how many must hold a value. */
  stepMs: number;
  minSteps: number;
  label: string;
}

const HOUR = 3_600_000;
const QUARTER = 900_000;

export const EAQI_PERIODS: Readonly<Record<IndexPollutant, IndexPeriod>> = {
  pm25: { ms: 24 * HOUR, stepMs: HOUR, minSteps: 18, label: '24-hour running mean' },
  pm10: { ms: 24 * HOUR, stepMs: HOUR, minSteps: 18, label: '24-hour running mean' },
  no2: { ms: HOUR, stepMs: QUARTER, minSteps: 3, label: 'hourly mean' },
  o3: { ms: HOUR, stepMs: QUARTER, minSteps: 3, label: 'hourly mean' },
};

export const EAQI_SOURCE =
  'EEA European Air Quality Index (2024 revision): PM2.5, PM10 on 24-hour running means, NO2, O3 hourly';

export type AirIndex =
  | {
      pollutant: IndexPollutant;
      value: number;
      band: Band;
      period: string;
      from: number;
      to: number;
      /** Share of the period's sub-periods holding a value, 0..1. */
      coverage: number;
    }
  | {
      pollutant: IndexPollutant;
      value: null;
      band: null;
      period: string;
      from: number;
      to: number;
      coverage: number;
      insufficient: 'window_too_short' | 'incomplete';
    };

/**
 * The index of `pollutant` for the period ending at `to`, from readings (time in ms, value) of the window
 * [windowFrom, to). The value is the mean of the sub-period means (hourly means for a 24-hour mean), as a
 * 24-hour mean of hourly concentrations is.
 */
export function airIndex(
  pollutant: IndexPollutant,
  readings: ReadonlyArray<{ t: number; v: number }>,
  windowFrom: number,
  to: number,
): AirIndex {
  const p = EAQI_PERIODS[pollutant];
  const from = to - p.ms;
  const steps = Math.round(p.ms / p.stepMs);
  const base = { pollutant, period: p.label, from, to };
  if (windowFrom > from) {
    const covered = Math.max(0, Math.floor((to - windowFrom) / p.stepMs));
    return { ...base, value: null, band: null, coverage: covered / steps, insufficient: 'window_too_short' };
  }
  const sums = new Float64Array(steps);
  const counts = new Uint32Array(steps);
  for (const r of readings) {
    if (r.t < from || r.t >= to) continue;
    const i = Math.floor((r.t - from) / p.stepMs);
    sums[i]! += r.v;
    counts[i]!++;
  }
  let filled = 0;
  let total = 0;
  for (let i = 0; i < steps; i++) {
    if (counts[i]! === 0) continue;
    filled++;
    total += sums[i]! / counts[i]!;
  }
  const coverage = filled / steps;
  if (filled < p.minSteps) return { ...base, value: null, band: null, coverage, insufficient: 'incomplete' };
  const value = total / filled;
  return { ...base, value, band: bandFor(pollutant, value)!, coverage };
}
