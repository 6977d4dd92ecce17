// The embedded database, off the main thread (docs/ARCHITECTURE.md §5). PGlite's WASM runs
// synchronously, so it lives in this worker and speaks the PostgreSQL wire protocol
// on a Unix socket in a 0700 directory; the main thread talks to it with `pg`.
//
// pglite-socket queues per transaction: a second connection's statement waits until
// the first connection's open transaction ends, so request transactions never
// interleave on PGlite's single session.
//
// The database is opened once, as PGlite's superuser, for the role bootstrap; then the
// session's role becomes the unprivileged login role (`SET ROLE capto_app`), so every
// socket session starts as it. This is exactly what PGlite's `username` option does
// (its session_user stays the superuser either way, docs/SECURITY.md), without a second
// open of the data dir: an open is most of an embedded server's start (WASM instance,
// file system bundle, extensions), which matters most when it restarts after a crash.
import { constants } from 'node:fs';
import { cp } from 'node:fs/promises';
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';
import { btree_gin } from '@electric-sql/pglite/contrib/btree_gin';
import { citext } from '@electric-sql/pglite/contrib/citext';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

// Plain JavaScript on purpose: a worker thread does not inherit the TypeScript
// loader of the main thread, and this file needs none.

/** @type {{ dataDir: string, settings: string[], socketPath: string, bootstrapSql: string, maxConnections: number }} */
const input = workerData;
const extensions = { btree_gin, citext, pg_trgm };

async function main() {
  const db = await PGlite.create(input.dataDir, {
    extensions,
    // PGlite's own start parameters, then ours (`-c name=value`, docs/ARCHITECTURE.md §5).
    startParams: [...PGlite.defaultStartParams, ...input.settings.flatMap((s) => ['-c', s])],
  });
  await db.exec(input.bootstrapSql);
  await db.exec('SET ROLE capto_app');
  // PGlite reads its array types once at open; the bootstrap may have added some (citext).
  await db.refreshArrayTypes();
  const server = new PGLiteSocketServer({ db, path: input.socketPath, maxConnections: input.maxConnections });
  await server.start();
  parentPort.postMessage({ type: 'ready' });

  parentPort.on('message', async (msg) => {
    if (msg.type === 'snapshot') {
      // A copy of pgdata taken while no statement runs (every socket message runs under
      // this same mutex): the files then hold every committed transaction's WAL, so the
      // copy opens like a database after a crash, with nothing committed missing. The
      // copy is made by the kernel (reflink or copy_file_range), without passing the
      // data through this process's memory. Requests wait only for the copy, not for the
      // backup's compression and encryption (docs/OPERATIONS.md §5).
      try {
        let pausedMs = 0;
        await db.runExclusive(async () => {
          const started = performance.now();
          await cp(input.dataDir, msg.dest, {
            recursive: true,
            errorOnExist: true,
            force: false,
            mode: constants.COPYFILE_FICLONE,
          });
          pausedMs = performance.now() - started;
        });
        parentPort.postMessage({ type: 'snapshot-done', id: msg.id, pausedMs });
      } catch (e) {
        parentPort.postMessage({
          type: 'snapshot-failed',
          id: msg.id,
          message: e instanceof Error ? e.message : String(e),
        });
      }
    } else if (msg.type === 'close') {
      try {
        await server.stop();
        await db.close();
      } finally {
        parentPort.postMessage({ type: 'closed' });
      }
    }
  });
}

main().catch((e) => {
  parentPort.postMessage({ type: 'error', message: e instanceof Error ? e.message : String(e) });
});
