/** The part of autocannon's API the benchmark uses (the package ships no types). */
declare module 'autocannon' {
  interface Percentiles {
    average: number;
    p50: number;
    p90: number;
    p99: number;
  }
  interface Result {
    latency: Percentiles;
    requests: Percentiles;
    non2xx: number;
    errors: number;
  }
  interface Options {
    url: string;
    connections?: number;
    duration?: number;
    /** Seconds before a request counts as an error. */
    timeout?: number;
    requests?: Array<{
      method?: string;
      setupRequest?: (req: Record<string, unknown>) => Record<string, unknown>;
    }>;
  }
  function autocannon(opts: Options): Promise<Result>;
  export default autocannon;
}
