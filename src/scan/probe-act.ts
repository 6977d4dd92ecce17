// Acting as a persona inside the probe's transaction: the same two set_config calls
// the server's request transaction makes (src/db/request.ts), inside a savepoint that
// is rolled back afterwards, so every action starts from the same data and role.
import type pg from 'pg';
import type { Relation } from './catalog.ts';
import { literal } from './probe-rows.ts';

export type ProbeCheck = 'own' | 'select' | 'update' | 'delete' | 'insert' | 'move' | 'claims';
export type Cell = 'ok' | 'LEAK' | '-' | 'none' | 'skip';
export interface MatrixRow {
  table: string;
  cells: Record<ProbeCheck, Cell>;
  notes: string[];
}
export const CHECKS: ProbeCheck[] = ['own', 'select', 'update', 'delete', 'insert', 'move', 'claims'];

export interface Persona {
  label: string;
  role: string;
  /** The request.jwt.claims text ('' for none). */
  claims: string;
  userId?: string;
}

export type ActResult =
  { ok: true; rowCount: number; rows: Record<string, unknown>[] } | { ok: false; code: string; message: string };

export async function actAs(client: pg.ClientBase, p: Persona, sql: string, prelude = ''): Promise<ActResult> {
  await client.query('SAVEPOINT probe_act');
  try {
    const res = (await client.query(
      `${prelude} SELECT pg_catalog.set_config('role', ${literal(p.role)}, true), pg_catalog.set_config('request.jwt.claims', ${literal(p.claims)}, true); ${sql}`,
    )) as unknown as pg.QueryResult[];
    const last = res[res.length - 1]!;
    return { ok: true, rowCount: last.rowCount ?? 0, rows: last.rows };
  } catch (e) {
    const err = e as { code?: string; message?: string };
    return { ok: false, code: err.code ?? '?', message: err.message ?? String(e) };
  } finally {
    await client.query('ROLLBACK TO SAVEPOINT probe_act; RELEASE SAVEPOINT probe_act');
  }
}

/** `SELECT count(*) AS n …` as the persona: the count, or null when access is denied. */
export async function personaCount(client: pg.ClientBase, p: Persona, sql: string): Promise<number | null> {
  const r = await actAs(client, p, sql);
  return r.ok ? Number(r.rows[0]?.n ?? 0) : null;
}

export function canPersona(t: Relation, role: string, action: 'insert' | 'update' | 'delete' | 'select'): boolean {
  return t.privs[role]?.[action] ?? false;
}
