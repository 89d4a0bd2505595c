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
export default defineConfig({
  root: import.meta.dirname,
  // Relative asset paths: the same build works at `/` and behind a proxy under a sub-path.
  base: './',
  envPrefix: ['VITE_', 'BASEMAP_'],
  plugins: [cityMap()],
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
