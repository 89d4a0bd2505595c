import { describe, expect, it } from 'vitest';
import { planSegments } from './plan.ts';

const H = 3_600_000;
const D = 24 * H;
const hour = { measurement: 'readings_1h', map: 'map_1h', step: H, from: 0, to: 10 * D };
const day = { measurement: 'readings_1d', map: 'map_1d', step: D, from: 0, to: 10 * D };

describe('planSegments', () => {
  it('reads raw readings only without rollups', () => {
    expect(planSegments(5, 3 * D, [])).toEqual([{ from: 5, to: 3 * D }]);
  });

  it('uses each tier for the whole buckets it covers and finer data at both ends', () => {
    const from = 2 * D + 90 * 60_000;
    const to = 6 * D + 5 * H + 17 * 60_000;
    expect(planSegments(from, to, [hour, day])).toEqual([
      { from, to: 2 * D + 2 * H },
      { from: 2 * D + 2 * H, to: 3 * D, tier: hour },
      { from: 3 * D, to: 6 * D, tier: day },
      { from: 6 * D, to: 6 * D + 5 * H, tier: hour },
      { from: 6 * D + 5 * H, to },
    ]);
  });

  it('reads raw readings past what the rollups cover', () => {
    const partial = { ...hour, to: 5 * H };
    expect(planSegments(H, 8 * H, [partial])).toEqual([
      { from: H, to: 5 * H, tier: partial },
      { from: 5 * H, to: 8 * H },
    ]);
  });

  it('covers the range exactly, without gaps or overlaps', () => {
    for (let i = 0; i < 200; i++) {
      const from = Math.floor(Math.random() * 5 * D);
      const to = from + 1 + Math.floor(Math.random() * 5 * D);
      const segs = planSegments(from, to, [hour, day]);
      expect(segs[0]!.from).toBe(from);
      expect(segs.at(-1)!.to).toBe(to);
      for (let k = 1; k < segs.length; k++) expect(segs[k]!.from).toBe(segs[k - 1]!.to);
    }
  });
});
