/**
 * Builds the web UI (controller/ui/src) into dist/controller/ui, which the controller serves at
 * /ui (controller/src/api/ui-routes.ts) and scripts/package.sh ships with dist/controller.
 * Offline: everything is bundled from node_modules, nothing is loaded from a CDN at run time.
 */
import { fileURLToPath } from 'node:url';
import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root: here,
  base: '/ui/',
  // The preset's dev-only helpers (prefresh, devtools) stay out of the production build.
  plugins: [preact({ devToolsEnabled: false, prefreshEnabled: false })],
  logLevel: 'warn',
  build: {
    outDir: fileURLToPath(new URL('../../dist/controller/ui', import.meta.url)),
    emptyOutDir: true,
    // The CSP has no 'unsafe-inline' and no data: scripts: every asset is a file of its own.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    target: 'es2022',
  },
});
