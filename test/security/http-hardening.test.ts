import type { Store } from '@citytel/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InfluxQuery } from '../../api/src/influx/client.ts';
import { type ReadStack, readingLine, sseClient, startReadStack } from '../helpers/api-read.ts';
import { eventually } from '../helpers/ingest.ts';

/**
 * The api's defences against one client taking more than its share, over real HTTP: the rate limit
 * keyed by the address the one trusted proxy saw (X-Forwarded-For written by the client changes
 * nothing), the live streams per address and in all, the exports at once and the readings one may read,
 * the airrohr bridge's throttle on failed logins (before any scrypt), the answer caches keyed by
 * validated parameters, and the security headers.
 */

const RATE = 5;
let stack: ReadStack;
let verifySecretCalls = 0;
let influxQueries = 0;
let airSecret = '';
const T0 = Date.UTC(2026, 10, 2);
const ROWS = 30_000;

/** As HAProxy forwards it: whatever the client wrote, then the address it saw. */
const via = (client: string, spoofed = `10.${Math.floor(Math.random() * 255)}.0.1`) => ({
  'x-forwarded-for': `${spoofed}, ${client}`,
});
const iso = (ms: number) => new Date(ms).toISOString();

beforeAll(async () => {
  stack = await startReadStack({
    broker: true,
    cacheTtlMs: 60_000,
    devices: [{ id: 'hard-kit', kind: 'native', lat: 48.11, lon: -1.68 }],
    env: {
      TRUST_PROXY_HOPS: '1',
      RATE_LIMIT_PER_MIN: String(RATE),
      STREAM_MAX_PER_ADDRESS: '2',
      STREAM_MAX_CLIENTS: '3',
      EXPORT_MAX_CONCURRENT: '1',
      EXPORT_MAX_ROWS: '20000',
      AIRROHR_FREE_FAILURES: '3',
    },
    wrapStore: (s): Store => ({
      ...s,
      devices: {
        ...s.devices,
        verifySecret: (id, secret) => {
          verifySecretCalls++;
          return s.devices.verifySecret(id, secret);
        },
      },
    }),
    wrapInflux: (q): InfluxQuery => ({
      ...q,
      query: (sql, o) => {
        influxQueries++;
        return q.query(sql, o);
      },
    }),
  });
  airSecret = (await stack.store.devices.create({ id: 'hard-air', kind: 'airrohr', lat: 48.1, lon: -1.6 }))
    .secret!;
  const lines: string[] = [];
  for (let i = 0; i < ROWS; i++) {
    lines.push(
      readingLine({
        device: 'hard-kit',
        kind: 'native',
        loc: 'fixed',
        t: T0 + i * 1000,
        lat: 48.11,
        lon: -1.68,
        values: { pm25: (i % 400) / 10 },
      }),
    );
  }
  await stack.write(lines);
}, 120_000);

afterAll(async () => {
  await stack?.close();
});

describe('rate limits behind one trusted proxy', () => {
  it('keeps a client in its own bucket whatever X-Forwarded-For it writes', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < RATE + 3; i++) {
      const r = await stack.get('/api/v1/devices', via('203.0.113.7', `198.18.${i}.${i}`));
      statuses.push(r.status);
      await r.arrayBuffer();
    }
    expect(statuses).toEqual([...Array(RATE).fill(200), 429, 429, 429]);
    const limited = await stack.get('/api/v1/devices', {
      'x-forwarded-for': '1.1.1.1, 2.2.2.2, 3.3.3.3, 203.0.113.7',
    });
    expect(limited.status).toBe(429);
    expect(((await limited.json()) as { error: { code: string } }).error.code).toBe('rate_limited');
    // Another client behind the same proxy has its own bucket.
    const other = await stack.get('/api/v1/devices', via('203.0.113.8'));
    expect(other.status).toBe(200);
  });
});

describe('live streams', () => {
  it('are capped per address and in all, with a clear 429, and free again once closed', async () => {
    const a1 = await sseClient(`${stack.baseUrl}/api/v1/stream`, via('192.0.2.1'));
    const a2 = await sseClient(`${stack.baseUrl}/api/v1/stream`, via('192.0.2.1'));
    const opened = [a1, a2];
    try {
      expect([a1.response.status, a2.response.status]).toEqual([200, 200]);
      const a3 = await stack.get('/api/v1/stream', via('192.0.2.1', '192.0.2.99'));
      expect(a3.status).toBe(429);
      expect(a3.headers.get('retry-after')).toBe('30');
      expect(((await a3.json()) as { error: { message: string } }).error.message).toMatch(
        /2 live streams are open from this address, at most 2/,
      );
      const b1 = await sseClient(`${stack.baseUrl}/api/v1/stream`, via('192.0.2.2'));
      opened.push(b1);
      expect(b1.response.status).toBe(200);
      const c1 = await stack.get('/api/v1/stream', via('192.0.2.3'));
      expect(c1.status).toBe(429);
      expect(((await c1.json()) as { error: { message: string } }).error.message).toMatch(
        /3 live streams are open, the most this server serves/,
      );
      await a1.close();
      const a4 = await eventually(
        'a stream slot freed',
        async () => {
          const s = await sseClient(`${stack.baseUrl}/api/v1/stream`, via('192.0.2.1'));
          if (s.response.status === 200) return s;
          await s.close();
          return undefined;
        },
        5000,
      );
      opened.push(a4);
    } finally {
      for (const s of opened) await s.close();
    }
  });
});

describe('exports', () => {
  const range = (n: number) => `from=${iso(T0)}&to=${iso(T0 + n * 1000)}&metric=pm25`;

  it('refuse to read more readings than one export may, before sending a byte (413)', async () => {
    const big = await stack.get(`/api/v1/export?${range(ROWS)}`, via('192.0.2.10'));
    expect(big.status).toBe(413);
    const body = (await big.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('result_too_large');
    expect(body.error.message).toMatch(/^30000 readings match, at most 20000 per export/);
    const small = await stack.get(`/api/v1/export?${range(100)}`, via('192.0.2.10'));
    expect(small.status).toBe(200);
    // the header, then one row per reading (the licence is in the data package, not in the file)
    expect((await small.text()).trimEnd().split('\n')).toHaveLength(101);
  });

  it('run a few at once; one more is answered 429 until one ends', async () => {
    const abort = new AbortController();
    const first = await fetch(`${stack.baseUrl}/api/v1/export?${range(19_000)}`, {
      headers: { ...via('192.0.2.11'), 'accept-encoding': 'identity' },
      signal: abort.signal,
    });
    expect(first.status).toBe(200);
    // Not read: the export stays open, held by the client's back-pressure.
    const second = await stack.get(`/api/v1/export?${range(10)}`, via('192.0.2.12'));
    expect(second.status).toBe(429);
    expect(second.headers.get('retry-after')).toBe('10');
    abort.abort();
    await first.body?.cancel().catch(() => {});
    await eventually(
      'the export slot freed',
      async () => {
        const r = await stack.get(
          `/api/v1/export?${range(10)}`,
          via(`192.0.2.${20 + Math.floor(Math.random() * 200)}`),
        );
        await r.arrayBuffer();
        return r.status === 200;
      },
      5000,
    );
  });
});

describe('the airrohr bridge', () => {
  const post = (password: string, address: string) =>
    fetch(`${stack.baseUrl}/api/v1/ingest/airrohr`, {
      method: 'POST',
      headers: {
        ...via(address),
        'content-type': 'application/json',
        authorization: `Basic ${Buffer.from(`hard-air:${password}`).toString('base64')}`,
      },
      body: JSON.stringify({
        esp8266id: '13463245',
        software_version: 'NRZ-2020-133',
        sensordatavalues: [
          { value_type: 'SDS_P1', value: '14.00' },
          { value_type: 'SDS_P2', value: '8.20' },
        ],
      }),
    });

  it('throttles failed logins per address before any secret check runs', async () => {
    const before = verifySecretCalls;
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await post(`wrong-${i}`, '192.0.2.50')).status);
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
    expect(verifySecretCalls - before).toBe(3);
    // A burst in parallel from another address: only the free tries reach the check.
    const burstBefore = verifySecretCalls;
    const burst = await Promise.all(Array.from({ length: 200 }, (_, i) => post(`guess-${i}`, '192.0.2.51')));
    const codes = burst.map((r) => r.status);
    // The free tries, then one per back-off window (1 s, 2 s...) while the burst's stragglers arrive.
    const checked = verifySecretCalls - burstBefore;
    expect(checked).toBeLessThanOrEqual(5);
    expect(codes.filter((c) => c === 401).length).toBe(checked);
    expect(codes.filter((c) => c === 429).length).toBe(200 - checked);
    const retry = burst.find((r) => r.status === 429)!;
    expect(Number(retry.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // A good box from elsewhere posts as usual.
    const good = await post(airSecret, '192.0.2.52');
    expect(good.status, await good.clone().text()).toBe(200);
  });
});

describe('answer caches', () => {
  it('are keyed by validated parameters only: extra or respelled ones do not make new entries', async () => {
    const base = `/api/v1/devices/hard-kit/series?metric=pm25&every=1h&from=${iso(T0)}&to=${iso(T0 + 8 * 3_600_000)}`;
    const first = await stack.get(base, via('192.0.2.60'));
    expect(first.status).toBe(200);
    const expected = await first.text();
    const queries = influxQueries;
    const variants = [
      `${base}&junk=1`,
      `${base}&cachebuster=${Math.random()}`,
      base.replace(iso(T0), iso(T0).replace('.000Z', 'Z')),
      base.replace(iso(T0), '2026-11-02T01:00:00%2B01:00'),
    ];
    for (const [i, v] of variants.entries()) {
      const r = await stack.get(v, via(`192.0.2.${61 + i}`));
      expect(r.status, v).toBe(200);
      expect(await r.text()).toBe(expected);
    }
    expect(influxQueries).toBe(queries);
  });
});

describe('security headers', () => {
  it('are on api answers, with a CSP for the dashboard and its blob: workers', async () => {
    const r = await stack.get('/api/v1/devices', via('192.0.2.70'));
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    expect(r.headers.get('x-powered-by')).toBeNull();
    const csp = r.headers.get('content-security-policy')!;
    expect(csp).toMatch(/default-src 'self'/);
    expect(csp).toMatch(/script-src 'self';/);
    expect(csp).toMatch(/worker-src 'self' blob:/);
    expect(csp).toMatch(/frame-ancestors 'none'/);
    expect(csp).not.toMatch(/upgrade-insecure-requests/);
    expect(r.headers.get('cross-origin-resource-policy')).toBe('cross-origin');
    // The public list differs from an operator's: shared caches must keep them apart.
    expect(r.headers.get('vary')).toBe('Authorization, Accept-Encoding');
    // The docs UI gets its own policy (Swagger UI's), without upgrading plain-http requests.
    const docs = await stack.get('/docs/static/index.html');
    expect(docs.status).toBe(200);
    const docsCsp = docs.headers.get('content-security-policy')!;
    expect(docsCsp).toMatch(/img-src 'self' data: validator\.swagger\.io/);
    expect(docsCsp).toMatch(/script-src-attr 'none'/);
    expect(docsCsp).not.toMatch(/upgrade-insecure-requests/);
  });
});
