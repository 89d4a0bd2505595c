import { describe, expect, it } from 'vitest';
import { loadDeviceId, summarize } from './load.ts';

describe('load figures', () => {
  it('summarizes latencies with nearest-rank percentiles', () => {
    const samples = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(summarize(samples)).toEqual({
      count: 100,
      meanMs: 50.5,
      p50Ms: 51,
      p95Ms: 96,
      p99Ms: 100,
      maxMs: 100,
    });
    expect(summarize([])).toBeNull();
  });

  it('names load devices so they sort', () => {
    expect(loadDeviceId('sim', 0)).toBe('sim-load-00001');
    expect(loadDeviceId('bench', 41)).toBe('bench-load-00042');
  });
});
