// Demo workspaces live 24 hours (P9). The purge deletes expired demo businesses (every
// tenant row goes with them through ON DELETE CASCADE) and then the demo users left
// without any membership. It runs as `capto demo purge` and hourly as the job engine's
// `demo.purge` queue (src/jobs/demo-purge.ts); a transaction-scoped advisory lock makes
// the two never run at once.
import type { Database } from '../db/index.ts';

export const DEMO_EMAIL_DOMAIN = 'demo.capto.invalid';
export const DEMO_LIFETIME_HOURS = 24;
const DEMO_PURGE_LOCK = 7_270_104;

export interface PurgeResult {
  /** false when another node held the lock (it is purging right now). */
  ran: boolean;
  businesses: number;
  users: number;
}

export async function purgeExpiredDemos(db: Database): Promise<PurgeResult> {
  return db.asService('demo.purge', async (tx) => {
    const lock = await tx.query<{ got: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS got', [DEMO_PURGE_LOCK]);
    if (!lock.rows[0]?.got) return { ran: false, businesses: 0, users: 0 };
    // Businesses first: the last-owner guard lets a membership go with its business.
    const b = await tx.query('DELETE FROM app.businesses WHERE is_demo AND demo_expires_at <= now()');
    // Only users of the reserved demo domain (RFC 2606 .invalid: no real address can
    // have it), past the demo lifetime, and belonging to no business any more.
    const u = await tx.query(
      `DELETE FROM auth.users u
        WHERE u.email::text LIKE $1 AND u.created_at <= now() - make_interval(hours => $2)
          AND NOT EXISTS (SELECT 1 FROM app.memberships m WHERE m.user_id = u.id)`,
      [`%@${DEMO_EMAIL_DOMAIN}`, DEMO_LIFETIME_HOURS],
    );
    return { ran: true, businesses: b.rowCount, users: u.rowCount };
  });
}
