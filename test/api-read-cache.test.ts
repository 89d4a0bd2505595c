import { request } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { geohashBounds } from '@citytel/contract';
import Fastify from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InfluxQuery } from '../api/src/influx/client.ts';
import { errorHandlerPlugin } from '../api/src/plugins/error-handler.ts';
import { mapRoutes } from '../api/src/routes/map.ts';
import { type ReadStack, startReadStack, type TestReading } from './helpers/api-read.ts';
import {
  DAY,
  DEVICES,
  END,
  edgeReadings,
  expectedCells,
  generatedReadings,
  MIN,
} from './helpers/api-read-data.ts';

/**
 * The shared answers as citizens get them: answer caches on, served from bytes prepared once (JSON, gzip,
 * ETag), refreshed in the background, and maps computed two at a time however many are asked for.
 */

const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}
/** The bytes as sent on the wire (fetch would decompress them and hide a double compression). */
const raw = (stack: ReadStack, path: string, headers: Record<string, string> = {}): Promise<Raw> =>
  new Promise((resolve, reject) => {
    request(`${stack.baseUrl}${path}`, { headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (b: Buffer) => parts.push(b));
      res.on('end', () =>
        resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(parts) }),
      );
      res.on('error', reject);
    })
      .on('error', reject)
      .end();
  });

interface MapBody {
  features: Array<{
    properties: { cell: string; mean: number; max: number; count: number; devices: number };
  }>;
}
const cellsOf = (body: MapBody) =>
  body.features.map(({ properties: { cell, mean, max, count, devices } }) => ({
    cell,
    mean,
    max,
    count,
    devices,
  }));

let stack: ReadStack;
const all = [...generatedReadings(), ...edgeReadings()];
/** Upper time bound of every map statement in flight (one per computation), and the most seen at once. */
const inFlight = new Map<string, number>();
let mostAtOnce = 0;
const track = (q: InfluxQuery): InfluxQuery => {
  const around = async <T>(sql: string, run: () => Promise<T>): Promise<T> => {
    const key = /time < (\d+)ms/.exec(sql)?.[1] ?? sql;
    inFlight.set(key, (inFlight.get(key) ?? 0) + 1);
    mostAtOnce = Math.max(mostAtOnce, inFlight.size);
    try {
      return await run();
    } finally {
      const n = inFlight.get(key)! - 1;
      if (n) inFlight.set(key, n);
      else inFlight.delete(key);
    }
  };
  return {
    ...q,
    url: q.url,
    db: q.db,
    query: (sql, opts) => around(sql, () => q.query(sql, opts)),
    async *queryChunks(sql, opts) {
      const chunks: Awaited<ReturnType<InfluxQuery['query']>>[] = [];
      await around(sql, async () => {
        for await (const c of q.queryChunks(sql, opts)) chunks.push(c);
      });
      yield* chunks;
    },
    write: (lines, opts) => q.write(lines, opts),
    ping: (t) => q.ping(t),
  };
};

beforeAll(async () => {
  stack = await startReadStack({ devices: DEVICES, cacheTtlMs: 1000, wrapInflux: track });
  await stack.write(all);
});
afterAll(async () => {
  await stack?.close();
});

const city = `window=3d&to=${iso(END)}&cell=7&metric=pm25`;

describe('shared map answers', () => {
  it('are sent gzipped once: one gunzip gives the JSON the identity answer has, with the right cells', async () => {
    const gz = await raw(stack, `/api/v1/map?${city}`, { 'Accept-Encoding': 'gzip, deflate, br' });
    const plain = await raw(stack, `/api/v1/map?${city}`);
    expect(gz.status).toBe(200);
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(gunzipSync(gz.body).equals(plain.body)).toBe(true);
    const body = JSON.parse(plain.body.toString()) as MapBody;
    expect(cellsOf(body)).toEqual(expectedCells(all, 'pm25', END - 3 * DAY, END, 7));
    expect(gz.headers.etag).not.toBe(plain.headers.etag);
    expect(gz.headers.vary).toContain('Accept-Encoding');
    // 3 days: fresh for 5 min (the longest), then served while refreshed for six times that.
    expect(gz.headers['cache-control']).toBe('public, max-age=300, stale-while-revalidate=1800');
  });

  it('answer 304 with no body to a client that holds the answer, in either encoding', async () => {
    for (const enc of ['gzip', 'identity']) {
      const first = await raw(stack, `/api/v1/map?${city}`, { 'Accept-Encoding': enc });
      const again = await raw(stack, `/api/v1/map?${city}`, {
        'Accept-Encoding': enc,
        'If-None-Match': String(first.headers.etag),
      });
      expect(again.status).toBe(304);
      expect(again.body.length).toBe(0);
      expect(again.headers.etag).toBe(first.headers.etag);
      const stale = await raw(stack, `/api/v1/map?${city}`, {
        'Accept-Encoding': enc,
        'If-None-Match': '"old"',
      });
      expect(stale.status).toBe(200);
    }
  });

  it('give a bbox holding every cell the whole answer, a smaller one the cells overlapping it', async () => {
    const whole = await raw(stack, `/api/v1/map?${city}`, { 'Accept-Encoding': 'gzip' });
    const wide = await raw(stack, `/api/v1/map?${city}&bbox=-2,47,-1,49`, { 'Accept-Encoding': 'gzip' });
    expect(wide.headers.etag).toBe(whole.headers.etag);
    const box = { minLon: -1.685, minLat: 48.1, maxLon: -1.66, maxLat: 48.12 };
    const q = `${city}&bbox=${box.minLon},${box.minLat},${box.maxLon},${box.maxLat}`;
    const part = await raw(stack, `/api/v1/map?${q}`, { 'Accept-Encoding': 'gzip' });
    expect(part.status).toBe(200);
    expect(part.headers['content-encoding']).toBe('gzip');
    const cells = cellsOf(JSON.parse(gunzipSync(part.body).toString()) as MapBody);
    const expected = expectedCells(all, 'pm25', END - 3 * DAY, END, 7).filter((c) => {
      const [s, w, n, e] = geohashBounds(c.cell);
      return w < box.maxLon && e > box.minLon && s < box.maxLat && n > box.minLat;
    });
    expect(expected.length).toBeGreaterThan(0);
    expect(cells.length).toBeLessThan(
      cellsOf(JSON.parse(gunzipSync(whole.body).toString()) as MapBody).length,
    );
    expect(cells).toEqual(expected);
    const again = await raw(stack, `/api/v1/map?${q}`, { 'If-None-Match': String(part.headers.etag) });
    expect(again.status).toBe(304);
  });

  it('are computed two at a time when many different maps are asked at once, and all answered', async () => {
    mostAtOnce = 0;
    const tos = Array.from({ length: 12 }, (_, i) => END - i * 7 * MIN);
    const answers = await Promise.all(
      tos.map((to) => raw(stack, `/api/v1/map?metric=pm25&window=1d&cell=6&to=${iso(to)}`)),
    );
    for (const [i, r] of answers.entries()) {
      expect(r.status).toBe(200);
      expect(cellsOf(JSON.parse(r.body.toString()) as MapBody)).toEqual(
        expectedCells(all, 'pm25', tos[i]! - DAY, tos[i]!, 6),
      );
    }
    expect(mostAtOnce).toBe(2);
  });

  it('are refused with 503 and Retry-After once too many wait to be computed, the others answered', async () => {
    // The map routes alone, one computation at a time and one waiting, on the same InfluxDB.
    const app = Fastify();
    app.setValidatorCompiler(validatorCompiler);
    app.setSerializerCompiler(serializerCompiler);
    await app.register(errorHandlerPlugin);
    await app.register(mapRoutes, { influx: stack.query, computeConcurrency: 1, maxQueued: 1 });
    try {
      const answers = await Promise.all(
        [0, 1, 2, 3, 4].map((i) =>
          app.inject(`/api/v1/map?metric=pm25&window=1d&cell=6&to=${iso(END - i * MIN)}`),
        ),
      );
      const refused = answers.filter((r) => r.statusCode === 503);
      // One computing, one waiting: the three asked after them are refused, at once.
      expect(answers.filter((r) => r.statusCode === 200)).toHaveLength(2);
      expect(refused).toHaveLength(3);
      for (const r of refused) {
        expect(r.headers['retry-after']).toBe('5');
        expect(r.json()).toMatchObject({ error: { code: 'unavailable' } });
      }
    } finally {
      await app.close();
    }
  });
});

describe('background refresh', () => {
  it('answers from the stale map at once past its ttl, and from the refreshed one after', async () => {
    const now = Date.now();
    const reading = (t: number, pm25: number): TestReading => ({
      device: 'kit-a',
      kind: 'native',
      loc: 'fixed',
      t,
      lat: 48.1113,
      lon: -1.68,
      values: { pm25 },
    });
    const countNow = async () => {
      const r = await raw(stack, '/api/v1/map?metric=pm25&window=6m&cell=5');
      expect(r.status).toBe(200);
      return (JSON.parse(r.body.toString()) as MapBody).features.reduce((n, f) => n + f.properties.count, 0);
    };
    await stack.write([reading(now - 5 * MIN, 10)]);
    expect(await countNow()).toBe(1);
    await stack.write([reading(now - 4 * MIN, 20)]);
    // Fresh: the cached answer, without the new reading.
    expect(await countNow()).toBe(1);
    await new Promise((r) => setTimeout(r, 1100));
    // Past its ttl (1 s for a 6-minute window): still the old answer, given at once, while the refresh runs.
    expect(await countNow()).toBe(1);
    let count = 1;
    for (let i = 0; i < 50 && count === 1; i++) {
      await new Promise((r) => setTimeout(r, 100));
      count = await countNow();
    }
    expect(count).toBe(2);
  });
});

describe('shared series and devices answers', () => {
  it('carry an ETag and answer 304 to it', async () => {
    for (const path of [
      `/api/v1/devices/kit-a/series?metric=pm25&from=${iso(END - DAY)}&to=${iso(END)}&every=1h`,
      '/api/v1/devices',
      '/api/v1/devices?kind=native',
    ]) {
      const first = await raw(stack, path, { 'Accept-Encoding': 'gzip' });
      expect(first.status, path).toBe(200);
      expect(first.headers.etag, path).toBeTruthy();
      const again = await raw(stack, path, {
        'Accept-Encoding': 'gzip',
        'If-None-Match': String(first.headers.etag),
      });
      expect(again.status, path).toBe(304);
    }
  });
});
