// The dynamic cross-tenant probe (docs/SECURITY.md). Inside the caller's transaction —
// which is ALWAYS rolled back — it creates two businesses with an owner, an admin
// and a member each, an outsider and a member of both, one row per tenant table per
// business, and then acts as each persona exactly as a request does
// (set_config('role', …, true) + claims), each action in a savepoint. Static lints
// read policies; this reads rows, so a policy that merely looks right is caught.
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Catalog, Relation } from './catalog.ts';
import { tenantKey } from './catalog.ts';
import { finding } from './registry.ts';
import { literal, plansFor, qi, qrel, RowError, RowMaker, type Scope, TRIGGERS_OFF, whereRow } from './probe-rows.ts';
import {
  type Cell,
  CHECKS,
  type MatrixRow,
  type Persona,
  type ProbeCheck,
  actAs,
  canPersona,
  personaCount,
} from './probe-act.ts';
import { probeUserTables } from './probe-users.ts';
import type { Finding, ScanConfig } from './types.ts';

export type { Cell, MatrixRow } from './probe-act.ts';
export interface ProbeResult {
  matrix: MatrixRow[];
  findings: Finding[];
  tablesProbed: number;
}

export interface ProbeOptions {
  /** Probe only these tables (fixture tests); every tenant table when absent. */
  only?: (rel: Relation) => boolean;
}

export async function runProbe(
  client: pg.ClientBase,
  cat: Catalog,
  config: ScanConfig,
  options: ProbeOptions = {},
): Promise<ProbeResult> {
  const rel = (qname: string) => {
    const r = cat.relations.find((x) => x.qname === qname);
    if (!r) throw new Error(`the probe needs ${qname}, which does not exist`);
    return r;
  };
  const users = rel(config.membership.userTable);
  const businesses = rel(config.membership.businessTable);
  const memberships = rel(config.membership.table);
  const maker = new RowMaker(client, cat, config);
  const findings: Finding[] = [];
  const claimsOf = (sub: string) => JSON.stringify({ sub, role: 'authenticated' });
  // Triggers that stamp app.uid() see the business owner while its rows are created.
  const setClaims = (sub: string | null) =>
    client.query(`SELECT pg_catalog.set_config('request.jwt.claims', $1, true)`, [sub ? claimsOf(sub) : '']);

  const newUser = async () => (await maker.create(users, { label: 'global' }, {})).row.id as string;
  const makeBusiness = async (label: 'A' | 'B') => {
    const owner = await newUser();
    const admin = await newUser();
    const member = await newUser();
    await setClaims(owner);
    const b = await maker.create(businesses, { label: 'global' }, {});
    const businessId = String(b.row[tenantKey(businesses, config)?.name ?? 'id']);
    const scope: Scope = { label, businessId, userId: owner };
    maker.seed(businesses, scope, b);
    maker.seed(users, scope, { row: { id: owner }, ctid: '' });
    maker.seed(memberships, scope, await maker.create(memberships, scope, { user_id: owner, role: 'owner' }));
    await maker.create(memberships, scope, { user_id: admin, role: 'admin' });
    await maker.create(memberships, scope, { user_id: member, role: 'member' });
    return { scope, owner, admin, member };
  };
  const A = await makeBusiness('A');
  const B = await makeBusiness('B');
  const outsider = await newUser();
  const dual = await newUser();
  await maker.create(memberships, A.scope, { user_id: dual, role: 'admin' });
  await maker.create(memberships, B.scope, { user_id: dual, role: 'admin' });

  const authed = config.roles.authenticated;
  const personasA: Persona[] = [
    { label: 'A.owner', role: authed, claims: claimsOf(A.owner), userId: A.owner },
    { label: 'A.admin', role: authed, claims: claimsOf(A.admin), userId: A.admin },
    { label: 'A.member', role: authed, claims: claimsOf(A.member), userId: A.member },
  ];
  const dualPersona: Persona = { label: 'A+B admin', role: authed, claims: claimsOf(dual), userId: dual };
  const nobody: Persona[] = [
    { label: 'outsider', role: authed, claims: claimsOf(outsider), userId: outsider },
    { label: 'non-member sub', role: authed, claims: claimsOf(randomUUID()) },
    { label: 'claims missing', role: authed, claims: '' },
    { label: 'claims empty', role: authed, claims: '{}' },
    { label: 'claims malformed', role: authed, claims: '{"sub": "not-a-uuid' },
    { label: 'anon', role: config.roles.anon, claims: '' },
  ];

  // One row per business in every tenant table (and in every audit table), parents first.
  const only = options.only ?? (() => true);
  const tenantTables = cat.relations.filter(
    (r) =>
      config.appSchemas.includes(r.schema) &&
      (r.kind === 'table' || r.kind === 'partitioned') &&
      tenantKey(r, config) &&
      only(r),
  );
  const auditTables = cat.relations.filter((r) => r.schema === config.auditSchema && r.kind === 'table' && only(r));
  const rows = new Map<number, { a: string; b: string }>();
  const triggerNotes = new Map<number, string>(); // predicates selecting A's and B's row
  for (const t of [...new Set([...tenantTables, ...auditTables])]) {
    try {
      await setClaims(A.owner);
      const a = await maker.ensure(t, A.scope);
      await setClaims(B.owner);
      const b = await maker.ensure(t, B.scope);
      if (a.triggersOff) triggerNotes.set(t.oid, `rows created with triggers off (${a.triggersOff.split('\n')[0]})`);
      rows.set(t.oid, { a: whereRow(t, a), b: whereRow(t, b) });
    } catch (e) {
      const reason = e instanceof RowError ? e.message : String(e);
      findings.push(finding('probe_table_skipped', t.qname, `no row could be generated: ${reason.split('\n')[0]}`));
    }
  }
  await setClaims(null);

  const matrix: MatrixRow[] = [];
  const leak = (t: Relation, check: string, who: string, what: string) =>
    findings.push(finding('probe_leak', t.qname, `${check}: ${who} ${what}`));

  for (const t of tenantTables) {
    const rowsOf = rows.get(t.oid);
    if (!rowsOf) continue;
    const key = tenantKey(t, config)!;
    const cells = Object.fromEntries(CHECKS.map((c) => [c, '-'])) as Record<ProbeCheck, Cell>;
    const notes: string[] = triggerNotes.has(t.oid) ? [triggerNotes.get(t.oid)!] : [];
    const selectable = t.privs[authed]?.select ?? false;
    const K = qi(key.name);
    const bLit = literal(B.scope.businessId!);

    // Positive control: someone in A sees A's row, or the probe proves nothing.
    let seen = 0;
    for (const p of personasA)
      seen += (await personaCount(client, p, `SELECT pg_catalog.count(*) AS n FROM ${qrel(t)} WHERE ${rowsOf.a}`)) ?? 0;
    cells.own = selectable ? (seen > 0 ? 'ok' : 'none') : '-';
    if (selectable && seen === 0)
      findings.push(
        finding(
          'probe_positive_control_failed',
          t.qname,
          `${authed} may SELECT, but no owner/admin/member of A saw A's row`,
        ),
      );

    cells.select = 'ok';
    for (const p of personasA) {
      const n = await personaCount(client, p, `SELECT pg_catalog.count(*) AS n FROM ${qrel(t)} WHERE ${K} = ${bLit}`);
      if (n) {
        cells.select = 'LEAK';
        leak(t, 'select', p.label, `read ${n} row(s) of business B`);
      }
    }
    const updCol =
      t.columns.find((c) => c.privs[authed]?.update && c.name !== key.name) ??
      t.columns.find((c) => c.name !== key.name) ??
      key;
    cells.update = 'ok';
    cells.delete = 'ok';
    for (const p of personasA) {
      const u = await actAs(
        client,
        p,
        `UPDATE ${qrel(t)} SET ${qi(updCol.name)} = ${qi(updCol.name)} WHERE ${K} = ${bLit}`,
      );
      if (u.ok && u.rowCount > 0) {
        cells.update = 'LEAK';
        leak(t, 'update', p.label, `updated ${u.rowCount} row(s) of business B`);
      }
      const d = await actAs(client, p, `DELETE FROM ${qrel(t)} WHERE ${K} = ${bLit}`);
      if (d.ok && d.rowCount > 0) {
        cells.delete = 'LEAK';
        leak(t, 'delete', p.label, `deleted ${d.rowCount} row(s) of business B`);
      }
    }

    // A new row of the tenant root (app.businesses) creates a tenant; there is no "foreign" one.
    // A's members, the outsider and anon all try to write a row into business B.
    cells.insert =
      key.name !== config.tenantColumn
        ? '-'
        : await insertForeign(
            client,
            maker,
            t,
            B.scope,
            [...personasA, nobody[0]!, nobody[5]!],
            (who, what) => leak(t, 'insert', who, what),
            notes,
          );
    if (cells.insert === 'skip')
      findings.push(
        finding(
          'probe_table_skipped',
          t.qname,
          `the foreign INSERT check could not run: ${notes.at(-1)?.split('\n')[0]}`,
        ),
      );

    cells.move = 'ok';
    for (const p of [personasA[0]!, dualPersona]) {
      const m = await actAs(client, p, `UPDATE ${qrel(t)} SET ${K} = ${bLit} WHERE ${rowsOf.a}`);
      if (m.ok && m.rowCount > 0) {
        cells.move = 'LEAK';
        leak(t, 'move', p.label, `moved A's row to business B`);
      }
    }

    cells.claims = 'ok';
    for (const p of nobody) {
      const n = await personaCount(client, p, `SELECT pg_catalog.count(*) AS n FROM ${qrel(t)}`);
      if (n) {
        cells.claims = 'LEAK';
        leak(t, 'claims', p.label, `read ${n} row(s)`);
      }
    }
    // Nobody-personas must not change rows either (whole table, no filter to get wrong).
    for (const p of [nobody[0]!, nobody[2]!, nobody[5]!]) {
      const u = await actAs(client, p, `UPDATE ${qrel(t)} SET ${qi(updCol.name)} = ${qi(updCol.name)}`);
      const d = await actAs(client, p, `DELETE FROM ${qrel(t)}`);
      for (const [r, what] of [
        [u, 'updated'],
        [d, 'deleted'],
      ] as const) {
        if (r.ok && r.rowCount > 0) {
          cells.claims = 'LEAK';
          leak(t, 'claims', p.label, `${what} ${r.rowCount} row(s)`);
        }
      }
    }
    matrix.push({ table: t.qname, cells, notes });
  }

  await vaultAndAudit(client, cat, config, only, rows, [personasA[0]!, nobody[5]!], findings, matrix);
  const userPrivate = await probeUserTables(client, cat, config, maker, {
    scope: A.scope,
    owner: personasA[0]!,
    strangers: nobody,
    only,
  });
  matrix.push(...userPrivate.matrix);
  findings.push(...userPrivate.findings);
  return { matrix, findings, tablesProbed: matrix.length };
}

/** INSERT of a row carrying B's business_id must fail for A's personas (after an owner control proves the row itself is valid). */
async function insertForeign(
  client: pg.ClientBase,
  maker: RowMaker,
  t: Relation,
  scopeB: Scope,
  personas: Persona[],
  leak: (who: string, what: string) => void,
  notes: string[],
): Promise<Cell> {
  if (!personas.some((p) => canPersona(t, p.role, 'insert'))) return '-';
  let cell: Cell = 'ok';
  for (const p of personas) {
    // User references point at the persona, so only the business can make the insert fail.
    const userCols = Object.fromEntries(
      t.foreignKeys
        .filter((fk) => fk.cols.length === 1 && maker.isUserTable(fk.ref))
        .map((fk) => [t.columns.find((c) => c.num === fk.cols[0])!.name, p.userId ?? null]),
    );
    let values;
    let prelude = '';
    let problem = 'no plan produced a valid row';
    search: for (const triggersOff of [false, true]) {
      for (const plan of [...plansFor(t, maker.config), ...plansFor(t, maker.config, true)]) {
        try {
          const v = await maker.values(t, scopeB, userCols, plan);
          const control = await maker.tryInsert(v, t, triggersOff);
          if (control.ok) {
            values = v;
            prelude = triggersOff ? TRIGGERS_OFF : '';
            break search;
          }
          if (!triggersOff) problem = `insert control failed: ${control.error}`;
        } catch (e) {
          problem = (e as Error).message;
        }
      }
    }
    if (!values) {
      notes.push(problem);
      return 'skip';
    }
    const r = await actAs(client, p, maker.insertSql(t, values), prelude);
    if (r.ok) {
      cell = 'LEAK';
      leak(p.label, 'inserted a row into business B');
    }
  }
  return cell;
}

async function vaultAndAudit(
  client: pg.ClientBase,
  cat: Catalog,
  config: ScanConfig,
  only: (rel: Relation) => boolean,
  rows: Map<number, { a: string; b: string }>,
  personas: Persona[],
  findings: Finding[],
  matrix: MatrixRow[],
) {
  const blank = (): Record<ProbeCheck, Cell> =>
    Object.fromEntries(CHECKS.map((c) => [c, '-'])) as Record<ProbeCheck, Cell>;
  for (const t of cat.relations.filter(
    (r) => r.schema === config.vaultSchema && (r.kind === 'table' || r.kind === 'view') && only(r),
  )) {
    const cells = blank();
    cells.select = 'ok';
    for (const p of personas) {
      const r = await actAs(client, p, `SELECT 1 FROM ${qrel(t)} LIMIT 1`);
      if (r.ok) {
        cells.select = 'LEAK';
        findings.push(
          finding(
            'probe_leak',
            t.qname,
            `vault: ${p.label} could query the vault (access must be denied, not merely empty)`,
          ),
        );
      }
    }
    upsert(matrix, t.qname, cells, ['vault: denied to request roles']);
  }
  const service: Persona = { label: config.roles.service, role: config.roles.service, claims: '' };
  const owner: Persona = { label: config.roles.owner, role: config.roles.owner, claims: '' };
  for (const t of cat.relations.filter((r) => r.schema === config.auditSchema && r.kind === 'table' && only(r))) {
    const where = rows.get(t.oid)?.a;
    const cells = matrix.find((m) => m.table === t.qname)?.cells ?? blank();
    if (!where) continue;
    const col = qi(t.columns[0]!.name);
    let ok = true;
    for (const p of [personas[0]!, service, owner]) {
      for (const sql of [
        `UPDATE ${qrel(t)} SET ${col} = ${col} WHERE ${where}`,
        `DELETE FROM ${qrel(t)} WHERE ${where}`,
        `TRUNCATE ${qrel(t)}`,
      ]) {
        const r = await actAs(client, p, sql);
        if (r.ok && (r.rowCount > 0 || sql.startsWith('TRUNCATE'))) {
          ok = false;
          findings.push(
            finding('probe_leak', t.qname, `audit: ${p.label} succeeded at ${sql.split(' ')[0]} on an audit row`),
          );
        }
      }
    }
    cells.update = ok ? 'ok' : 'LEAK';
    cells.delete = ok ? 'ok' : 'LEAK';
    upsert(matrix, t.qname, cells, ['audit: immutable for request, service and owner roles']);
  }
}

function upsert(matrix: MatrixRow[], table: string, cells: Record<ProbeCheck, Cell>, notes: string[]) {
  const row = matrix.find((m) => m.table === table);
  if (row) row.notes.push(...notes);
  else matrix.push({ table, cells, notes });
}
