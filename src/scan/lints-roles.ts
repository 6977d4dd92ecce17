// Role, schema and function lints: who can become a superuser or bypass RLS, who
// can reach secrets, which SECURITY DEFINER functions a request can call, and which
// schemas are in or out of the scan (never silently).
import type { Catalog } from './catalog.ts';
import { runtimeRoles } from './catalog.ts';
import { finding } from './registry.ts';
import type { Finding, ScanConfig } from './types.ts';

const TEXTUAL = new Set(['text', 'varchar', 'bpchar', 'citext', 'bytea', 'json', 'jsonb']);
const SYSTEM_SCHEMA = /^(pg_|information_schema$)/;

export interface SessionFacts {
  engine: 'embedded' | 'server' | 'unknown';
  /** The login session the server's pool uses: its session_user and whether that is a superuser. */
  appSessionUser?: string;
  appSessionSuperuser?: boolean;
}

export function roleLints(cat: Catalog, config: ScanConfig, session: SessionFacts): Finding[] {
  const out: Finding[] = [];
  const runtime = runtimeRoles(config);
  const browserFacing = [...config.roles.request, config.roles.app];
  const jobRoles = [...config.roles.request, config.roles.service];

  // Every role a runtime role can reach through memberships (SET ROLE works even under NOINHERIT).
  const byRole = new Map<string, { froms: Set<string>; superuser: boolean; bypassrls: boolean }>();
  for (const r of cat.reach) {
    const e = byRole.get(r.role) ?? { froms: new Set<string>(), superuser: r.superuser, bypassrls: r.bypassrls };
    e.froms.add(r.from);
    byRole.set(r.role, e);
  }
  for (const [role, e] of byRole) {
    const owned = cat.relations.filter((rel) => rel.owner === role && config.appSchemas.includes(rel.schema));
    const powers = [
      e.superuser && 'SUPERUSER',
      e.bypassrls && 'BYPASSRLS',
      owned.length > 0 &&
        `owner of ${owned
          .slice(0, 3)
          .map((r) => r.qname)
          .join(', ')}${owned.length > 3 ? ` and ${owned.length - 3} more` : ''}`,
    ].filter(Boolean);
    if (powers.length === 0) continue;
    const via = [...e.froms].filter((f) => f !== role);
    out.push(
      finding(
        'runtime_role_bypasses_rls',
        `role ${role}`,
        `${role} is ${powers.join(', ')}${via.length ? `, reachable from ${via.join(', ')}` : ''}`,
      ),
    );
  }
  if (session.appSessionSuperuser) {
    if (session.engine === 'embedded') {
      out.push(
        finding(
          'embedded_superuser_session',
          `session ${session.appSessionUser ?? 'postgres'}`,
          "PGlite's session_user is its superuser; the pool logs in as capto_app and every request sets a request role",
        ),
      );
    } else {
      out.push(
        finding(
          'runtime_role_bypasses_rls',
          `session ${session.appSessionUser ?? '?'}`,
          'the server pool logs in as a superuser: RLS does not confine it',
        ),
      );
    }
  }

  const vault = cat.schemas.find((s) => s.name === config.vaultSchema);
  for (const role of browserFacing) {
    if (vault?.privs[role]?.usage)
      out.push(
        finding(
          'secret_readable_by_request_role',
          `schema ${config.vaultSchema}`,
          `${role} has USAGE on the vault schema`,
        ),
      );
  }
  for (const rel of cat.relations.filter((r) => config.appSchemas.includes(r.schema))) {
    for (const col of rel.columns) {
      if (!config.secretColumn.test(col.name) || !TEXTUAL.has(col.base)) continue;
      const readers = browserFacing.filter((r) => col.privs[r]?.select);
      if (readers.length)
        out.push(
          finding(
            'secret_readable_by_request_role',
            `${rel.qname}.${col.name}`,
            `${readers.join(', ')} may SELECT this secret-named column (RLS ${rel.rls ? 'on' : 'off'} does not matter: the column grant is the leak)`,
          ),
        );
    }
  }

  for (const s of cat.schemas) {
    if (config.excludedSchemas.includes(s.name)) {
      const reachers = runtime.filter((r) => s.privs[r]?.usage || s.privs[r]?.create);
      if (reachers.length)
        out.push(
          finding(
            'excluded_schema_exposed',
            `schema ${s.name}`,
            `excluded from the scan, yet ${reachers.join(', ')} hold USAGE or CREATE on it`,
          ),
        );
      else
        out.push(
          finding(
            'schema_excluded',
            `schema ${s.name}`,
            'excluded by configuration (migration bookkeeping, no runtime grants)',
          ),
        );
    } else if (s.name === config.jobSchema) {
      const reachers = jobRoles.filter((r) => s.privs[r]?.usage || s.privs[r]?.create);
      if (reachers.length)
        out.push(
          finding('job_schema_exposed', `schema ${s.name}`, `${reachers.join(', ')} hold USAGE or CREATE on it`),
        );
    } else if (
      !config.appSchemas.includes(s.name) &&
      !config.ignoredSchemas.includes(s.name) &&
      !SYSTEM_SCHEMA.test(s.name)
    ) {
      out.push(
        finding(
          'schema_not_scanned',
          `schema ${s.name}`,
          'not listed in appSchemas or excludedSchemas, so nothing in it is checked',
        ),
      );
    }
  }

  for (const f of cat.functions) {
    if (f.fromExtension || SYSTEM_SCHEMA.test(f.schema)) continue;
    const qname = `${f.schema}.${f.name}`;
    const object = `function ${f.schema}.${f.signature}`;
    const path = f.config.find((c) => c.startsWith('search_path='));
    const inScope = config.appSchemas.includes(f.schema) || config.excludedSchemas.includes(f.schema);
    if (f.definer) {
      const problems: string[] = [];
      if (!path) problems.push('no pinned search_path');
      else if (/(^|[=, ])("?\$user"?|public)(,|$)/.test(path))
        problems.push(`search_path includes a schema others can write (${path})`);
      const callers = f.executors.filter((r) => r === 'public' || browserFacing.includes(r));
      if (callers.length && !f.isTrigger && !config.definerAllowlist.includes(qname))
        problems.push(`executable by ${callers.join(', ')} and not an intended helper`);
      if (problems.length)
        out.push(finding('security_definer_function_unsafe', object, `SECURITY DEFINER with ${problems.join('; ')}`));
    } else if (inScope && !path) {
      out.push(
        finding(
          'function_search_path_mutable',
          object,
          'search_path is inherited from the caller, so unqualified names can be hijacked',
        ),
      );
    }
    if (f.leakproof)
      out.push(
        finding(
          'user_leakproof_function',
          object,
          'marked LEAKPROOF: the planner may evaluate it on rows RLS would hide',
        ),
      );
  }

  // The job engine's rows are reached only by the server's login role; a grant on an
  // object inside the schema is reported even while USAGE is withheld (it is one GRANT away).
  for (const g of cat.jobGrants) {
    if (jobRoles.includes(g.role))
      out.push(
        finding('job_schema_exposed', g.object, `${g.role} holds a privilege on it (directly or through PUBLIC)`),
      );
  }

  for (const d of cat.defaultAcls) {
    if (d.grantee !== 'public' && !runtime.includes(d.grantee)) continue;
    const kind = { r: 'tables', S: 'sequences', f: 'functions', T: 'types', n: 'schemas' }[d.objtype] ?? d.objtype;
    out.push(
      finding(
        'default_acl_grants_request_role',
        `default privileges of ${d.owner}${d.schema ? ` in ${d.schema}` : ''}`,
        `new ${kind} get ${d.privilege} for ${d.grantee} without review`,
      ),
    );
  }
  return dedupe(out);
}

function dedupe(list: Finding[]): Finding[] {
  const seen = new Set<string>();
  return list.filter((f) => {
    const k = `${f.name}|${f.object}|${f.reason}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
