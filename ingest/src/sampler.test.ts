import { describe, expect, it } from 'vitest';
import { createSampler } from './sampler.ts';

describe('createSampler', () => {
  it('counts every sample into cumulative buckets since start, and sums them', () => {
    const s = createSampler(4, [1, 10, 100]);
    for (const v of [0.5, 1, 5, 50, 500, 7]) s.add(v);
    const sum = s.summary();
    expect(sum.count).toBe(6);
    expect(sum.sum).toBe(563.5);
    expect(sum.le).toEqual([1, 10, 100]);
    // a value equal to a bound is in it (Prometheus' le is "less than or equal")
    expect(sum.buckets).toEqual([2, 4, 5]);
    // percentiles stay over the newest 4 samples only
    expect(sum.max).toBe(500);
  });

  it('has empty buckets without bounds, and figures before the first sample', () => {
    expect(createSampler(4).summary()).toEqual({
      count: 0,
      p50: null,
      p99: null,
      max: null,
      mean: null,
      sum: 0,
      le: [],
      buckets: [],
    });
    expect(createSampler(4, [1, 2]).summary().buckets).toEqual([0, 0]);
  });
});
