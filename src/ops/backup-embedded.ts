// Embedded engine: the backup payload is a tar of pgdata (the layout PGlite's
// dumpDataDir writes; backups made with it restore unchanged). Both directions stream:
// files pass through in 64 KiB chunks, so memory stays flat whatever the data size
// (docs/OPERATIONS.md §5).
// - Server running: it copies pgdata while no statement runs (the admin channel's
//   snapshot) and the copy is streamed from disk — the server is paused only for the copy.
// - Server stopped: pgdata itself is streamed, under the data dir lock.
import { chmodSync, createReadStream, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { PGlite } from '@electric-sql/pglite';
import { btree_gin } from '@electric-sql/pglite/contrib/btree_gin';
import { citext } from '@electric-sql/pglite/contrib/citext';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import tar from 'tar-stream';
import type { DataDirLock } from '../db/data-dir-lock.ts';
import { BackupError } from './backup-format.ts';
import { nonEmptyTables, type Queryable } from './db-inventory.ts';

const extensions = { btree_gin, citext, pg_trgm };

export const pgdataOf = (dataDir: string) => path.join(dataDir, 'pgdata');
export const hasDatabase = (pgdata: string) => existsSync(path.join(pgdata, 'PG_VERSION'));

/** Open PGlite on the locked data dir (never without the lock: see src/db/data-dir-lock.ts). */
async function withPglite<T>(lock: DataDirLock, fn: (db: PGlite) => Promise<T>): Promise<T> {
  if (!lock.held) throw new Error('opening the embedded database needs its data dir lock');
  const db = await PGlite.create(pgdataOf(lock.dataDir), { extensions });
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

// PGlite's query API matches the Queryable shape closely enough; adapt its types.
const asQueryable = (db: PGlite): Queryable => ({
  query: async <R>(sql: string, params?: unknown[]) => ({ rows: (await db.query<R>(sql, params)).rows }),
});

/** Every directory and regular file under `root`, parents first, in a stable order. */
function* walk(root: string, rel = ''): Generator<{ rel: string; dir: boolean }> {
  for (const entry of readdirSync(path.join(root, rel), { withFileTypes: true }).sort((a, b) =>
    a.name < b.name ? -1 : 1,
  )) {
    const child = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory()) {
      yield { rel: child, dir: true };
      yield* walk(root, child);
    } else if (entry.isFile()) {
      yield { rel: child, dir: false };
    }
  }
}

/** A tar stream of the directory `root` (which must not change while it is read). */
export function tarDirectory(root: string): Readable {
  const pack = tar.pack();
  (async () => {
    for (const { rel, dir } of walk(root)) {
      const full = path.join(root, rel);
      const st = statSync(full);
      if (dir) {
        pack.entry({ name: rel, type: 'directory', mode: 0o700, mtime: st.mtime });
        continue;
      }
      await new Promise<void>((resolve, reject) => {
        const sink = pack.entry({ name: rel, size: st.size, mode: 0o600, mtime: st.mtime }, (e) =>
          e ? reject(e) : resolve(),
        );
        const file = createReadStream(full, { highWaterMark: 64 * 1024 });
        file.once('error', (e) => {
          sink.destroy(e);
          reject(e);
        });
        file.pipe(sink);
      });
    }
    pack.finalize();
  })().catch((e: unknown) => pack.destroy(e as Error));
  return Readable.from(pack);
}

/** A tar entry name as a safe relative path ("/base/1/112" and "./x" are older spellings). */
function safeRelative(name: string): string {
  const rel = path.posix.normalize(name.replace(/^(\.?\/)+/, ''));
  if (rel === '.' || rel === '' || rel.startsWith('../') || rel === '..' || path.posix.isAbsolute(rel)) {
    throw new BackupError('corrupted', `the backup holds an unsafe path: ${JSON.stringify(name)}`);
  }
  return rel;
}

/** Unpack a tar stream into `dest` (a new, empty directory): directories 0700, files 0600. */
export async function extractTar(source: Readable, dest: string): Promise<void> {
  mkdirSync(dest, { recursive: true, mode: 0o700 });
  const extract = tar.extract();
  source.once('error', (e) => extract.destroy(e));
  source.pipe(extract);
  for await (const entry of extract) {
    const rel = entry.header.name === './' || entry.header.name === '/' ? '' : safeRelative(entry.header.name);
    const target = path.join(dest, rel);
    if (entry.header.type === 'directory') {
      mkdirSync(target, { recursive: true, mode: 0o700 });
      entry.resume();
    } else if (entry.header.type === 'file') {
      mkdirSync(path.dirname(target), { recursive: true, mode: 0o700 });
      const fh = await open(target, 'wx', 0o600);
      try {
        for await (const chunk of entry as AsyncIterable<Buffer>) await fh.write(chunk);
      } finally {
        await fh.close();
      }
    } else {
      throw new BackupError('corrupted', `the backup holds an unexpected ${entry.header.type} entry`);
    }
  }
}

export async function embeddedNonEmptyTables(lock: DataDirLock): Promise<string[]> {
  if (!hasDatabase(pgdataOf(lock.dataDir))) return [];
  return withPglite(lock, (db) => nonEmptyTables(asQueryable(db)));
}

/**
 * Put the unpacked `incoming` directory in place of pgdata. The old directory is moved
 * aside first and only deleted once the new one opens and answers, so a failed restore
 * leaves it in place.
 */
export async function installRestoredPgdata(lock: DataDirLock, incoming: string): Promise<void> {
  const pgdata = pgdataOf(lock.dataDir);
  if (!hasDatabase(incoming)) throw new BackupError('corrupted', 'the backup holds no embedded database');
  const aside = `${pgdata}.before-restore-${Date.now()}`;
  const hadOld = existsSync(pgdata);
  if (hadOld) renameSync(pgdata, aside);
  try {
    renameSync(incoming, pgdata);
    chmodSync(pgdata, 0o700); // like a data dir the engine created itself, whatever the umask or the tar said
    await withPglite(lock, (db) => db.query('SELECT count(*) FROM capto_meta.schema_migrations'));
    if (hadOld) rmSync(aside, { recursive: true, force: true });
  } catch (e) {
    rmSync(pgdata, { recursive: true, force: true });
    if (hadOld) renameSync(aside, pgdata);
    throw e;
  }
}
