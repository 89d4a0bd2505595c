import { existsSync } from 'node:fs';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** Paths the dashboard never answers, even when no api route matched: they get the JSON 404. */
const NOT_DASHBOARD = /^\/(api|docs|metrics|healthz|readyz)(\/|$|\?)/;

/**
 * Serves the built dashboard (DASHBOARD_DIR) at `/` when it exists. Returns the 404 fallback that answers a
 * browser's navigation to a client-side route with index.html, or undefined when there is no dashboard.
 */
export async function registerDashboard(
  app: FastifyInstance,
  dir: string,
): Promise<((request: FastifyRequest, reply: FastifyReply) => Promise<boolean>) | undefined> {
  if (!existsSync(join(dir, 'index.html'))) {
    app.log.info({ dir }, 'no built dashboard; / serves nothing (npm run build -w dashboard)');
    return undefined;
  }
  await app.register(fastifyStatic, {
    root: dir,
    prefix: '/',
    // Files are looked up per request, so a dashboard rebuilt while the api runs is served at once.
    wildcard: true,
    allowedPath: (pathName) => !NOT_DASHBOARD.test(pathName),
    index: ['index.html'],
    cacheControl: false,
    // Vite's hashed assets never change under one name; index.html must be revalidated.
    setHeaders: (res, path) => {
      res.setHeader(
        'Cache-Control',
        path.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
      );
    },
  });
  return async (request, reply) => {
    const html = request.headers.accept?.includes('text/html');
    if (request.method !== 'GET' || !html || NOT_DASHBOARD.test(request.url)) return false;
    await reply.type('text/html; charset=utf-8').sendFile('index.html');
    return true;
  };
}
