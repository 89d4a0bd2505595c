import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, brotliDecompressSync } from 'node:zlib';
import { openStore, type Store } from '@citytel/store';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, loadApiConfig } from '../api/src/index.ts';
import { tempDir } from './helpers/tmp.ts';

/**
 * How the api serves the built dashboard: `/config.json` with the api's licence laid over the deployment's
 * file, and the build's brotli copies to browsers that accept them.
 */

const tmp = tempDir('citytel-dash-serve-');
const dist = join(tmp.dir, 'dist');
const JS = `console.log(${JSON.stringify('x'.repeat(4000))});`;
let store: Store;
let app: FastifyInstance;

beforeAll(async () => {
  mkdirSync(join(dist, 'assets'), { recursive: true });
  writeFileSync(join(dist, 'index.html'), '<!doctype html><title>t</title>');
  writeFileSync(
    join(dist, 'config.json'),
    JSON.stringify({ basemap: 'none', timeZone: 'Europe/Paris', license: 'CC0' }),
  );
  writeFileSync(join(dist, 'assets', 'app.js'), JS);
  writeFileSync(join(dist, 'assets', 'app.js.br'), brotliCompressSync(JS));
  const log = pino({ level: 'silent' });
  store = await openStore({ dataDir: tmp.dir, log });
  const config = loadApiConfig({
    DATA_DIR: tmp.dir,
    DASHBOARD_DIR: dist,
    OPEN_DATA_LICENSE: 'CC-BY-4.0',
    LOG_LEVEL: 'silent',
  });
  app = await buildApp({ config, store, log });
});
afterAll(async () => {
  await app?.close();
  await store?.close();
  tmp.cleanup();
});

describe('the dashboard as the api serves it', () => {
  it("answers /config.json with the deployment's settings and the api's licence", async () => {
    const r = await app.inject({ url: '/config.json' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['cache-control']).toBe('no-cache');
    expect(r.json()).toEqual({ basemap: 'none', timeZone: 'Europe/Paris', license: 'CC-BY-4.0' });
  });

  it('serves the brotli copy to a browser that accepts it, the plain file to one that does not', async () => {
    const br = await app.inject({ url: '/assets/app.js', headers: { 'accept-encoding': 'br, gzip' } });
    expect(br.statusCode).toBe(200);
    expect(br.headers['content-encoding']).toBe('br');
    expect(brotliDecompressSync(br.rawPayload).toString()).toBe(JS);
    const plain = await app.inject({ url: '/assets/app.js', headers: { 'accept-encoding': 'identity' } });
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body).toBe(JS);
  });
});
