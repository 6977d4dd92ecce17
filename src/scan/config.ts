// The scanner's one configuration object. Role names come from src/db/roles.ts;
// everything a lint or the probe needs to know about our naming is here, so tables
// added by later migrations are covered without touching the scanner.
import { ROLE_NAMES } from '../db/roles.ts';
import type { ScanConfig } from './types.ts';

export const defaultScanConfig: ScanConfig = Object.freeze({
  roles: {
    owner: ROLE_NAMES.owner,
    app: ROLE_NAMES.app,
    request: [ROLE_NAMES.authenticated, ROLE_NAMES.anon],
    service: ROLE_NAMES.service,
    authenticated: ROLE_NAMES.authenticated,
    anon: ROLE_NAMES.anon,
  },
  appSchemas: ['app', 'auth', 'vault', 'audit'],
  // Migration bookkeeping only, owned by capto_owner with no grants: excluded on purpose
  // and reported as such, with an ERROR if any runtime role can reach it.
  excludedSchemas: ['capto_meta'],
  // pg-boss's tables (src/db/job-schema.ts): ids of jobs only, reachable by capto_app alone.
  jobSchema: 'pgboss',
  ignoredSchemas: ['pg_catalog', 'information_schema', 'pg_toast', 'extensions', 'public'],
  vaultSchema: 'vault',
  auditSchema: 'audit',
  tenantColumn: 'business_id',
  tenantKeyOverrides: { 'app.businesses': 'id' },
  scopeHelpers: ['app.member_business_ids', 'app.business_ids_with_role', 'app.is_member', 'app.has_role'],
  definerAllowlist: [
    'app.uid',
    'app.member_business_ids',
    'app.business_ids_with_role',
    'app.is_member',
    'app.has_role',
    'app.session_is_live',
    // Workspaces (migration 0003): demo flags for policies, and the one audited path
    // by which a non-member joins a business (token hash + verified email checked inside).
    'app.is_demo_business',
    'app.is_demo_user',
    'app.accept_invitation',
    // Contact search (migration 0007): ids only, for members of the business (checked
    // inside); the caller reads the contacts through the policies.
    'app.contact_search_ids',
    // Global search (migration 0076): deal and conversation ids, the same guard.
    'app.deal_search_ids',
    'app.conversation_search_ids',
  ],
  secretColumn: /(^|_)(token|secret|password|passphrase|ciphertext|private_key|api_key|auth_token)(s?)(_|$)/i,
  membership: {
    table: 'app.memberships',
    businessTable: 'app.businesses',
    userTable: 'auth.users',
    roles: ['owner', 'admin', 'member'],
  },
} as ScanConfig);

/** The default config with extra app schemas (fixtures scan a scratch schema). */
export function withSchemas(extra: readonly string[], base: ScanConfig = defaultScanConfig): ScanConfig {
  return { ...base, appSchemas: [...base.appSchemas, ...extra] };
}
