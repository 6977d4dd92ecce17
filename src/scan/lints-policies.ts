// Policy lints: does every request-role policy on a tenant table pin business_id,
// can a row hop businesses, and the common mistakes (true, NULL-claims escape
// hatches, PUBLIC, per-row helper calls, overlapping permissive policies).
// capto_service policies `USING (true)` are intended: it is not a request role.
import { type Catalog, COMMANDS, type Command, type Policy, type Relation, policiesFor, tenantKey } from './catalog.ts';
import { hasNullClaimsDisjunct, isAlwaysTrue, isScoped, perRowCalls } from './policy-expr.ts';
import { finding } from './registry.ts';
import type { Finding, ScanConfig } from './types.ts';

const applies = (p: Policy, roles: readonly string[]) =>
  p.roles.includes('public') || p.roles.some((r) => roles.includes(r));

function hasCommand(rel: Relation, role: string, cmd: Command): boolean {
  const p = rel.privs[role];
  if (!p) return false;
  return cmd === 'SELECT' ? p.select : cmd === 'INSERT' ? p.insert : cmd === 'UPDATE' ? p.update : p.delete;
}

/** The expression that filters rows for `cmd`: USING for reads/updates/deletes, WITH CHECK for inserts. */
function filterExpr(p: Policy, cmd: Command): string | null {
  return cmd === 'INSERT' ? (p.check ?? p.using) : p.using;
}

export function policyLints(cat: Catalog, config: ScanConfig): Finding[] {
  const out: Finding[] = [];
  const request = config.roles.request;
  const [membershipTable] = [config.membership.table];
  const callsToWrap = [
    ...new Set([...config.definerAllowlist, ...config.scopeHelpers, 'current_setting', 'pg_catalog.current_setting']),
  ];
  const obj = (rel: Relation, p: Policy) => `${rel.qname} policy ${p.name}`;

  for (const rel of cat.relations.filter((r) => config.appSchemas.includes(r.schema))) {
    const key = tenantKey(rel, config);
    const flagged = new Set<string>();

    for (const p of rel.policies) {
      if (p.roles.includes('public'))
        out.push(
          finding(
            'policy_to_public',
            obj(rel, p),
            `policy ${p.cmd} applies to PUBLIC, so every role (present and future) gets it`,
          ),
        );
      const perRow = [...new Set([...perRowCalls(p.using, callsToWrap), ...perRowCalls(p.check, callsToWrap)])];
      if (perRow.length)
        out.push(
          finding(
            'rls_initplan',
            obj(rel, p),
            `${perRow.join(', ')} called per row; wrap in (select …) so it runs once per statement`,
          ),
        );
      if (!applies(p, request)) continue;
      if (hasNullClaimsDisjunct(p.using) || hasNullClaimsDisjunct(p.check)) {
        out.push(
          finding(
            'policy_null_claims_disjunct',
            obj(rel, p),
            'a branch is true when the claims are missing or malformed, so an unauthenticated context passes',
          ),
        );
        flagged.add(p.name);
      }
      // Tenant tables above all, but `true` for a request role on auth.users would expose every user too.
      if (isAlwaysTrue(p.using) || isAlwaysTrue(p.check)) {
        out.push(
          finding(
            'policy_always_true',
            obj(rel, p),
            `${p.cmd} policy for ${p.roles.join(', ')} is true: ${key ? "every business's rows pass" : 'every row passes'}`,
          ),
        );
        flagged.add(p.name);
      }
    }

    for (const role of [...request, config.roles.service]) {
      for (const cmd of COMMANDS) {
        const permissive = policiesFor(rel, role, cmd).filter((p) => p.permissive);
        if (permissive.length > 1) {
          out.push(
            finding(
              'multiple_permissive_policies',
              `${rel.qname} ${role} ${cmd}`,
              `${permissive.length} permissive policies (${permissive.map((p) => p.name).join(', ')}) are all evaluated and OR-ed`,
            ),
          );
        }
      }
    }

    if (!key) continue;
    const reported = new Set<string>();
    for (const role of request) {
      for (const cmd of COMMANDS) {
        if (!hasCommand(rel, role, cmd)) continue;
        // A new row of the tenant root (app.businesses) is a new tenant: nobody is a member yet.
        if (cmd === 'INSERT' && key.name !== config.tenantColumn) continue;
        const pols = policiesFor(rel, role, cmd);
        const restrictiveScoped = pols.some(
          (p) => !p.permissive && isScoped(filterExpr(p, cmd), key.name, config.scopeHelpers, membershipTable),
        );
        if (restrictiveScoped) continue;
        for (const p of pols.filter((x) => x.permissive && !flagged.has(x.name))) {
          const expr = filterExpr(p, cmd);
          if (isScoped(expr, key.name, config.scopeHelpers, membershipTable) || reported.has(`${p.name}/${cmd}`))
            continue;
          reported.add(`${p.name}/${cmd}`);
          out.push(
            finding(
              'tenant_policy_missing_business_scope',
              obj(rel, p),
              `${cmd} for ${role}: ${expr === null ? 'no expression' : 'some branch'} does not pin ${key.name} to the caller's businesses`,
            ),
          );
        }
      }

      const keyCol = rel.columns.find((c) => c.name === key.name);
      if (keyCol?.privs[role]?.update) {
        out.push(
          finding(
            'tenant_hop_possible',
            `${rel.qname}.${key.name}`,
            `${role} may UPDATE ${key.name}: a member of two businesses can move rows between them`,
          ),
        );
      }
      if (hasCommand(rel, role, 'UPDATE')) {
        for (const p of policiesFor(rel, role, 'UPDATE').filter((x) => x.permissive && !flagged.has(x.name))) {
          const check = p.check ?? p.using;
          if (!isScoped(check, key.name, config.scopeHelpers, membershipTable) && !reported.has(`${p.name}/hop`)) {
            reported.add(`${p.name}/hop`);
            out.push(
              finding(
                'tenant_hop_possible',
                obj(rel, p),
                `UPDATE WITH CHECK for ${role} does not pin ${key.name}: an updated row may land in another business`,
              ),
            );
          }
        }
      }
    }
  }
  return out;
}
