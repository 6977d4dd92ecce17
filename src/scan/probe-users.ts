// User-private tables (no business_id, but a user reference: auth.sessions,
// auth.identities, auth.audit_events…): a row of A's owner must stay invisible and
// unchangeable to everyone who shares no business with her — an outsider, a
// non-member subject, missing/empty/malformed claims and anon. Teammates are not
// tested here: some user data (names, emails) is deliberately shared within a team.
import type pg from 'pg';
import type { Catalog, Relation } from './catalog.ts';
import { tenantKey } from './catalog.ts';
import { type Cell, CHECKS, type MatrixRow, type Persona, type ProbeCheck, actAs, personaCount } from './probe-act.ts';
import { qi, qrel, RowError, type RowMaker, type Scope, whereRow } from './probe-rows.ts';
import { finding } from './registry.ts';
import type { Finding, ScanConfig } from './types.ts';

export interface UserProbeContext {
  scope: Scope;
  owner: Persona & { userId?: string };
  strangers: Persona[];
  only: (rel: Relation) => boolean;
}

export async function probeUserTables(
  client: pg.ClientBase,
  cat: Catalog,
  config: ScanConfig,
  maker: RowMaker,
  ctx: UserProbeContext,
): Promise<{ matrix: MatrixRow[]; findings: Finding[] }> {
  const matrix: MatrixRow[] = [];
  const findings: Finding[] = [];
  const tables = cat.relations.filter(
    (r) =>
      config.appSchemas.includes(r.schema) &&
      (r.kind === 'table' || r.kind === 'partitioned') &&
      !tenantKey(r, config) &&
      r.qname !== config.membership.userTable &&
      ctx.only(r),
  );
  for (const t of tables) {
    const fk = t.foreignKeys.find((f) => f.cols.length === 1 && maker.isUserTable(f.ref));
    if (!fk) continue;
    const col = t.columns.find((c) => c.num === fk.cols[0])!;
    let where: string;
    try {
      where = whereRow(t, await maker.create(t, ctx.scope, { [col.name]: ctx.owner.userId ?? null }));
    } catch (e) {
      findings.push(
        finding(
          'probe_table_skipped',
          t.qname,
          `no row could be generated: ${(e instanceof RowError ? e.message : String(e)).split('\n')[0]}`,
        ),
      );
      continue;
    }
    const cells = Object.fromEntries(CHECKS.map((c) => [c, '-'])) as Record<ProbeCheck, Cell>;
    const leak = (check: ProbeCheck, who: string, what: string) => {
      cells[check] = 'LEAK';
      findings.push(finding('probe_leak', t.qname, `${check}: ${who} ${what} (a row of another user)`));
    };
    if (t.privs[config.roles.authenticated]?.select) {
      const seen =
        (await personaCount(client, ctx.owner, `SELECT pg_catalog.count(*) AS n FROM ${qrel(t)} WHERE ${where}`)) ?? 0;
      cells.own = seen > 0 ? 'ok' : 'none';
    }
    cells.claims = cells.update = cells.delete = 'ok';
    for (const p of ctx.strangers) {
      const n = await personaCount(client, p, `SELECT pg_catalog.count(*) AS n FROM ${qrel(t)} WHERE ${where}`);
      if (n) leak('claims', p.label, `read ${n} row(s)`);
      const u = await actAs(client, p, `UPDATE ${qrel(t)} SET ${qi(col.name)} = ${qi(col.name)} WHERE ${where}`);
      if (u.ok && u.rowCount > 0) leak('update', p.label, 'updated it');
      const d = await actAs(client, p, `DELETE FROM ${qrel(t)} WHERE ${where}`);
      if (d.ok && d.rowCount > 0) leak('delete', p.label, 'deleted it');
    }
    matrix.push({ table: t.qname, cells, notes: [`user-private (${col.name}): strangers only`] });
  }
  return { matrix, findings };
}
