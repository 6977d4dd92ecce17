// Table-level lints: RLS switched on and forced, what views and materialized views
// expose, TRUNCATE, audit immutability, and the indexes the policies rely on.
import { type Catalog, runtimeRoles, tenantKey } from './catalog.ts';
import { finding } from './registry.ts';
import type { Finding, ScanConfig } from './types.ts';

const TRIGGER_DELETE = 8;
const TRIGGER_UPDATE = 16;
const TRIGGER_TRUNCATE = 32;

export function tableLints(cat: Catalog, config: ScanConfig): Finding[] {
  const out: Finding[] = [];
  const runtime = runtimeRoles(config);
  const inApp = cat.relations.filter((r) => config.appSchemas.includes(r.schema));

  for (const rel of inApp) {
    const isTable = rel.kind === 'table' || rel.kind === 'partitioned';
    if (isTable && !rel.rls) {
      // With policies present the more specific lint says it all.
      if (rel.policies.length > 0)
        out.push(
          finding(
            'policy_exists_rls_disabled',
            rel.qname,
            `${rel.policies.length} polic${rel.policies.length === 1 ? 'y' : 'ies'} (${rel.policies.map((p) => p.name).join(', ')}) but row-level security is disabled`,
          ),
        );
      else
        out.push(
          finding(
            'rls_disabled',
            rel.qname,
            `${rel.kind} without row-level security: every granted role reads and writes all rows`,
          ),
        );
    } else if (isTable && !rel.forced) {
      out.push(
        finding(
          'rls_not_forced',
          rel.qname,
          `RLS enabled but not forced: the owner ${rel.owner} is not subject to the policies`,
        ),
      );
    }

    if (rel.kind === 'view' && !rel.options.some((o) => /^security_invoker=(true|on|1|yes)$/i.test(o))) {
      out.push(
        finding(
          'view_not_security_invoker',
          rel.qname,
          `view runs with the rights of its owner ${rel.owner}, so the RLS of the tables it reads does not apply to the caller`,
        ),
      );
    }
    if (rel.kind === 'matview' || rel.kind === 'foreign') {
      const readers = config.roles.request.filter((r) => rel.privs[r]?.select);
      if (readers.length)
        out.push(
          finding(
            'matview_or_foreign_table_readable',
            rel.qname,
            `${rel.kind === 'matview' ? 'materialized view' : 'foreign table'} (no RLS) readable by ${readers.join(', ')}`,
          ),
        );
    }

    if (isTable) {
      const key = tenantKey(rel, config);
      if (key && rel.policies.length > 0 && !rel.indexes.some((ix) => ix[0] === key.num)) {
        out.push(
          finding(
            'policy_column_unindexed',
            rel.qname,
            `no index leads with ${key.name}, the column every policy filters on`,
          ),
        );
      }
      for (const fk of rel.foreignKeys) {
        const covered = rel.indexes.some(
          (ix) => ix.length >= fk.cols.length && fk.cols.every((c) => ix.slice(0, fk.cols.length).includes(c)),
        );
        if (!covered) {
          const names = fk.cols.map((n) => rel.columns.find((c) => c.num === n)?.name ?? String(n));
          out.push(
            finding(
              'unindexed_foreign_key',
              `${rel.qname} (${names.join(', ')})`,
              `foreign key ${fk.name} has no index led by its columns`,
            ),
          );
        }
      }
    }
  }

  for (const rel of cat.relations) {
    if (rel.kind !== 'table' && rel.kind !== 'partitioned') continue;
    // An owning runtime role is reported (more specifically) by runtime_role_bypasses_rls.
    const holders = runtime.filter((r) => rel.privs[r]?.truncate && rel.owner !== r);
    if (holders.length)
      out.push(
        finding(
          'truncate_granted',
          rel.qname,
          `TRUNCATE (which ignores RLS and triggers per row) granted to ${holders.join(', ')}`,
        ),
      );
  }

  for (const rel of inApp.filter(
    (r) => r.schema === config.auditSchema && (r.kind === 'table' || r.kind === 'partitioned'),
  )) {
    const problems: string[] = [];
    for (const role of runtime) {
      const p = rel.privs[role];
      const granted = p ? (['update', 'delete', 'truncate'] as const).filter((k) => p[k]) : [];
      if (granted.length) problems.push(`${role} holds ${granted.join('/').toUpperCase()}`);
    }
    for (const [bit, op] of [
      [TRIGGER_UPDATE, 'UPDATE'],
      [TRIGGER_DELETE, 'DELETE'],
      [TRIGGER_TRUNCATE, 'TRUNCATE'],
    ] as const) {
      const triggers = rel.triggers.filter((t) => (t.type & bit) !== 0);
      if (triggers.length === 0) problems.push(`no trigger rejects ${op}`);
      else if (!triggers.some((t) => t.enabled === 'A'))
        problems.push(`the ${op} trigger is not ENABLE ALWAYS (session_replication_role = replica would skip it)`);
    }
    if (problems.length) out.push(finding('audit_log_mutable', rel.qname, problems.join('; ')));
  }
  return out;
}
