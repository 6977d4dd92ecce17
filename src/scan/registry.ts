// Every rule the scanner knows, with its level, category, what it catches and the
// fix. docs/SECURITY.md, the SARIF rule list and `capto scan --help` read this table.
import type { Category, Level } from './types.ts';

export interface LintInfo {
  level: Level;
  category: Category;
  title: string;
  remedy: string;
}

const S = 'SECURITY' as const;
const P = 'PERFORMANCE' as const;

export const LINTS = {
  rls_disabled: {
    level: 'ERROR',
    category: S,
    title: 'A table in an app schema has row-level security disabled',
    remedy: 'ALTER TABLE … ENABLE ROW LEVEL SECURITY; ALTER TABLE … FORCE ROW LEVEL SECURITY; then add policies',
  },
  rls_not_forced: {
    level: 'ERROR',
    category: S,
    title: 'RLS is enabled but not forced, so the table owner bypasses it',
    remedy: 'ALTER TABLE … FORCE ROW LEVEL SECURITY',
  },
  policy_exists_rls_disabled: {
    level: 'ERROR',
    category: S,
    title: 'Policies exist but RLS is disabled, so none of them apply',
    remedy: 'ALTER TABLE … ENABLE ROW LEVEL SECURITY and FORCE ROW LEVEL SECURITY',
  },
  runtime_role_bypasses_rls: {
    level: 'ERROR',
    category: S,
    title: 'A runtime role is (or can become) a superuser, a BYPASSRLS role or the owner of an app table',
    remedy: 'REVOKE the membership or ALTER ROLE … NOSUPERUSER NOBYPASSRLS; objects are owned by capto_owner only',
  },
  tenant_policy_missing_business_scope: {
    level: 'ERROR',
    category: S,
    title: 'A command on a tenant table has a request-role policy that does not constrain business_id',
    remedy:
      'Scope every disjunct: business_id = ANY (array(select app.member_business_ids())) (or business_ids_with_role)',
  },
  tenant_hop_possible: {
    level: 'ERROR',
    category: S,
    title:
      'A request role can move a row to another business (UPDATE on business_id, or an UPDATE WITH CHECK that does not pin it)',
    remedy: 'Grant UPDATE per column without business_id, and scope the UPDATE policy WITH CHECK to member businesses',
  },
  policy_always_true: {
    level: 'ERROR',
    category: S,
    title: 'A request-role or PUBLIC policy on an app table (tenant tables above all) is USING/WITH CHECK true',
    remedy: 'Replace true with the business scope; `true` is only for TO capto_service policies',
  },
  policy_null_claims_disjunct: {
    level: 'ERROR',
    category: S,
    title: 'A policy lets rows through when the claims are missing (`app.uid() IS NULL OR …`)',
    remedy: 'Drop the IS NULL disjunct: missing claims must mean nobody',
  },
  secret_readable_by_request_role: {
    level: 'ERROR',
    category: S,
    title: 'A request role has USAGE on the vault schema or SELECT on a secret-named column',
    remedy: 'REVOKE the privilege; secrets are read only by capto_service through src/vault',
  },
  security_definer_function_unsafe: {
    level: 'ERROR',
    category: S,
    title:
      'A SECURITY DEFINER function has no pinned search_path, or request roles can execute it without it being an intended helper',
    remedy:
      "SET search_path = '', REVOKE ALL … FROM PUBLIC, GRANT EXECUTE only to the roles that need it (or add it to the reviewed allowlist in src/scan/config.ts)",
  },
  view_not_security_invoker: {
    level: 'ERROR',
    category: S,
    title: "A view runs with its owner's rights (bypassing RLS)",
    remedy: 'CREATE VIEW … WITH (security_invoker = true)',
  },
  matview_or_foreign_table_readable: {
    level: 'ERROR',
    category: S,
    title: 'A materialized view or foreign table (no RLS) is readable by a request role',
    remedy: 'REVOKE SELECT from request roles; expose it through a security_invoker view over an RLS table',
  },
  truncate_granted: {
    level: 'ERROR',
    category: S,
    title: 'A runtime role holds TRUNCATE, which ignores RLS',
    remedy: 'REVOKE TRUNCATE … FROM the role',
  },
  audit_log_mutable: {
    level: 'ERROR',
    category: S,
    title:
      'An audit table can be changed: UPDATE/DELETE/TRUNCATE granted or a rejecting trigger missing or not ENABLE ALWAYS',
    remedy:
      'REVOKE UPDATE, DELETE, TRUNCATE; add BEFORE UPDATE/DELETE and BEFORE TRUNCATE triggers that raise, ALTER TABLE … ENABLE ALWAYS TRIGGER …',
  },
  job_schema_exposed: {
    level: 'ERROR',
    category: S,
    title:
      'A request role (capto_authenticated, capto_anon, capto_service) holds a privilege on the job schema (pgboss)',
    remedy:
      'REVOKE ALL ON SCHEMA pgboss and its tables, sequences and functions FROM the role (and FROM PUBLIC); only capto_app uses the job engine',
  },
  excluded_schema_exposed: {
    level: 'ERROR',
    category: S,
    title: 'A schema excluded from the scan is reachable by a runtime role',
    remedy: 'REVOKE ALL ON SCHEMA … FROM the role, or scan the schema (add it to appSchemas)',
  },
  probe_leak: {
    level: 'ERROR',
    category: S,
    title: 'The cross-tenant probe read or changed a row it must not',
    remedy: 'Fix the table’s policies or grants (the probe line names the persona and the action)',
  },
  policy_to_public: {
    level: 'WARN',
    category: S,
    title: 'A policy applies to PUBLIC (every role, present and future)',
    remedy: 'CREATE POLICY … TO capto_authenticated (name the role)',
  },
  rls_initplan: {
    level: 'WARN',
    category: P,
    title: 'A policy calls a helper or current_setting per row instead of once per statement',
    remedy: 'Wrap the call: (select app.uid()), business_id = ANY (array(select app.member_business_ids()))',
  },
  policy_column_unindexed: {
    level: 'WARN',
    category: P,
    title: 'The tenant column used by the policies is not the leading column of any index',
    remedy: 'CREATE INDEX … ON table (business_id, …)',
  },
  multiple_permissive_policies: {
    level: 'WARN',
    category: P,
    title: 'Several permissive policies apply to the same role and command (all are evaluated, OR-ed)',
    remedy: 'Merge them into one policy per role and command',
  },
  function_search_path_mutable: {
    level: 'WARN',
    category: S,
    title: 'A function does not pin its search_path',
    remedy: "ALTER FUNCTION … SET search_path = '' and qualify every name",
  },
  user_leakproof_function: {
    level: 'WARN',
    category: S,
    title: 'A user-defined function is marked LEAKPROOF, so the planner may run it before RLS quals',
    remedy: 'ALTER FUNCTION … NOT LEAKPROOF',
  },
  default_acl_grants_request_role: {
    level: 'WARN',
    category: S,
    title: 'ALTER DEFAULT PRIVILEGES grants to a runtime role or PUBLIC (future objects get privileges unreviewed)',
    remedy: 'ALTER DEFAULT PRIVILEGES … REVOKE …; grant explicitly in each migration',
  },
  schema_not_scanned: {
    level: 'WARN',
    category: S,
    title: 'A schema is neither scanned nor explicitly excluded',
    remedy: 'Add it to appSchemas or excludedSchemas in src/scan/config.ts',
  },
  probe_table_skipped: {
    level: 'WARN',
    category: S,
    title: 'The probe could not create a row in this table, so it was not probed',
    remedy: 'Make the row generator able to satisfy the table (see reason), or restructure the constraint',
  },
  probe_positive_control_failed: {
    level: 'WARN',
    category: S,
    title:
      'No member of the owning business could read a row the request role may SELECT (the probe cannot prove isolation)',
    remedy: 'Check the SELECT policy; a probe that sees nothing proves nothing',
  },
  waiver_unused: {
    level: 'WARN',
    category: S,
    title: 'A waiver in scan-waivers.json matched no finding',
    remedy: 'Delete the waiver',
  },
  unindexed_foreign_key: {
    level: 'INFO',
    category: P,
    title: 'A foreign key has no index led by its columns (slow deletes and joins)',
    remedy: 'CREATE INDEX … ON table (fk columns)',
  },
  embedded_superuser_session: {
    level: 'INFO',
    category: S,
    title: "Embedded mode: PGlite's session user is a superuser (accepted, documented in docs/ARCHITECTURE.md)",
    remedy:
      'None needed; the socket is a 0700 Unix socket and code never SETs ROLE to it. Use server mode to remove it',
  },
  schema_excluded: {
    level: 'INFO',
    category: S,
    title: 'A schema is excluded from the scan by configuration',
    remedy: 'None while it holds no grants',
  },
} as const satisfies Record<string, LintInfo>;

export type LintName = keyof typeof LINTS;

export function finding(name: LintName, object: string, reason: string) {
  const info: LintInfo = LINTS[name];
  return { name, level: info.level, category: info.category, object, reason, remedy: info.remedy };
}
