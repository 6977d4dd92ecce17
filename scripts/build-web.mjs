#!/usr/bin/env node
// Builds the SPA into web/dist when any of its sources is newer than the last build
// (or when there is no build yet), so `npm start` from a fresh clone serves the web app
// and later starts stay instant. `--force` rebuilds unconditionally.
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));
const web = path.join(repo, 'web');
const marker = path.join(web, 'dist', 'index.html');
const inputs = [
  path.join(web, 'src'),
  path.join(web, 'public'),
  path.join(web, 'index.html'),
  path.join(web, 'vite.config.ts'),
  path.join(web, 'tsconfig.json'),
  path.join(repo, 'package-lock.json'),
];

function newestMtime(p) {
  if (!existsSync(p)) return 0;
  const st = statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const entry of readdirSync(p)) newest = Math.max(newest, newestMtime(path.join(p, entry)));
  return newest;
}

export function isWebBuildStale() {
  if (!existsSync(marker)) return true;
  const built = statSync(marker).mtimeMs;
  return inputs.some((p) => newestMtime(p) > built);
}

export async function buildWeb({ force = false, quiet = false } = {}) {
  if (!force && !isWebBuildStale()) {
    if (!quiet) console.log('web: dist is up to date');
    return false;
  }
  // Under vitest NODE_ENV is "test", which would make Vite bundle React's development
  // build; the served app is always the production build.
  process.env.NODE_ENV = 'production';
  const { build } = await import('vite');
  const started = Date.now();
  await build({ configFile: path.join(web, 'vite.config.ts'), logLevel: quiet ? 'warn' : 'info', mode: 'production' });
  if (!quiet) console.log(`web: built in ${Date.now() - started} ms`);
  return true;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    await buildWeb({ force: process.argv.includes('--force') });
  } catch (e) {
    console.error(`web: build failed: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  }
}
