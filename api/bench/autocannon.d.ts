/** The part of autocannon's API the benchmark uses (the package ships no types). */
declare module 'autocannon' {
  interface Percentiles {
    average: number;
    p50: number;
    p90: number;
    p99: number;
    total: number;
  }
  interface Result {
    latency: Percentiles;
    requests: Percentiles;
    /** Bytes read, headers included. */
    throughput: Percentiles;
    non2xx: number;
    errors: number;
    timeouts: number;
  }
  interface Options {
    url: string;
    connections?: number;
    duration?: number;
    /** Seconds before a request counts as an error. */
    timeout?: number;
    headers?: Record<string, string>;
    /** Worker threads sending the requests (default: none, all from the calling thread). */
    workers?: number;
    /** Sent in turn by each connection, from the first again after the last. */
    requests?: Array<{ method?: string; path?: string }>;
  }
  function autocannon(opts: Options): Promise<Result>;
  export default autocannon;
}
