// Server engine without pg_dump: a logical export read in ONE REPEATABLE READ, READ
// ONLY transaction (one snapshot, like pg_dump's), as NDJSON:
//   {"capto_logical_backup":1,"migrations":[{version,name,checksum}…]}
//   {"table":"\"app\".\"contacts\"","columns":[…]}   then one {"row":{…}} per row
//   {"sequence":"\"audit\".\"…_seq\"","last_value":"42","is_called":true}
// The schema is not in the file: restore recreates it by applying exactly the
// migrations the backup was taken at (their checksums must match this code's), then
// inserts the rows with triggers off (session_replication_role = replica) so audit
// hash chains and timestamps come back byte for byte.
import { Readable } from 'node:stream';
import readline from 'node:readline';
import pg from 'pg';
import { bootstrapWithRetry } from '../db/server-engine.ts';
import { JOB_SCHEMA } from '../db/job-schema.ts';
import { migrate, readMigrations } from '../db/migrator.ts';
import { BackupError } from './backup-format.ts';
import { listTables, SYSTEM_SCHEMA_SQL } from './db-inventory.ts';
import { withAdmin } from './backup-server.ts';

const BATCH = 500;

async function* exportRows(url: string): AsyncGenerator<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const migrations = await client.query(
      'SELECT version, name, checksum FROM capto_meta.schema_migrations ORDER BY version',
    );
    yield `${JSON.stringify({ capto_logical_backup: 1, migrations: migrations.rows })}\n`;
    for (const table of await listTables(client)) {
      if (table.startsWith('"capto_meta".')) continue;
      const cols = await client.query<{ attname: string }>(
        `SELECT attname FROM pg_catalog.pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = '' ORDER BY attnum`,
        [table],
      );
      yield `${JSON.stringify({ table, columns: cols.rows.map((c) => c.attname) })}\n`;
      // A cursor keeps memory flat on large tables.
      await client.query(`DECLARE capto_export NO SCROLL CURSOR FOR SELECT to_jsonb(t) AS r FROM ${table} t`);
      for (;;) {
        const page = await client.query<{ r: unknown }>(`FETCH ${BATCH} FROM capto_export`);
        for (const { r } of page.rows) yield `${JSON.stringify({ row: r })}\n`;
        if (page.rows.length < BATCH) break;
      }
      await client.query('CLOSE capto_export');
    }
    const seqs = await client.query<{ name: string }>(
      `SELECT format('%I.%I', n.nspname, c.relname) AS name FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'S' AND ${SYSTEM_SCHEMA_SQL} AND n.nspname NOT IN ('capto_meta', $1)`,
      [JOB_SCHEMA],
    );
    for (const { name } of seqs.rows) {
      const v = await client.query<{ last_value: string; is_called: boolean }>(
        `SELECT last_value::text, is_called FROM ${name}`,
      );
      yield `${JSON.stringify({ sequence: name, ...v.rows[0] })}\n`;
    }
    await client.query('COMMIT');
  } finally {
    await client.end().catch(() => undefined);
  }
}

export const logicalExport = (url: string): Readable => Readable.from(exportRows(url));

type Line =
  | { capto_logical_backup: number; migrations: Array<{ version: string; checksum: string }> }
  | { table: string; columns: string[] }
  | { row: Record<string, unknown> }
  | { sequence: string; last_value: string; is_called: boolean };

/**
 * Restore a logical export into an EMPTY database: the schema is rebuilt by the
 * migrations (which commit on their own), then every row goes in one transaction.
 */
export async function restoreLogical(url: string, source: Readable): Promise<void> {
  const lines = readline.createInterface({ input: source, crlfDelay: Infinity })[Symbol.asyncIterator]();
  const first = await lines.next();
  const head = first.done ? undefined : (JSON.parse(first.value) as Line);
  if (!head || !('capto_logical_backup' in head))
    throw new BackupError('corrupted', 'the backup holds no Capto logical export');
  const code = new Map(readMigrations().map((m) => [m.version, m]));
  for (const m of head.migrations) {
    if (code.get(m.version)?.checksum !== m.checksum) {
      throw new BackupError(
        'unavailable',
        `this backup was taken at migration ${m.version}, which this Capto version does not have unchanged: restore it with the Capto release that made it`,
      );
    }
  }
  const wanted = new Set(head.migrations.map((m) => m.version));

  await withAdmin(url, async (client) => {
    const me = await client.query<{ rolsuper: boolean }>(
      'SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user',
    );
    if (!me.rows[0]?.rolsuper)
      throw new BackupError(
        'unavailable',
        'a logical restore needs CAPTO_MIGRATION_URL to be a superuser (triggers are switched off while rows go in)',
      );
    await bootstrapWithRetry(client);
    const schemas = await client.query<{ nspname: string }>(
      `SELECT n.nspname FROM pg_catalog.pg_namespace n WHERE ${SYSTEM_SCHEMA_SQL} AND n.nspname NOT IN ('public', 'extensions')`,
    );
    // The target was checked empty: dropping its (empty) schemas makes the migrations start clean.
    for (const { nspname } of schemas.rows) await client.query(`DROP SCHEMA ${pg.escapeIdentifier(nspname)} CASCADE`);
    await migrate(
      client,
      readMigrations().filter((m) => wanted.has(m.version)),
    );

    await client.query('BEGIN; SET LOCAL session_replication_role = replica;');
    try {
      let table: { table: string; columns: string[] } | undefined;
      let batch: Record<string, unknown>[] = [];
      const flush = async () => {
        if (!table || batch.length === 0) return;
        const cols = table.columns.map((c) => pg.escapeIdentifier(c)).join(', ');
        await client.query(
          `INSERT INTO ${table.table} (${cols}) OVERRIDING SYSTEM VALUE SELECT ${cols} FROM jsonb_populate_recordset(NULL::${table.table}, $1::jsonb)`,
          [JSON.stringify(batch)],
        );
        batch = [];
      };
      for (let next = await lines.next(); !next.done; next = await lines.next()) {
        if (!next.value) continue;
        const line = JSON.parse(next.value) as Line;
        if ('row' in line) {
          batch.push(line.row);
          if (batch.length >= BATCH) await flush();
        } else if ('table' in line) {
          await flush();
          table = line;
        } else if ('sequence' in line) {
          await flush();
          await client.query('SELECT pg_catalog.setval($1::regclass, $2::bigint, $3)', [
            line.sequence,
            line.last_value,
            line.is_called,
          ]);
        }
      }
      await flush();
      await client.query('COMMIT');
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    }
  });
}
