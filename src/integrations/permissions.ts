// Who may change a business's integrations: its owners and admins, never in a demo
// workspace. Checked inside the same capto_service transaction as the change, with
// the caller's membership row locked (FOR SHARE) so a concurrent demotion cannot
// slip between the check and the write. The database re-checks the audit row's actor
// (audit.require_integration_event), so this is not the only line of defence.
import type { Tx } from '../db/index.ts';
import { AppError, forbidden } from '../shared/errors.ts';

export interface Actor {
  userId: string;
  ip?: string;
  userAgent?: string;
}

export type MemberRole = 'member' | 'admin' | 'owner';

/** The caller's role in the business; not_found when she is not a member (no existence oracle). */
export async function roleInBusiness(
  tx: Tx,
  businessId: string,
  userId: string,
  lock = false,
): Promise<{ role: MemberRole; isDemo: boolean }> {
  const r = await tx.query<{ role: MemberRole; is_demo: boolean }>(
    `SELECT m.role, b.is_demo FROM app.memberships m JOIN app.businesses b ON b.id = m.business_id
      WHERE m.business_id = $1 AND m.user_id = $2 ${lock ? 'FOR SHARE OF m' : ''}`,
    [businessId, userId],
  );
  const row = r.rows[0];
  if (!row) throw new AppError('not_found', 'business not found');
  return { role: row.role, isDemo: row.is_demo };
}

export async function assertCanManageIntegrations(tx: Tx, businessId: string, userId: string): Promise<void> {
  const { role, isDemo } = await roleInBusiness(tx, businessId, userId, true);
  if (role !== 'owner' && role !== 'admin') throw forbidden('only owners and admins can change integrations');
  if (isDemo)
    throw new AppError('demo_restricted', 'demo workspaces cannot connect integrations; sign up to use your own');
}
