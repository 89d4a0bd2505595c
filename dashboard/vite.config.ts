import { defineConfig } from 'vite';

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
