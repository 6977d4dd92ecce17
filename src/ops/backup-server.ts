// Server engine: the payload is `pg_dump` plain SQL, taken through the migration URL
// (an owner or superuser: RLS must not hide rows from the dump). pg_dump reads the
// whole database in one REPEATABLE READ snapshot, so the app may keep serving.
// Restore pipes the SQL into `psql --single-transaction`: the old schemas are
// dropped and the dump replayed in ONE transaction, so any failure restores nothing.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import pg from 'pg';
import { bootstrapWithRetry } from '../db/server-engine.ts';
import { BackupError } from './backup-format.ts';
import { nonEmptyTables, SYSTEM_SCHEMA_SQL, tableRowCounts } from './db-inventory.ts';
import { withClient } from '../db/server-engine.ts';

/** libpq settings from a URL, passed by environment so no password shows in `ps`. */
export function libpqEnv(url: string): NodeJS.ProcessEnv {
  const u = new URL(url);
  const env: NodeJS.ProcessEnv = { ...process.env, PGCONNECT_TIMEOUT: '10' };
  if (u.hostname) env.PGHOST = decodeURIComponent(u.hostname.replace(/^\[|\]$/g, ''));
  if (u.port) env.PGPORT = u.port;
  if (u.username) env.PGUSER = decodeURIComponent(u.username);
  if (u.password) env.PGPASSWORD = decodeURIComponent(u.password);
  env.PGDATABASE = decodeURIComponent(u.pathname.replace(/^\//, '')) || 'postgres';
  const sslmode = u.searchParams.get('sslmode');
  if (sslmode) env.PGSSLMODE = sslmode;
  const host = u.searchParams.get('host'); // postgres:///db?host=/var/run/postgresql
  if (host) env.PGHOST = host;
  return env;
}

export function hasTool(tool: 'pg_dump' | 'psql'): boolean {
  return spawnSync(tool, ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Collect the tail of a child's stderr for an error message (bounded: a dump can be chatty). */
function stderrTail(child: ChildProcess): () => string {
  let tail = '';
  child.stderr?.on('data', (d: Buffer) => {
    tail = (tail + d.toString('utf8')).slice(-2000);
  });
  return () => tail.trim();
}

function exited(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code ?? 1));
  });
}

export interface DumpProcess {
  stdout: Readable;
  /** Resolves when pg_dump succeeded; rejects with its message otherwise. */
  done(): Promise<void>;
}

export function startPgDump(migrationUrl: string): DumpProcess {
  if (!hasTool('pg_dump'))
    throw new BackupError(
      'unavailable',
      'pg_dump is not installed: install the PostgreSQL client tools (same major version as the server or newer)',
    );
  const child = spawn(
    'pg_dump',
    ['--format=plain', '--no-password', '--quote-all-identifiers', '--serializable-deferrable'],
    {
      env: libpqEnv(migrationUrl),
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const tail = stderrTail(child);
  const code = exited(child);
  // Consume stdout at once: Node discards an unread child stdout when the child exits
  // (flushStdio), which a small, fast dump does while the scrypt key is still derived.
  const stdout = child.stdout!.pipe(new PassThrough());
  let bytes = 0;
  child.stdout!.on('data', (c: Buffer) => void (bytes += c.length));
  return {
    stdout,
    async done() {
      if ((await code) !== 0) throw new BackupError('unavailable', `pg_dump failed: ${tail() || 'no message'}`);
      if (bytes === 0) throw new BackupError('unavailable', 'pg_dump wrote nothing; no backup was written');
    },
  };
}

export const withAdmin = withClient;

export const serverNonEmptyTables = (migrationUrl: string) => withAdmin(migrationUrl, (c) => nonEmptyTables(c));
export const serverRowCounts = (migrationUrl: string) => withAdmin(migrationUrl, (c) => tableRowCounts(c));

/**
 * Replay a dump into the database of `migrationUrl`. `feed` writes the decrypted SQL
 * into psql's stdin; the prelude drops every non-system schema first (the dump
 * recreates them, extensions included), inside the same single transaction.
 */
export async function restoreServer(migrationUrl: string, feed: (stdin: Writable) => Promise<void>): Promise<void> {
  if (!hasTool('psql'))
    throw new BackupError('unavailable', 'psql is not installed: install the PostgreSQL client tools');
  const schemas = await withAdmin(migrationUrl, async (c) => {
    const me = await c.query<{ rolsuper: boolean }>(
      'SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user',
    );
    // Roles are cluster-wide and not in a dump: make sure they (and database grants) exist.
    if (me.rows[0]?.rolsuper) await bootstrapWithRetry(c);
    const r = await c.query<{ nspname: string }>(
      `SELECT n.nspname FROM pg_catalog.pg_namespace n WHERE ${SYSTEM_SCHEMA_SQL} AND n.nspname <> 'public'`,
    );
    return r.rows.map((s) => s.nspname);
  });
  const prelude = [
    'SET client_min_messages = warning;',
    ...schemas.map((s) => `DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(s)} CASCADE;`),
    '',
  ].join('\n');

  const child = spawn(
    'psql',
    ['--no-psqlrc', '--quiet', '--single-transaction', '--set=ON_ERROR_STOP=1', '--no-password'],
    {
      env: libpqEnv(migrationUrl),
      stdio: ['pipe', 'ignore', 'pipe'],
    },
  );
  const tail = stderrTail(child);
  const code = exited(child);
  const stdin = child.stdin!;
  stdin.on('error', () => undefined); // EPIPE when psql stops on an error: its exit code tells us why
  let feedError: unknown;
  try {
    await new Promise<void>((resolve, reject) => stdin.write(prelude, (e) => (e ? reject(e) : resolve())));
    await feed(stdin);
    // A backup that recreated no Capto schema (e.g. a dump of another database) must not
    // commit the prelude's DROPs: fail inside the transaction so psql rolls it all back.
    await new Promise<void>((resolve, reject) =>
      stdin
        .end(
          `\nDO $$ BEGIN IF to_regclass('capto_meta.schema_migrations') IS NULL THEN RAISE EXCEPTION 'the backup holds no Capto database'; END IF; END $$;\n`,
          () => resolve(),
        )
        .once('error', reject),
    );
  } catch (e) {
    feedError = e;
    // Kill psql before it reaches end of input: an unterminated single transaction rolls back.
    child.kill('SIGKILL');
  }
  const status = await code;
  if (feedError) throw feedError;
  if (status !== 0)
    throw new BackupError(
      'unavailable',
      `restore failed and was rolled back: ${tail() || `psql exited with ${status}`}`,
    );
}
