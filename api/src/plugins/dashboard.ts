import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** Paths the dashboard never answers, even when no api route matched: they get the JSON 404. */
const NOT_DASHBOARD = /^\/(api|docs|metrics|healthz|readyz)(\/|$|\?)/;

/** What the page learns from the api's own configuration rather than from its build. */
export interface DashboardSettings {
  /** OPEN_DATA_LICENSE: the page's credit line names it. */
  license: string;
}

/**
 * Serves the built dashboard (DASHBOARD_DIR) at `/` when it exists. Returns the 404 fallback that answers a
 * browser's navigation to a client-side route with index.html, or undefined when there is no dashboard.
 */
export async function registerDashboard(
  app: FastifyInstance,
  dir: string,
  settings: DashboardSettings = { license: 'ODbL-1.0' },
): Promise<((request: FastifyRequest, reply: FastifyReply) => Promise<boolean>) | undefined> {
  if (!existsSync(join(dir, 'index.html'))) {
    app.log.info({ dir }, 'no built dashboard; / serves nothing (npm run build -w dashboard)');
    return undefined;
  }
  // The deployment's config.json (basemap, first view, editable without rebuilding) with the api's settings
  // laid over it, so the page never states a licence the api does not serve its data under.
  app.get('/config.json', { schema: { hide: true } }, async (_request, reply) => {
    let file: Record<string, unknown> = {};
    try {
      const parsed: unknown = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed))
        file = parsed as Record<string, unknown>;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
        app.log.warn({ err }, 'dashboard config.json unreadable');
    }
    return reply.header('Cache-Control', 'no-cache').send({ ...file, license: settings.license });
  });
  await app.register(fastifyStatic, {
    root: dir,
    prefix: '/',
    // Files are looked up per request, so a dashboard rebuilt while the api runs is served at once.
    wildcard: true,
    allowedPath: (pathName) => !NOT_DASHBOARD.test(pathName),
    index: ['index.html'],
    // The build's .br and .gz copies, for browsers that accept them (compression here, once, not per request).
    preCompressed: true,
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
