import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { constants, gzip } from 'node:zlib';
import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * A cached answer ready to send: serialized, gzipped and tagged once when it is computed, so that serving
 * it to fifty clients costs a write of bytes already made. A whole-city map is ~1 MB of JSON; compressing
 * it for every client (as @fastify/compress would) costs more CPU than finding it did.
 */
export interface PreparedAnswer {
  json: Buffer;
  gzip: Buffer;
  /** Strong validator of the JSON bytes (RFC 9110 §8.8.3). */
  etag: string;
  /** And of the gzip bytes: a strong validator names one representation, content coding included. */
  gzipEtag: string;
}

const gzipAsync = promisify(gzip);

/** Off the event loop (zlib runs in the thread pool): a refresh never stalls requests being served. */
export async function prepareAnswer(text: string): Promise<PreparedAnswer> {
  const json = Buffer.from(text);
  const etag = etagOf(json);
  // Level 9: done once per computation, it takes ~5% off a whole-city map for every client after.
  const gz = await gzipAsync(json, { level: constants.Z_BEST_COMPRESSION });
  return { json, gzip: gz, etag, gzipEtag: `${etag.slice(0, -1)}-gz"` };
}

/** A short strong ETag: 120 bits of SHA-1, plenty to tell two versions of one answer apart. */
export const etagOf = (data: string | Buffer): string =>
  `"${createHash('sha1').update(data).digest('base64url').slice(0, 20)}"`;

/**
 * `public, max-age=N` for answers a cache may keep as long as the api does, and the time past it that the
 * api itself serves them while refreshing (RFC 5861), which a browser or CDN may do as well.
 */
export function cacheControl(ttlMs: number, staleMs = 0): string {
  if (!(ttlMs > 0)) return 'no-cache';
  const s = (ms: number) => Math.max(1, Math.round(ms / 1000));
  return `public, max-age=${s(ttlMs)}${staleMs > 0 ? `, stale-while-revalidate=${s(staleMs)}` : ''}`;
}

/** Whether If-None-Match names `etag` (weak comparison, RFC 9110 §13.1.2: `W/` prefixes are ignored). */
export function notModified(request: FastifyRequest, etag: string): boolean {
  const header = request.headers['if-none-match'];
  if (!header) return false;
  if (header.trim() === '*') return true;
  const bare = etag.replace(/^W\//, '');
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === bare);
}

export const acceptsGzip = (request: FastifyRequest): boolean =>
  /\bgzip\b(?!\s*;\s*q=0(\.0*)?\s*(,|$))/.test(String(request.headers['accept-encoding'] ?? ''));

/**
 * Sends a prepared answer: 304 when the client holds it, the stored gzip bytes when it accepts gzip (the
 * Content-Encoding header tells @fastify/compress that the body is already compressed), the JSON bytes
 * otherwise.
 */
export function sendPrepared(
  request: FastifyRequest,
  reply: FastifyReply,
  answer: PreparedAnswer,
  ttlMs: number,
  staleMs = 0,
): FastifyReply {
  const gzip = acceptsGzip(request);
  const etag = gzip ? answer.gzipEtag : answer.etag;
  if (tagged(request, reply, ttlMs, staleMs, etag)) return reply.code(304).send();
  if (gzip) return reply.header('Content-Encoding', 'gzip').send(answer.gzip);
  return reply.send(answer.json);
}

/**
 * Sends JSON made for this request (a filtered view of a cached answer), tagged with `etag` so that a
 * client asking again gets a 304 without the answer being rebuilt. Gzipped here in one call on the thread
 * pool: @fastify/compress would stream it through a pipeline, three times the CPU of the compression.
 */
export async function sendJsonText(
  request: FastifyRequest,
  reply: FastifyReply,
  ttlMs: number,
  staleMs: number,
  etag: string,
  text: () => string | Buffer,
): Promise<FastifyReply> {
  if (tagged(request, reply, ttlMs, staleMs, etag)) return reply.code(304).send();
  const json = text();
  if (json.length < 1024 || !acceptsGzip(request)) return reply.send(json);
  return reply.header('Content-Encoding', 'gzip').send(await gzipAsync(json));
}

/** Sets the headers every cached JSON answer carries; true when the client already holds this version. */
function tagged(
  request: FastifyRequest,
  reply: FastifyReply,
  ttlMs: number,
  staleMs: number,
  etag: string,
): boolean {
  // An answer a route marked private (an operator's view) stays out of shared caches.
  const privately = String(reply.getHeader('Cache-Control') ?? '').startsWith('private');
  reply
    .type('application/json; charset=utf-8')
    .header('Cache-Control', privately ? 'private, no-cache' : cacheControl(ttlMs, staleMs))
    .header('ETag', etag)
    // Kept with what the route said it varies on (Authorization where a token shows more).
    .header('Vary', varyWith(reply.getHeader('Vary'), 'Accept-Encoding'));
  return notModified(request, etag);
}

function varyWith(current: unknown, name: string): string {
  const names = String(current ?? '')
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);
  return [...names.filter((n) => n.toLowerCase() !== name.toLowerCase()), name].join(', ');
}
