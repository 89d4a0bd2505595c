import { request } from 'node:http';
import autocannon from 'autocannon';

/** What the api benchmark measures against a running api: single requests, bursts, and load lines. */

export interface Answer {
  status: number;
  ms: number;
  etag: string;
  body: Buffer;
}

/** One GET, its body as sent on the wire (compressed or not) and how long it took. */
export function get(base: string, path: string, encoding: 'gzip' | 'identity' = 'gzip'): Promise<Answer> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    request(`${base}${path}`, { headers: { 'Accept-Encoding': encoding } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (b: Buffer) => parts.push(b));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          ms: performance.now() - t0,
          etag: String(res.headers.etag ?? ''),
          body: Buffer.concat(parts),
        }),
      );
      res.on('error', reject);
    })
      .on('error', reject)
      .end();
  });
}

export interface LoadLine {
  p50: number;
  p99: number;
  rps: number;
  errors: number;
  /** Mean bytes of one answer on the wire. */
  bytes: number;
}

/**
 * `connections` clients asking `paths` in turn, back to back, for `duration` seconds, each accepting gzip
 * as browsers do (autocannon sends no Accept-Encoding of its own). Paths are a list, not a function, so
 * that autocannon's worker threads can take them.
 */
export async function load(
  base: string,
  paths: string[],
  connections: number,
  duration: number,
  headers: Record<string, string> = {},
  workers = 0,
): Promise<LoadLine> {
  const r = await autocannon({
    ...(workers > 0 ? { workers } : {}),
    url: base,
    connections,
    duration,
    timeout: 120,
    headers: { 'accept-encoding': 'gzip, deflate, br', ...headers },
    requests: paths.map((path) => ({ method: 'GET', path })),
  });
  return {
    p50: r.latency.p50,
    p99: r.latency.p99,
    rps: Math.round(r.requests.average),
    // A 304 is what a revalidating client asks for, not an error.
    errors: (headers['if-none-match'] ? 0 : r.non2xx) + r.errors + r.timeouts,
    bytes: r.requests.total > 0 ? Math.round(r.throughput.total / r.requests.total) : 0,
  };
}

/** Sequential requests, each for an answer nobody asked before: what a cache miss costs alone. */
export async function cold(base: string, paths: string[]): Promise<{ median: number; max: number }> {
  const ms: number[] = [];
  for (const p of paths) {
    const a = await get(base, p);
    if (a.status !== 200) throw new Error(`${p} answered ${a.status}: ${a.body.toString().slice(0, 200)}`);
    ms.push(a.ms);
  }
  ms.sort((a, b) => a - b);
  return { median: ms[Math.floor(ms.length / 2)]!, max: ms[ms.length - 1]! };
}

/** All `paths` at once: how many answered 200, and when the last answer came. */
export async function burst(
  base: string,
  paths: string[],
): Promise<{ ok: number; statuses: string; lastMs: number }> {
  const t0 = performance.now();
  const answers = await Promise.all(paths.map((p) => get(base, p)));
  const counts = new Map<number, number>();
  for (const a of answers) counts.set(a.status, (counts.get(a.status) ?? 0) + 1);
  return {
    ok: counts.get(200) ?? 0,
    statuses: [...counts].map(([s, n]) => `${n} × ${s}`).join(', '),
    lastMs: performance.now() - t0,
  };
}
