// Memberships: list, change a role, remove a member or leave. The
// database decides (policies of 0001 and the last-owner trigger); the checks here
// exist to answer with the precise reason: 404 outside the business, 403 for a rule,
// 409 last_owner when the business would lose its last owner.
import type { Tx } from '../db/index.ts';
import { forbidden, notFound } from '../shared/errors.ts';
import { atLeast, getBusiness, type Role } from './businesses.ts';

export interface MemberView {
  user_id: string;
  email: string;
  role: Role;
  joined_at: string;
}

interface MemberRow {
  user_id: string;
  email: string;
  role: Role;
  created_at: Date;
}

const view = (r: MemberRow): MemberView => ({
  user_id: r.user_id,
  email: r.email,
  role: r.role,
  joined_at: r.created_at.toISOString(),
});

const SELECT_MEMBERS = `
  SELECT m.user_id, u.email::text AS email, m.role, m.created_at
    FROM app.memberships m JOIN auth.users u ON u.id = m.user_id
   WHERE m.business_id = $1`;

export async function listMembers(tx: Tx, businessId: string): Promise<MemberView[]> {
  await getBusiness(tx, businessId); // 404 for a business the caller is not in
  const r = await tx.query<MemberRow>(`${SELECT_MEMBERS} ORDER BY m.role DESC, u.email`, [businessId]);
  return r.rows.map(view);
}

async function getMember(tx: Tx, businessId: string, userId: string): Promise<MemberView> {
  const r = await tx.query<MemberRow>(`${SELECT_MEMBERS} AND m.user_id = $2`, [businessId, userId]);
  if (!r.rows[0]) throw notFound('member');
  return view(r.rows[0]);
}

/** Owners set any role (and so transfer ownership); admins move people between member and admin only. */
export async function changeRole(tx: Tx, businessId: string, userId: string, role: Role): Promise<MemberView> {
  const { role: mine } = await getBusiness(tx, businessId);
  const target = await getMember(tx, businessId, userId);
  if (!atLeast(mine, 'admin')) throw forbidden('only owners and admins can change roles');
  if (mine !== 'owner' && (target.role === 'owner' || role === 'owner')) {
    throw forbidden('only an owner can make someone owner or change an owner’s role');
  }
  if (target.role === role) return target;
  const r = await tx.query('UPDATE app.memberships SET role = $3 WHERE business_id = $1 AND user_id = $2', [
    businessId,
    userId,
    role,
  ]);
  if (r.rowCount === 0) throw forbidden();
  return getMember(tx, businessId, userId);
}

/** Remove someone (admin+, owners only by owners) or leave (userId = me). */
export async function removeMember(tx: Tx, businessId: string, me: string, userId: string): Promise<void> {
  const { role: mine } = await getBusiness(tx, businessId);
  const target = await getMember(tx, businessId, userId);
  if (userId !== me) {
    if (!atLeast(mine, 'admin')) throw forbidden('only owners and admins can remove members');
    if (target.role === 'owner' && mine !== 'owner') throw forbidden('only an owner can remove an owner');
  }
  const r = await tx.query('DELETE FROM app.memberships WHERE business_id = $1 AND user_id = $2', [businessId, userId]);
  if (r.rowCount === 0) throw forbidden();
}
