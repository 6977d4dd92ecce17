// Creates a new embedded data dir (PostgreSQL's initdb, in PGlite) in a process of its own:
// `node pglite-init.mjs <pgdata> <settings as JSON>`. initdb grows the WebAssembly heap to
// ~380 MB and leaves memory that a worker thread does not give back when it ends (freed
// malloc arenas stay with the process), so a server that created its data dir in a worker
// kept ~70 MB more for its whole life; a process returns everything when it exits
// (docs/ARCHITECTURE.md §5). Exit 0 once the data dir is created; otherwise one line on
// stderr says why.
import { PGlite } from '@electric-sql/pglite';

const [dataDir, settings] = process.argv.slice(2);
try {
  const db = await PGlite.create(dataDir, {
    // The same start parameters as the serving worker (pglite-worker.mjs).
    startParams: [...PGlite.defaultStartParams, ...JSON.parse(settings).flatMap((s) => ['-c', s])],
  });
  await db.close();
} catch (e) {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
}
