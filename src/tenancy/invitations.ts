// Invitations. The token is 256 random bits, shown to the inviter once
// and mailed; only its SHA-256 is stored, so a database leak yields no usable link.
// Acceptance goes through app.accept_invitation (migration 0003), which holds every
// rule of the issue in the database.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Tx } from '../db/index.ts';
import { AppError, forbidden, notFound } from '../shared/errors.ts';
import { atLeast, getBusiness, type BusinessView, type Role } from './businesses.ts';

export interface InvitationView {
  id: string;
  email: string;
  role: Role;
  invited_by: string | null;
  created_at: string;
  expires_at: string;
  expired: boolean;
}

interface InvitationRow {
  id: string;
  email: string;
  role: Role;
  invited_by: string | null;
  created_at: Date;
  expires_at: Date;
  expired: boolean;
}

const view = (r: InvitationRow): InvitationView => ({
  id: r.id,
  email: r.email,
  role: r.role,
  invited_by: r.invited_by,
  created_at: r.created_at.toISOString(),
  expires_at: r.expires_at.toISOString(),
  expired: r.expired,
});

const SELECT_INVITATIONS = `
  SELECT id, email::text AS email, role, invited_by, created_at, expires_at, expires_at <= now() AS expired
    FROM app.invitations WHERE business_id = $1`;

/** base64url of 32 random bytes: 43 characters. */
export const INVITATION_TOKEN = /^[A-Za-z0-9_-]{43}$/;
export const hashInvitationToken = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();

async function assertCanInvite(tx: Tx, businessId: string, role?: Role): Promise<BusinessView> {
  const business = await getBusiness(tx, businessId);
  if (!atLeast(business.role, 'admin')) throw forbidden('only owners and admins can manage invitations');
  if (role === 'owner' && business.role !== 'owner') throw forbidden('only an owner can invite an owner');
  if (business.is_demo) throw new AppError('demo_restricted', 'demo workspaces cannot invite people');
  return business;
}

export interface CreatedInvitation {
  invitation: InvitationView;
  /** The plaintext token: returned to the inviter once and mailed, never stored. */
  token: string;
  business: BusinessView;
}

/**
 * Everything that refuses an invitation before anything is written or counted: the
 * caller's role, a demo workspace, an address that is already a member. The route runs
 * it before spending an invitation budget (src/tenancy/invitation-limits.ts), so a
 * caller who may not invite is refused without using up anyone's budget.
 */
export async function checkInvitation(tx: Tx, businessId: string, email: string, role: Role): Promise<BusinessView> {
  const business = await assertCanInvite(tx, businessId, role);
  const already = await tx.query(
    'SELECT 1 FROM app.memberships m JOIN auth.users u ON u.id = m.user_id WHERE m.business_id = $1 AND lower(u.email::text) = lower($2)',
    [businessId, email],
  );
  if (already.rowCount > 0) throw new AppError('conflict', 'that person is already a member of this business');
  return business;
}

/** Invite `email` with `role`; an open invitation to the same address is revoked (re-invite replaces). */
export async function createInvitation(
  tx: Tx,
  businessId: string,
  me: string,
  email: string,
  role: Role,
): Promise<CreatedInvitation> {
  const business = await checkInvitation(tx, businessId, email, role);
  await tx.query(
    'UPDATE app.invitations SET revoked_at = now() WHERE business_id = $1 AND lower(email::text) = lower($2) AND accepted_at IS NULL AND revoked_at IS NULL',
    [businessId, email],
  );
  const id = randomUUID();
  const token = randomBytes(32).toString('base64url');
  await tx.query(
    'INSERT INTO app.invitations (id, business_id, email, role, token_hash, invited_by) VALUES ($1, $2, $3, $4, $5, $6)',
    [id, businessId, email, role, hashInvitationToken(token), me],
  );
  const r = await tx.query<InvitationRow>(`${SELECT_INVITATIONS} AND id = $2`, [businessId, id]);
  return { invitation: view(r.rows[0]!), token, business };
}

/** Open invitations (not accepted, not revoked), expired ones flagged. */
export async function listInvitations(tx: Tx, businessId: string): Promise<InvitationView[]> {
  await assertCanInvite(tx, businessId);
  const r = await tx.query<InvitationRow>(
    `${SELECT_INVITATIONS} AND accepted_at IS NULL AND revoked_at IS NULL ORDER BY created_at DESC`,
    [businessId],
  );
  return r.rows.map(view);
}

export async function revokeInvitation(tx: Tx, businessId: string, invitationId: string): Promise<void> {
  const business = await getBusiness(tx, businessId);
  if (!atLeast(business.role, 'admin')) throw forbidden('only owners and admins can manage invitations');
  const found = await tx.query<{ role: Role; accepted_at: Date | null; revoked_at: Date | null }>(
    'SELECT role, accepted_at, revoked_at FROM app.invitations WHERE business_id = $1 AND id = $2',
    [businessId, invitationId],
  );
  const inv = found.rows[0];
  if (!inv) throw notFound('invitation');
  if (inv.accepted_at) throw new AppError('invitation_accepted', 'this invitation was already accepted');
  if (inv.revoked_at) throw new AppError('invitation_revoked', 'this invitation was already revoked');
  if (inv.role === 'owner' && business.role !== 'owner')
    throw forbidden('only an owner can revoke an owner invitation');
  const r = await tx.query('UPDATE app.invitations SET revoked_at = now() WHERE business_id = $1 AND id = $2', [
    businessId,
    invitationId,
  ]);
  if (r.rowCount === 0) throw forbidden();
}

/** Join the business of the invitation; all checks are in app.accept_invitation. */
export async function acceptInvitation(tx: Tx, token: string): Promise<BusinessView> {
  if (!INVITATION_TOKEN.test(token)) throw new AppError('invitation_invalid', 'this invitation link is not valid');
  const r = await tx.query<{ business_id: string }>('SELECT business_id FROM app.accept_invitation($1)', [
    hashInvitationToken(token),
  ]);
  return getBusiness(tx, r.rows[0]!.business_id);
}
