// Forward-only SQL migrations (docs/ARCHITECTURE.md §10): migrations/NNNN_verb_noun.sql applied in
// order, each in its own transaction as capto_owner, recorded with a SHA-256 checksum.
// Re-running is a no-op; an edited migration that was already applied stops everything.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { installJobSchema, type JobSchemaOutcome } from './job-schema.ts';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));
const FILE = /^(\d{4})_([a-z0-9_]+)\.sql$/;
// One number for the whole cluster: two nodes starting at once apply each migration once.
const MIGRATION_LOCK = 7_270_001;

export interface Migration {
  version: string;
  name: string;
  sql: string;
  checksum: string;
}

export class MigrationError extends Error {
  override name = 'MigrationError';
}

export function readMigrations(dir = MIGRATIONS_DIR): Migration[] {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort();
  const seen = new Set<string>();
  return files.map((file) => {
    const m = FILE.exec(file);
    if (!m) throw new MigrationError(`migration file name ${file} does not match NNNN_verb_noun.sql`);
    const [, version, name] = m as unknown as [string, string, string];
    if (seen.has(version)) throw new MigrationError(`two migrations share the number ${version}`);
    seen.add(version);
    const sql = readFileSync(path.join(dir, file), 'utf8');
    return { version, name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
  });
}

/** The statement prefix of every maintenance transaction: act as the schema owner. */
export const OWNER_TX = `SET LOCAL ROLE capto_owner; SET LOCAL search_path = pg_catalog, extensions, public;`;

export interface MigrateResult {
  applied: string[];
  skipped: number;
  /** What happened to the job engine's schema (pg-boss), installed after the SQL migrations. */
  jobSchema?: JobSchemaOutcome;
}

export async function migrate(
  client: pg.ClientBase,
  migrations: Migration[] = readMigrations(),
): Promise<MigrateResult> {
  await client.query(`BEGIN; ${OWNER_TX}
    CREATE SCHEMA IF NOT EXISTS capto_meta;
    CREATE TABLE IF NOT EXISTS capto_meta.schema_migrations (
      version text PRIMARY KEY,
      name text NOT NULL,
      checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    );
    REVOKE ALL ON SCHEMA capto_meta FROM PUBLIC;
    COMMIT;`);

  const applied = await appliedMigrations(client);
  // Check every applied migration before applying anything new.
  for (const m of migrations) {
    const row = applied.get(m.version);
    if (row && row.checksum !== m.checksum) {
      throw new MigrationError(
        `migration ${m.version}_${m.name} was changed after it was applied (checksum ${row.checksum.slice(0, 12)}… ≠ ${m.checksum.slice(0, 12)}…). ` +
          'Applied migrations are immutable: restore the file and add a new migration instead.',
      );
    }
  }

  const result: MigrateResult = { applied: [], skipped: 0 };
  for (const m of migrations) {
    if (applied.has(m.version)) {
      result.skipped++;
      continue;
    }
    await client.query(`BEGIN; ${OWNER_TX} SELECT pg_advisory_xact_lock(${MIGRATION_LOCK});`);
    try {
      // Another node may have applied it while we waited for the lock.
      const again = await client.query('SELECT checksum FROM capto_meta.schema_migrations WHERE version = $1', [
        m.version,
      ]);
      if (again.rowCount) {
        await client.query('ROLLBACK');
        result.skipped++;
        continue;
      }
      await client.query(m.sql);
      await client.query('INSERT INTO capto_meta.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
        m.version,
        m.name,
        m.checksum,
      ]);
      await client.query('COMMIT');
      result.applied.push(`${m.version}_${m.name}`);
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      const reason = e instanceof Error ? e.message : String(e);
      throw new MigrationError(`migration ${m.version}_${m.name} failed: ${reason}`);
    }
  }
  try {
    result.jobSchema = await installJobSchema(client, OWNER_TX);
  } catch (e) {
    throw new MigrationError(`the job schema could not be installed: ${e instanceof Error ? e.message : String(e)}`);
  }
  return result;
}

async function appliedMigrations(client: pg.ClientBase): Promise<Map<string, { checksum: string }>> {
  const r = await client.query<{ version: string; checksum: string }>(
    `BEGIN; ${OWNER_TX} SELECT version, checksum FROM capto_meta.schema_migrations ORDER BY version; COMMIT;`,
  );
  const results = r as unknown as pg.QueryResult<{ version: string; checksum: string }>[];
  const rows = results.find((x) => x.command === 'SELECT')?.rows ?? [];
  return new Map(rows.map((row) => [row.version, { checksum: row.checksum }]));
}
