import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { defineConfig, type Plugin } from 'vite';
import { RENNES } from '../firmware-sim/src/city.ts';
import { cityGeoJson } from './src/city-map.ts';

/**
 * `city.geojson`, the offline fallback map (src/city-map.ts), from the simulated city's plan: emitted by
 * the build, served by the dev server.
 */
function cityMap(): Plugin {
  const text = () =>
    JSON.stringify(cityGeoJson(RENNES, [{ name: 'La Vilaine', along: 'Quais de la Vilaine' }]));
  return {
    name: 'citytel-city-map',
    configureServer(server) {
      server.middlewares.use('/city.geojson', (_req, res) => {
        res.setHeader('Content-Type', 'application/geo+json');
        res.end(text());
      });
    },
    generateBundle() {
      this.emitFile({ type: 'asset', fileName: 'city.geojson', source: text() });
    },
  };
}

/**
 * `npm run build -w dashboard` writes dist/, which the api serves at `/`. `npm run dev -w dashboard`
 * serves the page with hot reload and passes /api to the api at API_PORT (default 8080).
 * BASEMAP_STYLE_URL, when set at build time, is the default basemap (see src/basemap.ts).
 */
/**
 * Brotli and gzip copies of every text file of dist/ beside it, which the api serves to browsers that
 * accept them (@fastify/static `preCompressed`): MapLibre goes over the wire as about a quarter of itself.
 */
function precompress(): Plugin {
  let outDir = '';
  return {
    name: 'citytel-precompress',
    apply: 'build',
    configResolved(c) {
      outDir = c.build.outDir.startsWith('/') ? c.build.outDir : join(c.root, c.build.outDir);
    },
    writeBundle() {
      for (const name of readdirSync(outDir, { recursive: true, encoding: 'utf8' })) {
        const file = join(outDir, name);
        if (!/\.(js|css|html|json|geojson|svg)$/.test(name) || statSync(file).size < 1024) continue;
        const data = readFileSync(file);
        writeFileSync(
          `${file}.br`,
          brotliCompressSync(data, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }),
        );
        writeFileSync(`${file}.gz`, gzipSync(data, { level: 9 }));
      }
    },
  };
}

export default defineConfig({
  root: import.meta.dirname,
  // Relative asset paths: the same build works at `/` and behind a proxy under a sub-path.
  base: './',
  envPrefix: ['VITE_', 'BASEMAP_'],
  plugins: [cityMap(), precompress()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // MapLibre alone is ~800 kB minified; the page's own code is ~30 kB.
    chunkSizeWarningLimit: 1200,
    rolldownOptions: {
      // The contract's modules only declare (schemas, tables, functions): what the page does not import
      // is dropped, zod included, instead of being kept for possible side effects (~25 kB gzip).
      treeshake: { moduleSideEffects: (id: string) => !/[\\/]contract[\\/]src[\\/]/.test(id) },
    },
  },
  server: {
    proxy: { '/api': `http://127.0.0.1:${process.env.API_PORT ?? 8080}` },
  },
});
