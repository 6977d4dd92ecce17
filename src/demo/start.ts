// "Try the demo" (P9): a fresh demo user (no password, a random address under the
// reserved .invalid domain, marked verified since nothing is ever mailed to it) and a
// fresh demo business seeded by the generator, created with the session in ONE
// service transaction: a demo appears whole, signed in, or not at all.
import { randomBytes, randomUUID } from 'node:crypto';
import type { AuthService, SignedIn } from '../auth/service.ts';
import type { RequestMeta } from '../auth/refresh-tokens.ts';
import type { Database } from '../db/index.ts';
import { DEMO_EMAIL_DOMAIN, DEMO_LIFETIME_HOURS } from './purge.ts';
import { generateDemoData } from './seed.ts';
import { writeDemoData } from './seed-writer.ts';

export async function startDemo(
  db: Database,
  auth: AuthService,
  meta: RequestMeta,
): Promise<SignedIn & { businessId: string }> {
  const data = generateDemoData();
  const out = await db.asService('demo.start', async (tx) => {
    const userId = randomUUID();
    const email = `demo-${randomBytes(10).toString('hex')}@${DEMO_EMAIL_DOMAIN}`;
    await tx.query('INSERT INTO auth.users (id, email, email_verified_at) VALUES ($1, $2, now())', [userId, email]);
    const businessId = randomUUID();
    await tx.query(
      `INSERT INTO app.businesses (id, name, is_demo, demo_expires_at, created_by)
       VALUES ($1, $2, true, now() + make_interval(hours => $4), $3)`,
      [businessId, data.businessName, userId, DEMO_LIFETIME_HOURS],
    );
    await tx.query(`INSERT INTO app.memberships (business_id, user_id, role) VALUES ($1, $2, 'owner')`, [
      businessId,
      userId,
    ]);
    await writeDemoData(tx, businessId, userId, data);
    const session = await auth.signInUser(tx, userId, meta, 'demo');
    // The demo session ends with its workspace, whatever the configured session length.
    await tx.query(
      'UPDATE auth.sessions SET not_after = least(not_after, now() + make_interval(hours => $2)) WHERE id = $1',
      [session.sessionId, DEMO_LIFETIME_HOURS],
    );
    return { user: { id: userId, email, email_verified: true }, businessId, ...session };
  });
  const signedIn = await auth.finish(out.user, out.sessionId, out.refreshToken);
  return { ...signedIn, businessId: out.businessId };
}
