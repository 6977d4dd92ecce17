// Vite build of the Capto SPA. The output (web/dist) is served by the Capto server
// under a strict CSP (script-src/style-src 'self'): nothing here may produce an inline
// script or style, so the module-preload polyfill (an inline helper in older Vite
// versions) is off and every stylesheet is a file.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  base: '/',
  plugins: [react()],
  publicDir: 'public',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    modulePreload: { polyfill: false },
    cssCodeSplit: false,
    chunkSizeWarningLimit: 1500,
  },
  server: {
    // `npx vite web` during development: API calls go to a running `npm start`.
    proxy: {
      '/api': { target: 'https://localhost:8443', secure: false },
      '/auth': { target: 'https://localhost:8443', secure: false },
      '/.well-known': { target: 'https://localhost:8443', secure: false },
    },
  },
});
