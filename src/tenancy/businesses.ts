// Businesses. Services take the caller's transaction first (asUser):
// every statement is already confined by the policies of migrations 0001/0003, and
// the checks here only turn "no row" into the right answer (404 for a business the
// caller cannot see, 403 for one she may see but not change).
import { randomUUID } from 'node:crypto';
import type { Tx } from '../db/index.ts';
import { AppError, forbidden, notFound } from '../shared/errors.ts';

export type Role = 'owner' | 'admin' | 'member';
const RANK: Record<Role, number> = { member: 0, admin: 1, owner: 2 };
export const atLeast = (role: Role, min: Role): boolean => RANK[role] >= RANK[min];

export interface BusinessView {
  id: string;
  name: string;
  nmls_number: string | null;
  time_zone: string;
  postal_address: string | null;
  role: Role;
  is_demo: boolean;
  created_at: string;
  trial: { ends_at: string; active: boolean; days_left: number };
  demo_expires_at: string | null;
}

interface BusinessRow {
  id: string;
  name: string;
  nmls_number: string | null;
  time_zone: string;
  postal_address: string | null;
  role: Role;
  is_demo: boolean;
  created_at: Date;
  trial_ends_at: Date;
  demo_expires_at: Date | null;
  now: Date;
}

const SELECT_MINE = `
  SELECT b.id, b.name, b.nmls_number, b.time_zone, b.postal_address, m.role, b.is_demo, b.created_at, b.trial_ends_at, b.demo_expires_at, now() AS now
    FROM app.businesses b
    JOIN app.memberships m ON m.business_id = b.id AND m.user_id = (select app.uid())`;

function view(r: BusinessRow): BusinessView {
  const msLeft = r.trial_ends_at.getTime() - r.now.getTime();
  return {
    id: r.id,
    name: r.name,
    nmls_number: r.nmls_number,
    time_zone: r.time_zone,
    postal_address: r.postal_address,
    role: r.role,
    is_demo: r.is_demo,
    created_at: r.created_at.toISOString(),
    trial: {
      ends_at: r.trial_ends_at.toISOString(),
      active: msLeft > 0,
      days_left: Math.max(0, Math.ceil(msLeft / 86_400_000)),
    },
    demo_expires_at: r.demo_expires_at?.toISOString() ?? null,
  };
}

export async function listMyBusinesses(tx: Tx): Promise<BusinessView[]> {
  const r = await tx.query<BusinessRow>(`${SELECT_MINE} ORDER BY b.created_at, b.id`);
  return r.rows.map(view);
}

export async function getBusiness(tx: Tx, businessId: string): Promise<BusinessView> {
  const r = await tx.query<BusinessRow>(`${SELECT_MINE} WHERE b.id = $1`, [businessId]);
  if (!r.rows[0]) throw notFound('business');
  return view(r.rows[0]);
}

export interface BusinessInput {
  name: string;
  nmls_number?: string | null;
}

export interface BusinessPatch extends Partial<BusinessInput> {
  /** IANA name, validated by the route schema and by the database (app.is_time_zone). */
  time_zone?: string;
  /** null clears it; campaign email cannot be created without one. */
  postal_address?: string | null;
}

/**
 * The creator becomes owner in the same statement (trigger of migration 0003). The id
 * is generated here and the row read back afterwards: INSERT … RETURNING would need
 * the SELECT policy — membership — before the trigger has created it.
 */
export async function createBusiness(tx: Tx, userId: string, input: BusinessInput): Promise<BusinessView> {
  const demo = await tx.query<{ demo: boolean }>('SELECT app.is_demo_user() AS demo');
  if (demo.rows[0]?.demo)
    throw new AppError('demo_restricted', 'demo accounts cannot create businesses; sign up to create your own');
  const id = randomUUID();
  await tx.query('INSERT INTO app.businesses (id, name, nmls_number, created_by) VALUES ($1, $2, $3, $4)', [
    id,
    input.name,
    input.nmls_number ?? null,
    userId,
  ]);
  return getBusiness(tx, id);
}

export async function updateBusiness(tx: Tx, businessId: string, patch: BusinessPatch): Promise<BusinessView> {
  const current = await getBusiness(tx, businessId);
  if (!atLeast(current.role, 'admin')) throw forbidden('only owners and admins can change the business profile');
  if (
    patch.name === undefined &&
    patch.nmls_number === undefined &&
    patch.time_zone === undefined &&
    patch.postal_address === undefined
  )
    return current;
  const r = await tx.query(
    `UPDATE app.businesses
        SET name = coalesce($2, name),
            nmls_number = CASE WHEN $3::boolean THEN $4 ELSE nmls_number END,
            time_zone = coalesce($5, time_zone),
            postal_address = CASE WHEN $6::boolean THEN $7 ELSE postal_address END
      WHERE id = $1`,
    [
      businessId,
      patch.name ?? null,
      patch.nmls_number !== undefined,
      patch.nmls_number ?? null,
      patch.time_zone ?? null,
      patch.postal_address !== undefined,
      patch.postal_address ?? null,
    ],
  );
  if (r.rowCount === 0) throw forbidden();
  return getBusiness(tx, businessId);
}

/**
 * Owner only, and the caller must type the business's name: deleting cascades every
 * row of the business (contacts, deals, messages, integrations) and cannot be undone.
 */
export async function deleteBusiness(tx: Tx, businessId: string, confirmName: string): Promise<BusinessView> {
  const current = await getBusiness(tx, businessId);
  if (current.role !== 'owner') throw forbidden('only an owner can delete the business');
  if (confirmName.trim() !== current.name.trim()) {
    throw new AppError('confirmation_mismatch', 'type the business name exactly to confirm the deletion');
  }
  const r = await tx.query('DELETE FROM app.businesses WHERE id = $1', [businessId]);
  if (r.rowCount === 0) throw forbidden();
  return current;
}
