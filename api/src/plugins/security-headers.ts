import fastifyHelmet from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';

/**
 * Security headers on every answer (helmet), with a Content-Security-Policy the dashboard lives with:
 * - the Vite build loads its scripts and styles from /assets (`'self'`); MapLibre sets inline styles on the
 *   map's elements and popups, hence `style-src 'unsafe-inline'` (styles cannot run code);
 * - MapLibre runs its tile workers from `blob:` URLs (`worker-src`, and `child-src` for browsers that
 *   predate worker-src) and draws tiles decoded to `blob:` and `data:` images;
 * - the basemap's tiles and style are fetched from `mapOrigins` (connect-src, img-src);
 * - nothing may frame the page, no plugin, no <base>, forms only to this origin.
 * No `upgrade-insecure-requests` and no HSTS here: TLS ends at the proxy, which sets HSTS, and the api on
 * one machine is plain http://localhost. The api's JSON is open data, so any origin may load it
 * (Cross-Origin-Resource-Policy: cross-origin; CORS decides who may read it from a script).
 */
export async function registerSecurityHeaders(
  app: FastifyInstance,
  opts: { mapOrigins: readonly string[] },
): Promise<void> {
  await app.register(fastifyHelmet, {
    global: true,
    hsts: false,
    crossOriginResourcePolicy: { policy: 'cross-origin' },
    contentSecurityPolicy: {
      useDefaults: false,
      directives: dashboardCsp(opts.mapOrigins),
    },
  });
}

export function dashboardCsp(mapOrigins: readonly string[]): Record<string, string[]> {
  return {
    'default-src': ["'self'"],
    'script-src': ["'self'"],
    'script-src-attr': ["'none'"],
    'style-src': ["'self'", "'unsafe-inline'"],
    'img-src': ["'self'", 'data:', 'blob:', ...mapOrigins],
    'font-src': ["'self'", 'data:'],
    'connect-src': ["'self'", ...mapOrigins],
    'worker-src': ["'self'", 'blob:'],
    'child-src': ["'self'", 'blob:'],
    'object-src': ["'none'"],
    'base-uri': ["'self'"],
    'form-action': ["'self'"],
    'frame-ancestors': ["'none'"],
  };
}
