import { gunzipSync } from 'node:zlib';
import type { FastifyRequest } from 'fastify';
import { describe, expect, it } from 'vitest';
import { acceptsGzip, cacheControl, etagOf, notModified, prepareAnswer } from './answer.ts';

const req = (headers: Record<string, string>) => ({ headers }) as unknown as FastifyRequest;

describe('prepared answers', () => {
  it('hold the JSON, its gzip and a validator for each', async () => {
    const a = await prepareAnswer('{"a":1}');
    expect(a.json.toString()).toBe('{"a":1}');
    expect(gunzipSync(a.gzip).toString()).toBe('{"a":1}');
    expect(a.etag).toBe(etagOf('{"a":1}'));
    expect(a.gzipEtag).not.toBe(a.etag);
    expect((await prepareAnswer('{"a":2}')).etag).not.toBe(a.etag);
  });

  it('are not modified for a matching If-None-Match, weak or in a list, or *', () => {
    const e = etagOf('x');
    expect(notModified(req({ 'if-none-match': e }), e)).toBe(true);
    expect(notModified(req({ 'if-none-match': `"a", W/${e}` }), e)).toBe(true);
    expect(notModified(req({ 'if-none-match': '*' }), e)).toBe(true);
    expect(notModified(req({ 'if-none-match': '"other"' }), e)).toBe(false);
    expect(notModified(req({}), e)).toBe(false);
  });

  it('are sent gzipped to clients that accept gzip, not to those that refuse it with q=0', () => {
    expect(acceptsGzip(req({ 'accept-encoding': 'gzip, deflate, br, zstd' }))).toBe(true);
    expect(acceptsGzip(req({ 'accept-encoding': 'br;q=1.0, gzip;q=0.8' }))).toBe(true);
    expect(acceptsGzip(req({ 'accept-encoding': 'gzip;q=0, br' }))).toBe(false);
    expect(acceptsGzip(req({ 'accept-encoding': 'identity' }))).toBe(false);
    expect(acceptsGzip(req({}))).toBe(false);
  });

  it('say how long a cache may keep them', () => {
    expect(cacheControl(10_000)).toBe('public, max-age=10');
    expect(cacheControl(10_000, 60_000)).toBe('public, max-age=10, stale-while-revalidate=60');
    expect(cacheControl(0)).toBe('no-cache');
  });
});
