// `capto start` on the embedded engine runs with the V8 flags and malloc setting of
// bin/capto.js (docs/ARCHITECTURE.md §5): it re-executes itself, keeping its PID, so
// supervisors and the data dir lock see one process. And a started server has not loaded
// the libraries it needs only for work it may never do (AI, email, templates, Redis, the
// offline password list): they load at their first use.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnCapto, stopNode } from './support/capto-process.ts';
import { ENGINE } from './support/engine.ts';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** `capto start` on the embedded engine in a new data dir (plain HTTP, no startup scan). */
function startEmbedded(prefix: string, env: (dataDir: string) => Record<string, string> = () => ({})) {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), prefix));
  dirs.push(dataDir);
  const extra = env(dataDir);
  const server = spawnCapto(['start'], {
    CAPTO_ENV: 'test',
    CAPTO_DATA_DIR: dataDir,
    HOST: '127.0.0.1',
    PORT: '0',
    CAPTO_TLS: 'off',
    CAPTO_SCAN_ON_START: 'off',
    ...extra,
  });
  return { server, dataDir };
}

describe.skipIf(ENGINE !== 'embedded')('embedded capto start', () => {
  it('runs with --liftoff-only, --max-semi-space-size=2, --optimize-for-size and MALLOC_ARENA_MAX=2, under its own PID', async () => {
    const { server } = startEmbedded('capto-mem-');
    try {
      await server.waitFor(/Capto is running/, 180_000);
      const pid = server.child.pid!;
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      expect(argv).toEqual(
        expect.arrayContaining(['--liftoff-only', '--max-semi-space-size=2', '--optimize-for-size']),
      );
      expect(argv.some((a) => a.endsWith('bin/capto.js'))).toBe(true);
      expect(readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')).toContain('MALLOC_ARENA_MAX=2');
    } finally {
      await stopNode(server.child);
    }
    expect((await server.exited).code).toBe(0);
  });

  it('has not loaded the libraries of work it has not done yet once it is running', async () => {
    let log = '';
    const { server } = startEmbedded('capto-mods-', (dataDir) => {
      // A resolve hook (node:module registerHooks) that writes every module URL resolved.
      log = path.join(dataDir, 'modules.txt');
      const hook = path.join(dataDir, 'hook.mjs');
      writeFileSync(
        hook,
        `import { registerHooks } from 'node:module';
         import { appendFileSync } from 'node:fs';
         registerHooks({ resolve(s, c, next) { const r = next(s, c); appendFileSync(${JSON.stringify(log)}, r.url + '\\n'); return r; } });`,
      );
      return { REDIS_URL: '', SMTP_URL: '', NODE_OPTIONS: `--import ${hook}` };
    });
    try {
      await server.waitFor(/Capto is running/, 180_000);
    } finally {
      await stopNode(server.child);
    }
    const packages = new Set(
      readFileSync(log, 'utf8')
        .split('\n')
        .map((url) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1])
        .filter((p) => p !== undefined),
    );
    // What every start needs is there (the log is not empty) …
    expect([...packages]).toEqual(expect.arrayContaining(['fastify', 'pg-boss', '@electric-sql/pglite']));
    // … and none of these (docs/ARCHITECTURE.md §5).
    const lazy = ['openai', 'undici', 'nodemailer', 'liquidjs', 'markdown-it', '@zxcvbn-ts/language-common', 'ioredis'];
    expect(lazy.filter((p) => packages.has(p))).toEqual([]);
  });
});
