// The shapes every part of the scanner shares: a finding, its level, and the
// configuration (role and schema names in ONE object, so a rename is one edit).

export type Level = 'ERROR' | 'WARN' | 'INFO';
export type Category = 'SECURITY' | 'PERFORMANCE';

export interface Finding {
  /** Stable lint name, e.g. `rls_not_forced`. */
  name: string;
  level: Level;
  category: Category;
  /** The object, schema-qualified: `app.contacts`, `app.contacts.policy contacts_select`, `role capto_app`. */
  object: string;
  /** One line: why this object breaks the rule. */
  reason: string;
  remedy: string;
  /** Set when a reviewed waiver in scan-waivers.json accepted this finding. */
  waived?: { reason: string };
}

export interface ScanConfig {
  roles: {
    owner: string;
    /** The login role of the server (member of the request roles). */
    app: string;
    /** Browser-facing roles: RLS must confine them completely. */
    request: readonly string[];
    /** Server functions (secrets, audit, auth rows); NOT a request role: `USING (true)` policies are intended. */
    service: string;
    /** The role a signed-in user's request runs as (the probe's personas). */
    authenticated: string;
    anon: string;
  };
  /** Schemas whose tables, views and functions are scanned. */
  appSchemas: readonly string[];
  /** Schemas deliberately not scanned (each reported as INFO, and an ERROR if a runtime role can reach it). */
  excludedSchemas: readonly string[];
  /**
   * The job engine's schema (pg-boss): used by the server's login role only; no request
   * role may hold any privilege in it (`job_schema_exposed`).
   */
  jobSchema: string;
  /** Schemas that are neither app schemas nor ours to judge (extensions, system). */
  ignoredSchemas: readonly string[];
  vaultSchema: string;
  auditSchema: string;
  /** The tenant key column; `tenantKeyOverrides` names tables whose own key is the tenant (app.businesses.id). */
  tenantColumn: string;
  tenantKeyOverrides: Readonly<Record<string, string>>;
  /** Functions a policy may call to scope rows to the caller's businesses. */
  scopeHelpers: readonly string[];
  /** SECURITY DEFINER functions intended to be executable by request roles (trigger functions are always allowed). */
  definerAllowlist: readonly string[];
  /** Column names that hold secret material (matched on text/bytea/json columns). */
  secretColumn: RegExp;
  /** The membership table (persona setup) and its role enum values, highest first. */
  membership: { table: string; businessTable: string; userTable: string; roles: readonly ['owner', 'admin', 'member'] };
}
