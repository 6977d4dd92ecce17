// What a database holds, table by table: restore refuses a database that already has
// data (an operator restoring over live customers must say --force), and the restore
// drill compares row counts before and after. Run as an owner or superuser: RLS would
// otherwise hide rows and make a full database look empty.

import { JOB_SCHEMA } from '../db/job-schema.ts';

export interface Queryable {
  query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<{ rows: R[] }>;
}

/** Schemas that belong to PostgreSQL itself, never to a backup's contents. */
export const SYSTEM_SCHEMA_SQL = `n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname NOT LIKE 'pg\\_%'`;

const quoteIdent = (s: string) => `"${s.replace(/"/g, '""')}"`;

/**
 * The tables that hold a workspace's data. The job engine's schema is not among them: it
 * holds only queue state (ids, never customer data), the migrator rebuilds it, and work
 * that was queued is found again from the app tables (the outbox and import sweeps), so a
 * logical export leaves it out and a restored database starts with empty queues.
 */
export async function listTables(db: Queryable): Promise<string[]> {
  const r = await db.query<{ schema: string; name: string }>(
    `SELECT n.nspname AS schema, c.relname AS name
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND ${SYSTEM_SCHEMA_SQL} AND n.nspname <> $1
        AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')
      ORDER BY 1, 2`,
    [JOB_SCHEMA],
  );
  return r.rows.map((t) => `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`);
}

/** Exact row count of every table outside the system schemas, keyed "schema"."table". */
export async function tableRowCounts(db: Queryable): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of await listTables(db)) {
    const r = await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${t}`);
    out[t] = Number(r.rows[0]?.n ?? 0);
  }
  return out;
}

/**
 * Tables that hold rows, ignoring the migration bookkeeping: a freshly migrated
 * database (what `capto db setup` or a first start leaves) counts as empty.
 */
export async function nonEmptyTables(db: Queryable): Promise<string[]> {
  const found: string[] = [];
  for (const t of await listTables(db)) {
    if (t.startsWith('"capto_meta".')) continue;
    const r = await db.query<{ has: boolean }>(`SELECT EXISTS (SELECT 1 FROM ${t}) AS has`);
    if (r.rows[0]?.has) found.push(t);
  }
  return found;
}
