import type { Metric } from './metrics.ts';

/**
 * Levels in decibels are averaged on the energy scale, never arithmetically: the equivalent continuous
 * level of levels L1..Ln is
 *
 *   Leq = 10·lg( (1/n) · Σ 10^(Li/10) )
 *
 * (ISO 1996-1:2016, equivalent continuous A-weighted sound pressure level; IEC 61672-1:2013). Two equal
 * periods at 60 and 70 dB(A) give 10·lg((10^6 + 10^7)/2) = 67.40 dB(A), not 65. Min, max, count and
 * percentiles of levels are the same on either scale (10^(L/10) is monotonic), so only sums change.
 */

/** Metrics whose values are levels in dB: their sums are kept as sums of energy (10^(L/10)). */
export const DB_METRICS: ReadonlySet<Metric> = new Set<Metric>(['noise_laeq']);
export const isDbMetric = (m: Metric): boolean => DB_METRICS.has(m);

/** ln(10)/10: 10^(L/10) = e^(L·ln10/10), the form InfluxQL's exp() takes. */
export const DB_TO_ENERGY_EXP = Math.LN10 / 10;

/** Relative energy of a level: 10^(L/10). */
export const levelToEnergy = (level: number): number => 10 ** (level / 10);

/** Level of a relative energy: 10·lg(e). */
export const energyToLevel = (energy: number): number => 10 * Math.log10(energy);

/** The energy-mean level of some levels (NaN for none). */
export function energyMean(levels: readonly number[]): number {
  let e = 0;
  for (const l of levels) e += levelToEnergy(l);
  return energyToLevel(e / levels.length);
}

/** What a rollup or a cell adds up for a value: the value itself, or its energy for a level in dB. */
export const summand = (metric: Metric, v: number): number => (DB_METRICS.has(metric) ? levelToEnergy(v) : v);

/** The mean of `count` values whose summands (see `summand`) add up to `sum`. */
export const meanOfSum = (metric: Metric, sum: number, count: number): number =>
  DB_METRICS.has(metric) ? energyToLevel(sum / count) : sum / count;
