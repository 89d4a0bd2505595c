export interface Summary {
  /** Samples ever added. */
  count: number;
  p50: number | null;
  p99: number | null;
  max: number | null;
  mean: number | null;
}

export interface Sampler {
  add(v: number): void;
  /** Percentiles over the newest `size` samples (a sliding window: old outliers age out). */
  summary(): Summary;
}

export function createSampler(size = 2048): Sampler {
  const ring = new Float64Array(size);
  let count = 0;
  return {
    add(v) {
      ring[count % size] = v;
      count++;
    },
    summary() {
      const n = Math.min(count, size);
      if (n === 0) return { count, p50: null, p99: null, max: null, mean: null };
      const sorted = ring.slice(0, n).sort();
      const at = (q: number) => sorted[Math.min(n - 1, Math.floor(q * n))]!;
      let sum = 0;
      for (const v of sorted) sum += v;
      const round = (v: number) => Math.round(v * 10) / 10;
      return {
        count,
        p50: round(at(0.5)),
        p99: round(at(0.99)),
        max: round(sorted[n - 1]!),
        mean: round(sum / n),
      };
    },
  };
}
