export interface Summary {
  /** Samples ever added. */
  count: number;
  p50: number | null;
  p99: number | null;
  max: number | null;
  mean: number | null;
  /** Sum of every sample ever added (a Prometheus histogram's `_sum`). */
  sum: number;
  /**
   * Upper bounds, and how many samples ever added were at most each (cumulative, a Prometheus histogram's
   * `_bucket{le}`; `count` is the `+Inf` bucket). Empty when the sampler has no bounds.
   */
  le: number[];
  buckets: number[];
}

export interface Sampler {
  add(v: number): void;
  /** Percentiles over the newest `size` samples (a sliding window: old outliers age out); buckets since start. */
  summary(): Summary;
}

/** Bounds for times in ms: a local InfluxDB answers in ~1 ms, a remote or busy one in tens of seconds. */
export const MS_BOUNDS = [1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000] as const;
/** Bounds for points per batch (INGEST_BATCH_LINES is 5000 by default, 100 000 at most). */
export const BATCH_BOUNDS = [1, 10, 50, 100, 500, 1000, 2500, 5000, 10_000, 25_000, 50_000, 100_000] as const;

export function createSampler(size = 2048, bounds: readonly number[] = []): Sampler {
  const ring = new Float64Array(size);
  const inBucket = new Float64Array(bounds.length);
  let count = 0;
  let total = 0;
  return {
    add(v) {
      ring[count % size] = v;
      count++;
      total += v;
      for (let i = 0; i < bounds.length; i++) {
        if (v <= bounds[i]!) {
          inBucket[i]!++;
          break;
        }
      }
    },
    summary() {
      const buckets: number[] = [];
      let below = 0;
      for (let i = 0; i < bounds.length; i++) {
        below += inBucket[i]!;
        buckets.push(below);
      }
      const sum = Math.round(total * 1000) / 1000;
      const n = Math.min(count, size);
      if (n === 0)
        return { count, p50: null, p99: null, max: null, mean: null, sum, le: [...bounds], buckets };
      const sorted = ring.slice(0, n).sort();
      const at = (q: number) => sorted[Math.min(n - 1, Math.floor(q * n))]!;
      let windowSum = 0;
      for (const v of sorted) windowSum += v;
      const round = (v: number) => Math.round(v * 10) / 10;
      return {
        count,
        p50: round(at(0.5)),
        p99: round(at(0.99)),
        max: round(sorted[n - 1]!),
        mean: round(windowSum / n),
        sum,
        le: [...bounds],
        buckets,
      };
    },
  };
}
