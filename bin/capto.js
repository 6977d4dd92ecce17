#!/usr/bin/env node
// The `capto` command. The TypeScript sources run as they are, with no build step: Node
// 24 strips their types itself (they use only erasable syntax, which `erasableSyntaxOnly`
// in tsconfig.json enforces). No loader is registered, so no loader thread or transpiler
// sits in the server's memory (docs/ARCHITECTURE.md §5); the tests run the same files
// through vitest.
//
// Capto runs on the Node.js pinned in package.json (the `node` package puts it in
// node_modules). `npm start`, `npm test` and `npx capto` find it first on PATH; a plain
// `node bin/capto.js` on an older system Node re-executes itself on the pinned one, so
// every way in runs the same runtime (docs/ARCHITECTURE.md §1).
//
// `capto start` on the embedded engine (no DATABASE_URL) runs with the V8 flags of
// EMBEDDED_NODE_FLAGS. V8 reads them only at process start, so this process replaces
// itself (execve: same PID, same stdio, same environment) with one that has them; the
// reasons and the measured memory are in docs/ARCHITECTURE.md §5.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const EMBEDDED_NODE_FLAGS = ['--liftoff-only', '--max-semi-space-size=2', '--optimize-for-size'];

const REQUIRED_MAJOR = 24;
const major = Number(process.versions.node.split('.')[0]);
const script = fileURLToPath(import.meta.url);
const args = process.argv.slice(2);
const isEmbeddedStart = args[0] === 'start' && !process.env.DATABASE_URL;
const nodeFlags =
  isEmbeddedStart && !EMBEDDED_NODE_FLAGS.every((f) => process.execArgv.includes(f)) ? EMBEDDED_NODE_FLAGS : [];

if (major < REQUIRED_MAJOR) {
  const pinned = fileURLToPath(new URL('../node_modules/node/bin/node', import.meta.url));
  if (!existsSync(pinned)) {
    console.error(
      `capto needs Node.js ${REQUIRED_MAJOR} or newer (this is ${process.version}); run "npm install" to fetch the pinned one.`,
    );
    process.exit(1);
  }
  const r = spawnSync(pinned, [...nodeFlags, ...process.execArgv, script, ...args], { stdio: 'inherit' });
  if (r.signal) process.kill(process.pid, r.signal);
  process.exit(r.status ?? 1);
}
if (nodeFlags.length > 0) {
  // Flags given by the caller come after ours, so theirs win.
  // Two malloc arenas instead of one per thread (up to 8 per core): freed memory of the
  // other arenas is never given back.
  process.execve(process.execPath, [process.execPath, ...nodeFlags, ...process.execArgv, script, ...args], {
    ...process.env,
    MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? '2',
  });
}

await import('../src/cli/main.ts');
