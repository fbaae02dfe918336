/// <reference types="vitest/config" />
import { fileURLToPath, URL } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig, searchForWorkspaceRoot } from 'vite';
import { precompress } from './scripts/precompress';

// `npm run dev` proxies the API to a running `credledger serve --dev` (CREDLEDGER_URL). The Host
// header is kept so the server's same-origin check sees the page's own origin.
const api = process.env.CREDLEDGER_URL ?? 'http://127.0.0.1:8080';

export default defineConfig({
  plugins: [react(), precompress()],
  resolve: {
    alias: { '@': fileURLToPath(new URL('./src', import.meta.url)) },
  },
  server: {
    proxy: {
      '/graphql': { target: api, ws: true, changeOrigin: false },
    },
    // Under Vitest only, the domain's sources too: a test reads the event types the ledger
    // records from them (`?raw`), to check the audit page offers each. The dev server serves
    // web/ alone, as by default.
    ...(process.env.VITEST
      ? {
          fs: {
            allow: [
              searchForWorkspaceRoot(process.cwd()),
              fileURLToPath(new URL('../domain/src', import.meta.url)),
            ],
          },
        }
      : {}),
  },
  build: {
    // The server's CSP allows no inline script; keep every asset a file of its own.
    assetsInlineLimit: 0,
    sourcemap: false,
  },
  test: {
    environment: 'jsdom',
    globals: true,
    setupFiles: ['./src/test/setup.ts'],
    include: ['src/**/*.test.{ts,tsx}'],
    css: false,
    restoreMocks: true,
    // Far from UTC (and a day ahead of it most hours): a date taken in UTC where the person's
    // own is meant is a day off here, so its test fails wherever the tests run.
    env: { TZ: 'Pacific/Kiritimati' },
  },
});
