// Embedded engine: the backup payload is PGlite's own data-dir tarball. The CLI opens
// pgdata directly (the data-dir lock proves the server is not running), so the
// snapshot is consistent by construction.
import { existsSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { citext } from '@electric-sql/pglite/contrib/citext';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import { BackupError } from './backup-format.ts';
import { nonEmptyTables, tableRowCounts, type Queryable } from './db-inventory.ts';

const extensions = { citext, pg_trgm };

const pgdataOf = (dataDir: string) => path.join(dataDir, 'pgdata');
const hasDatabase = (pgdata: string) => existsSync(path.join(pgdata, 'PG_VERSION'));

async function withPglite<T>(pgdata: string, fn: (db: PGlite) => Promise<T>, loadDataDir?: Blob): Promise<T> {
  const db = await PGlite.create(pgdata, { extensions, ...(loadDataDir ? { loadDataDir } : {}) });
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

export async function dumpEmbedded(dataDir: string): Promise<{ tar: Buffer; rowCounts: Record<string, number> }> {
  const pgdata = pgdataOf(dataDir);
  if (!hasDatabase(pgdata))
    throw new BackupError('unavailable', `there is no embedded database in ${dataDir} to back up`);
  return withPglite(pgdata, async (db) => {
    const rowCounts = await tableRowCounts(asQueryable(db));
    const blob = await db.dumpDataDir('none');
    return { tar: Buffer.from(await blob.arrayBuffer()), rowCounts };
  });
}

export async function embeddedNonEmptyTables(dataDir: string): Promise<string[]> {
  const pgdata = pgdataOf(dataDir);
  if (!hasDatabase(pgdata)) return [];
  return withPglite(pgdata, (db) => nonEmptyTables(asQueryable(db)));
}

/**
 * Replace pgdata with the tarball's. The old directory is moved aside first and only
 * deleted once the new one opens and answers, so a failed restore leaves it in place.
 */
export async function restoreEmbedded(dataDir: string, tar: Buffer): Promise<void> {
  const pgdata = pgdataOf(dataDir);
  const aside = `${pgdata}.before-restore-${Date.now()}`;
  const hadOld = existsSync(pgdata);
  if (hadOld) renameSync(pgdata, aside);
  try {
    // The restored cluster must open and answer before the old one is deleted.
    await withPglite(
      pgdata,
      (db) => db.query('SELECT count(*) FROM capto_meta.schema_migrations'),
      new Blob([new Uint8Array(tar)]),
    );
    if (hadOld) rmSync(aside, { recursive: true, force: true });
  } catch (e) {
    rmSync(pgdata, { recursive: true, force: true });
    if (hadOld) renameSync(aside, pgdata);
    throw e;
  }
}
