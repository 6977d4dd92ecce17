#!/usr/bin/env node
// The `capto` command. TypeScript sources run through tsx's loader, so the CLI,
// the server and the tests execute the same files with no build step.
//
// Capto runs on the Node.js pinned in package.json (the `node` package puts it in
// node_modules). `npm start`, `npm test` and `npx capto` find it first on PATH; a plain
// `node bin/capto.js` on an older system Node re-executes itself on the pinned one, so
// every way in runs the same runtime (docs/ARCHITECTURE.md §1).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const REQUIRED_MAJOR = 24;
const major = Number(process.versions.node.split('.')[0]);
if (major < REQUIRED_MAJOR) {
  const pinned = fileURLToPath(new URL('../node_modules/node/bin/node', import.meta.url));
  if (!existsSync(pinned)) {
    console.error(
      `capto needs Node.js ${REQUIRED_MAJOR} or newer (this is ${process.version}); run "npm install" to fetch the pinned one.`,
    );
    process.exit(1);
  }
  const r = spawnSync(pinned, [...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  if (r.signal) process.kill(process.pid, r.signal);
  process.exit(r.status ?? 1);
}

const { register } = await import('tsx/esm/api');
register();
await import('../src/cli/main.ts');
