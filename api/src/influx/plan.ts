import { ceilTo, floorTo } from './time.ts';

/**
 * Splits a time range between the pre-aggregated tiers and the raw readings so that long ranges read
 * few points and the answer stays exact: each tier serves the whole buckets it covers, finer tiers the
 * partial buckets at both ends, raw readings the rest. 30 days from 1-hour and 1-day tiers read at most
 * 29 days + 2 × 23 hours of rollups and under 2 hours of raw points.
 */

/** What a tier holds completely: whole buckets of `step` in [from, to). */
export interface TierCoverage {
  /** Per-device rollups (rollup.ts). */
  measurement: string;
  /** Per-cell rollups for the map, written with the device ones. */
  map: string;
  /** Retention policy of both, when not the default. */
  rp?: string | undefined;
  step: number;
  from: number;
  to: number;
}

export interface Segment {
  from: number;
  to: number;
  /** The rollup tier to read, or undefined for raw readings. */
  tier?: TierCoverage;
}

/** Segments covering [from, to) exactly, in time order; `tiers` in any order. */
export function planSegments(from: number, to: number, tiers: readonly TierCoverage[]): Segment[] {
  const sorted = [...tiers].sort((a, b) => b.step - a.step);
  const out: Segment[] = [];
  split(from, to, sorted, out);
  return out;
}

function split(from: number, to: number, tiers: readonly TierCoverage[], out: Segment[]): void {
  if (from >= to) return;
  const [tier, ...finer] = tiers;
  if (!tier) {
    out.push({ from, to });
    return;
  }
  const a = ceilTo(Math.max(from, tier.from), tier.step);
  const b = floorTo(Math.min(to, tier.to), tier.step);
  if (a >= b) {
    split(from, to, finer, out);
    return;
  }
  split(from, a, finer, out);
  out.push({ from: a, to: b, tier });
  split(b, to, finer, out);
}
