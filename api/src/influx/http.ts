import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../errors.ts';
import { InfluxError } from './client.ts';

/**
 * InfluxDB down or slow is a 503 the client may retry; a statement InfluxDB refused is our bug and stays a
 * 500 (logged by the error handler with the statement's error).
 */
export function influxFailure(err: unknown): unknown {
  if (err instanceof InfluxError && err.kind !== 'query') {
    return new ApiError('unavailable', `InfluxDB is unavailable (${err.kind}); retry later`, { cause: err });
  }
  return err;
}

/** Three decimals: beyond any kit's resolution, and a third of the bytes of a full double. */
export const round3 = (v: number): number => Math.round(v * 1000) / 1000;

/**
 * A mean to 3 decimals. The sum is first rounded to 6 decimals, the precision readings are stored with,
 * so that the answer does not depend on the order InfluxDB and the api added the values in (a mean of
 * exactly x.xxx5 would otherwise round either way).
 */
export const mean3 = (sum: number, count: number): number => round3(Math.round(sum * 1e6) / 1e6 / count);

/** `public, max-age=N` for answers a cache may keep as long as the api does. */
export const cacheControl = (ttlMs: number): string =>
  ttlMs > 0 ? `public, max-age=${Math.max(1, Math.round(ttlMs / 1000))}` : 'no-cache';

/**
 * Sends JSON already serialized (a cached answer): Fastify sends a string with a JSON content type as is,
 * so the route's zod response schema documents the shape without re-validating it on every hit.
 */
export function sendJsonText(reply: FastifyReply, text: string, ttlMs: number): FastifyReply {
  return reply
    .type('application/json; charset=utf-8')
    .header('Cache-Control', cacheControl(ttlMs))
    .send(text);
}

const gzipAsync = promisify(gzip) as (text: string) => Promise<Buffer>;

/** A cached answer shared by many requests: serialized, and gzipped, once. */
export interface SharedAnswer {
  json?: string;
  gzip?: Promise<Buffer>;
}

/**
 * Sends a shared answer, gzipped once for every client that accepts gzip (compressing a city's map for
 * each of fifty clients would cost more than finding it).
 */
export async function sendShared(
  request: FastifyRequest,
  reply: FastifyReply,
  shared: SharedAnswer,
  serialize: () => string,
  ttlMs: number,
): Promise<FastifyReply> {
  shared.json ??= serialize();
  if (!/\bgzip\b/.test(String(request.headers['accept-encoding'] ?? '')))
    return sendJsonText(reply, shared.json, ttlMs);
  shared.gzip ??= gzipAsync(shared.json);
  const body = await shared.gzip;
  return reply
    .type('application/json; charset=utf-8')
    .header('Content-Encoding', 'gzip')
    .header('Vary', 'Accept-Encoding')
    .header('Cache-Control', cacheControl(ttlMs))
    .send(body);
}
