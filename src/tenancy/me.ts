// GET /api/me: who the caller is, her businesses with role and trial state, and the
// flags the web app needs to choose a screen (onboarding, verify-email banner, demo).
import type { Tx } from '../db/index.ts';
import { AppError } from '../shared/errors.ts';
import { listMyBusinesses, type BusinessView } from './businesses.ts';

export interface MeView {
  user: { id: string; email: string; email_verified: boolean; created_at: string };
  businesses: BusinessView[];
  flags: {
    /** No business yet: show the onboarding that creates the first business profile. */
    needs_onboarding: boolean;
    email_verified: boolean;
    /** Signed in to a demo workspace: show the demo banner and its end. */
    is_demo: boolean;
    demo_expires_at: string | null;
    google_sign_in: boolean;
  };
}

export async function getMe(tx: Tx, options: { googleSignIn: boolean }): Promise<MeView> {
  const u = await tx.query<{ id: string; email: string; email_verified_at: Date | null; created_at: Date }>(
    'SELECT id, email::text AS email, email_verified_at, created_at FROM auth.users WHERE id = (select app.uid())',
  );
  const row = u.rows[0];
  if (!row) throw new AppError('unauthorized', 'sign in to continue');
  const businesses = await listMyBusinesses(tx);
  const demo = businesses.find((b) => b.is_demo);
  return {
    user: {
      id: row.id,
      email: row.email,
      email_verified: row.email_verified_at !== null,
      created_at: row.created_at.toISOString(),
    },
    businesses,
    flags: {
      needs_onboarding: businesses.length === 0,
      email_verified: row.email_verified_at !== null,
      is_demo: demo !== undefined,
      demo_expires_at: demo?.demo_expires_at ?? null,
      google_sign_in: options.googleSignIn,
    },
  };
}
