// One read of pg_catalog per scan: every lint works on this snapshot, so a lint is a
// pure function and new tables are covered the moment a migration creates them.
// Runs with search_path = '' (set by the caller): every name below is qualified.
import type pg from 'pg';
import type { ScanConfig } from './types.ts';

export type Command = 'SELECT' | 'INSERT' | 'UPDATE' | 'DELETE';
export const COMMANDS: readonly Command[] = ['SELECT', 'INSERT', 'UPDATE', 'DELETE'];

export interface Column {
  name: string;
  num: number;
  /** format_type() output, schema-qualified when outside pg_catalog. */
  type: string;
  /** typname of the column type, or of its base type for a domain. */
  base: string;
  typtype: string;
  category: string;
  enumLabels: string[];
  notNull: boolean;
  hasDefault: boolean;
  generated: boolean;
  identity: boolean;
  /** Per runtime role: the column privileges it holds. */
  privs: Record<string, { select: boolean; insert: boolean; update: boolean }>;
  /** CHECK constraints of a domain type. */
  domainChecks: string[];
}

export interface Policy {
  name: string;
  cmd: Command | 'ALL';
  permissive: boolean;
  /** Role names; `public` for PUBLIC. */
  roles: string[];
  using: string | null;
  check: string | null;
}

export interface Relation {
  oid: number;
  schema: string;
  name: string;
  /** `schema.name` */
  qname: string;
  kind: 'table' | 'partitioned' | 'view' | 'matview' | 'foreign';
  rls: boolean;
  forced: boolean;
  owner: string;
  options: string[];
  columns: Column[];
  policies: Policy[];
  /** Per runtime role: table-level privileges (any column counts for SELECT/INSERT/UPDATE). */
  privs: Record<string, { select: boolean; insert: boolean; update: boolean; delete: boolean; truncate: boolean }>;
  /** Each index's key columns (attnums), in order. */
  indexes: number[][];
  uniques: { name: string; cols: number[]; primary: boolean }[];
  foreignKeys: { name: string; cols: number[]; ref: number; refCols: number[] }[];
  checks: { name: string; cols: number[]; def: string }[];
  triggers: { name: string; type: number; enabled: string }[];
}

export interface Fn {
  schema: string;
  name: string;
  signature: string;
  definer: boolean;
  leakproof: boolean;
  config: string[];
  isTrigger: boolean;
  fromExtension: boolean;
  /** Runtime roles (and `public`) that may EXECUTE it. */
  executors: string[];
}

export interface RoleReach {
  from: string;
  role: string;
  superuser: boolean;
  bypassrls: boolean;
}

export interface Catalog {
  schemas: { name: string; privs: Record<string, { usage: boolean; create: boolean }> }[];
  relations: Relation[];
  byOid: Map<number, Relation>;
  functions: Fn[];
  reach: RoleReach[];
  defaultAcls: { owner: string; schema: string | null; objtype: string; grantee: string; privilege: string }[];
  /** Objects of the job schema on which a runtime role (directly, or through PUBLIC) holds any privilege. */
  jobGrants: { object: string; role: string }[];
}

const KIND: Record<string, Relation['kind']> = { r: 'table', p: 'partitioned', v: 'view', m: 'matview', f: 'foreign' };
const CMD: Record<string, Policy['cmd']> = { r: 'SELECT', a: 'INSERT', w: 'UPDATE', d: 'DELETE', '*': 'ALL' };

export function runtimeRoles(config: ScanConfig): string[] {
  return [...new Set([config.roles.app, ...config.roles.request, config.roles.service])];
}

export async function loadCatalog(client: pg.ClientBase, config: ScanConfig): Promise<Catalog> {
  const roles = runtimeRoles(config);
  const q = async <R>(sql: string, params: unknown[] = []) => (await client.query(sql, params)).rows as R[];
  // Roles missing from this cluster (a foreign database) make has_*_privilege throw.
  const present = (
    await q<{ rolname: string }>('SELECT rolname::text FROM pg_catalog.pg_roles WHERE rolname = ANY ($1::text[])', [
      roles,
    ])
  ).map((r) => r.rolname);

  const schemaRows = await q<{ name: string; role: string | null; usage: boolean; create: boolean }>(
    `SELECT n.nspname::text AS name, r.rn AS role,
            pg_catalog.has_schema_privilege(r.rn, n.oid, 'USAGE') AS usage,
            pg_catalog.has_schema_privilege(r.rn, n.oid, 'CREATE') AS create
       FROM pg_catalog.pg_namespace n
       LEFT JOIN pg_catalog.unnest($1::text[]) AS r(rn) ON true
      WHERE n.nspname !~ '^pg_(toast|temp_|toast_temp_)'`,
    [present],
  );
  const schemas = new Map<string, Catalog['schemas'][number]>();
  for (const r of schemaRows) {
    const s = schemas.get(r.name) ?? { name: r.name, privs: {} };
    if (r.role) s.privs[r.role] = { usage: r.usage, create: r.create };
    schemas.set(r.name, s);
  }

  const scanned = [...config.appSchemas, ...config.excludedSchemas];
  const rels = await q<{
    oid: number;
    schema: string;
    name: string;
    kind: string;
    rls: boolean;
    forced: boolean;
    owner: string;
    options: string[] | null;
  }>(
    `SELECT c.oid::int AS oid, n.nspname::text AS schema, c.relname::text AS name, c.relkind::text AS kind,
            c.relrowsecurity AS rls, c.relforcerowsecurity AS forced,
            pg_catalog.pg_get_userbyid(c.relowner)::text AS owner, c.reloptions AS options
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = ANY ($1::text[]) AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
      ORDER BY n.nspname, c.relname`,
    [scanned],
  );
  const relations: Relation[] = rels.map((r) => ({
    oid: r.oid,
    schema: r.schema,
    name: r.name,
    qname: `${r.schema}.${r.name}`,
    kind: KIND[r.kind]!,
    rls: r.rls,
    forced: r.forced,
    owner: r.owner,
    options: r.options ?? [],
    columns: [],
    policies: [],
    privs: {},
    indexes: [],
    uniques: [],
    foreignKeys: [],
    checks: [],
    triggers: [],
  }));
  const byOid = new Map(relations.map((r) => [r.oid, r]));
  const oids = relations.map((r) => r.oid);

  const cols = await q<{
    rel: number;
    name: string;
    num: number;
    type: string;
    base: string;
    typtype: string;
    category: string;
    labels: string[] | null;
    notnull: boolean;
    hasdef: boolean;
    generated: string;
    identity: string;
    domain_checks: string[] | null;
  }>(
    `SELECT a.attrelid::int AS rel, a.attname::text AS name, a.attnum::int AS num,
            pg_catalog.format_type(a.atttypid, a.atttypmod) AS type,
            COALESCE(bt.typname, t.typname)::text AS base, COALESCE(bt.typtype, t.typtype)::text AS typtype,
            COALESCE(bt.typcategory, t.typcategory)::text AS category,
            ARRAY(SELECT e.enumlabel::text FROM pg_catalog.pg_enum e WHERE e.enumtypid = COALESCE(bt.oid, t.oid) ORDER BY e.enumsortorder) AS labels,
            a.attnotnull OR COALESCE(t.typnotnull, false) AS notnull, a.atthasdef AS hasdef,
            a.attgenerated::text AS generated, a.attidentity::text AS identity,
            ARRAY(SELECT pg_catalog.pg_get_constraintdef(dc.oid) FROM pg_catalog.pg_constraint dc WHERE dc.contypid = t.oid AND dc.contype = 'c') AS domain_checks
       FROM pg_catalog.pg_attribute a
       JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
       LEFT JOIN pg_catalog.pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype
      WHERE a.attrelid = ANY ($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attrelid, a.attnum`,
    [oids],
  );
  for (const c of cols) {
    byOid.get(c.rel)?.columns.push({
      name: c.name,
      num: c.num,
      type: c.type,
      base: c.base,
      typtype: c.typtype,
      category: c.category,
      enumLabels: c.labels ?? [],
      notNull: c.notnull,
      hasDefault: c.hasdef,
      generated: c.generated !== '',
      identity: c.identity !== '',
      privs: {},
      domainChecks: c.domain_checks ?? [],
    });
  }

  const colPrivs = await q<{ rel: number; num: number; role: string; s: boolean; i: boolean; u: boolean }>(
    `SELECT a.attrelid::int AS rel, a.attnum::int AS num, r.rn AS role,
            pg_catalog.has_column_privilege(r.rn, a.attrelid, a.attnum, 'SELECT') AS s,
            pg_catalog.has_column_privilege(r.rn, a.attrelid, a.attnum, 'INSERT') AS i,
            pg_catalog.has_column_privilege(r.rn, a.attrelid, a.attnum, 'UPDATE') AS u
       FROM pg_catalog.pg_attribute a CROSS JOIN pg_catalog.unnest($2::text[]) AS r(rn)
      WHERE a.attrelid = ANY ($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped`,
    [oids, present],
  );
  for (const p of colPrivs) {
    const col = byOid.get(p.rel)?.columns.find((c) => c.num === p.num);
    if (col) col.privs[p.role] = { select: p.s, insert: p.i, update: p.u };
  }

  const relPrivs = await q<{ rel: number; role: string; s: boolean; i: boolean; u: boolean; d: boolean; t: boolean }>(
    `SELECT c.oid::int AS rel, r.rn AS role,
            pg_catalog.has_any_column_privilege(r.rn, c.oid, 'SELECT') AS s,
            pg_catalog.has_any_column_privilege(r.rn, c.oid, 'INSERT') AS i,
            pg_catalog.has_any_column_privilege(r.rn, c.oid, 'UPDATE') AS u,
            pg_catalog.has_table_privilege(r.rn, c.oid, 'DELETE') AS d,
            pg_catalog.has_table_privilege(r.rn, c.oid, 'TRUNCATE') AS t
       FROM pg_catalog.unnest($1::oid[]) AS c(oid) CROSS JOIN pg_catalog.unnest($2::text[]) AS r(rn)`,
    [oids, present],
  );
  for (const p of relPrivs) {
    const rel = byOid.get(p.rel);
    if (rel) rel.privs[p.role] = { select: p.s, insert: p.i, update: p.u, delete: p.d, truncate: p.t };
  }

  const pols = await q<{
    rel: number;
    name: string;
    cmd: string;
    permissive: boolean;
    roles: string[];
    using: string | null;
    check: string | null;
  }>(
    `SELECT p.polrelid::int AS rel, p.polname::text AS name, p.polcmd::text AS cmd, p.polpermissive AS permissive,
            ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'public' ELSE pg_catalog.pg_get_userbyid(r.oid)::text END
                    FROM pg_catalog.unnest(p.polroles) AS r(oid)) AS roles,
            pg_catalog.pg_get_expr(p.polqual, p.polrelid) AS using,
            pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) AS check
       FROM pg_catalog.pg_policy p WHERE p.polrelid = ANY ($1::oid[]) ORDER BY p.polname`,
    [oids],
  );
  for (const p of pols) {
    byOid.get(p.rel)?.policies.push({
      name: p.name,
      cmd: CMD[p.cmd]!,
      permissive: p.permissive,
      roles: p.roles,
      using: p.using,
      check: p.check,
    });
  }

  const idx = await q<{ rel: number; keys: number[] }>(
    `SELECT i.indrelid::int AS rel, i.indkey::pg_catalog.int2[] AS keys FROM pg_catalog.pg_index i WHERE i.indrelid = ANY ($1::oid[])`,
    [oids],
  );
  for (const i of idx) byOid.get(i.rel)?.indexes.push(i.keys.map(Number));

  const cons = await q<{
    rel: number;
    name: string;
    type: string;
    cols: number[] | null;
    ref: number;
    refcols: number[] | null;
    def: string;
  }>(
    `SELECT c.conrelid::int AS rel, c.conname::text AS name, c.contype::text AS type, c.conkey::int[] AS cols,
            c.confrelid::int AS ref, c.confkey::int[] AS refcols, pg_catalog.pg_get_constraintdef(c.oid) AS def
       FROM pg_catalog.pg_constraint c WHERE c.conrelid = ANY ($1::oid[]) AND c.contype IN ('p', 'u', 'f', 'c')`,
    [oids],
  );
  for (const c of cons) {
    const rel = byOid.get(c.rel);
    if (!rel) continue;
    const cols2 = (c.cols ?? []).map(Number);
    if (c.type === 'f')
      rel.foreignKeys.push({ name: c.name, cols: cols2, ref: c.ref, refCols: (c.refcols ?? []).map(Number) });
    else if (c.type === 'c') rel.checks.push({ name: c.name, cols: cols2, def: c.def });
    else rel.uniques.push({ name: c.name, cols: cols2, primary: c.type === 'p' });
  }

  const trg = await q<{ rel: number; name: string; type: number; enabled: string }>(
    `SELECT t.tgrelid::int AS rel, t.tgname::text AS name, t.tgtype::int AS type, t.tgenabled::text AS enabled
       FROM pg_catalog.pg_trigger t WHERE t.tgrelid = ANY ($1::oid[]) AND NOT t.tgisinternal`,
    [oids],
  );
  for (const t of trg) byOid.get(t.rel)?.triggers.push({ name: t.name, type: t.type, enabled: t.enabled });

  const functions = await q<Fn & { config: string[] | null }>(
    `SELECT n.nspname::text AS schema, p.proname::text AS name,
            p.proname || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid) || ')' AS signature,
            p.prosecdef AS definer, p.proleakproof AS leakproof, p.proconfig AS config,
            p.prorettype = 'pg_catalog.trigger'::pg_catalog.regtype AS "isTrigger",
            EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                     WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.objid = p.oid AND d.deptype = 'e') AS "fromExtension",
            ARRAY(SELECT r.rn FROM pg_catalog.unnest($1::text[]) AS r(rn)
                   WHERE pg_catalog.has_function_privilege(r.rn, p.oid, 'EXECUTE'))
              || CASE WHEN p.proacl IS NULL OR EXISTS (SELECT 1 FROM pg_catalog.aclexplode(p.proacl) x
                                                        WHERE x.grantee = 0 AND x.privilege_type = 'EXECUTE')
                      THEN ARRAY['public'] ELSE ARRAY[]::text[] END AS executors
       FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND p.prokind IN ('f', 'p')
      ORDER BY 1, 3`,
    [present],
  );
  for (const f of functions) f.config = f.config ?? [];

  const reach = await q<RoleReach>(
    `WITH RECURSIVE walk(start, oid) AS (
        SELECT r.rolname::text, r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = ANY ($1::text[])
        UNION
        SELECT w.start, m.roleid FROM walk w JOIN pg_catalog.pg_auth_members m ON m.member = w.oid)
     SELECT w.start AS from, r.rolname::text AS role, r.rolsuper AS superuser, r.rolbypassrls AS bypassrls
       FROM walk w JOIN pg_catalog.pg_roles r ON r.oid = w.oid`,
    [roles],
  );

  const defaultAcls = await q<Catalog['defaultAcls'][number]>(
    `SELECT pg_catalog.pg_get_userbyid(d.defaclrole)::text AS owner, n.nspname::text AS schema, d.defaclobjtype::text AS objtype,
            CASE WHEN a.grantee = 0 THEN 'public' ELSE pg_catalog.pg_get_userbyid(a.grantee)::text END AS grantee,
            a.privilege_type AS privilege
       FROM pg_catalog.pg_default_acl d
       LEFT JOIN pg_catalog.pg_namespace n ON n.oid = d.defaclnamespace
       CROSS JOIN LATERAL pg_catalog.aclexplode(d.defaclacl) AS a`,
  );

  const jobGrants = await q<{ object: string; role: string }>(
    `SELECT format('%s %I.%I', CASE c.relkind WHEN 'S' THEN 'sequence' ELSE 'table' END, n.nspname, c.relname) AS object,
            r.rn AS role
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       CROSS JOIN pg_catalog.unnest($2::text[]) AS r(rn)
      WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
        AND CASE WHEN c.relkind = 'S' THEN pg_catalog.has_sequence_privilege(r.rn, c.oid, 'USAGE, SELECT, UPDATE')
                 ELSE pg_catalog.has_table_privilege(r.rn, c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER') END
     UNION ALL
     SELECT format('function %I.%I(%s)', n.nspname, p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid)) AS object,
            r.rn AS role
       FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
       CROSS JOIN pg_catalog.unnest($2::text[]) AS r(rn)
      WHERE n.nspname = $1 AND pg_catalog.has_function_privilege(r.rn, p.oid, 'EXECUTE')
      ORDER BY 1, 2`,
    [config.jobSchema, present],
  );
  return { schemas: [...schemas.values()], relations, byOid, functions, reach, defaultAcls, jobGrants };
}

/** The tenant key column of a table (business_id, or an override such as app.businesses.id), if any. */
export function tenantKey(rel: Relation, config: ScanConfig): Column | undefined {
  const name = config.tenantKeyOverrides[rel.qname] ?? config.tenantColumn;
  return rel.columns.find((c) => c.name === name);
}

/** Policies that apply to `role` for `cmd` (FOR ALL and TO PUBLIC included). */
export function policiesFor(rel: Relation, role: string, cmd: Command): Policy[] {
  return rel.policies.filter(
    (p) => (p.cmd === cmd || p.cmd === 'ALL') && (p.roles.includes(role) || p.roles.includes('public')),
  );
}
