// The daily email digest (docs/ARCHITECTURE.md §12.1): from the hour
// each user chose, in her own time zone, one mail listing her unread notifications of
// the kinds she wants by email, across her businesses. Runs as the service role in a
// job (src/jobs/notifications.ts); the user's row is claimed (last_digest_on = her
// local date) and her notifications stamped (emailed_at) in the job's transaction, and
// the mails are sent after it commits — a crash between the two loses one digest rather
// than sending two. Notifications of kinds she does not want by mail are stamped too, so
// the next digest never reaches back to them.
import type { Database, Tx } from '../db/index.ts';
import type { Mailer } from '../mail/mailer.ts';
import type { Logger } from '../observability/logger.ts';

export interface DigestMail {
  user_id: string;
  to: string;
  subject: string;
  text: string;
}

interface DigestRow {
  user_id: string;
  email: string;
  business_name: string;
  kind: string;
  title: string;
  body: string;
  link: string | null;
}

const KIND_LABEL: Record<string, string> = {
  inbound_text: 'Texts',
  task_due: 'Tasks due',
  assignment: 'Assigned to you',
  import_finished: 'Imports',
  invitation_accepted: 'Team',
  automation: 'Automations',
  gbp_review: 'Google reviews',
};

/**
 * Claims the digests due at `now` and returns the mails to send. Due: the user's local
 * hour has come — at or after her digest hour, so an hour skipped by daylight saving or a
 * run missed during it still sends that day's digest — and no digest went out on a local
 * date from today on. "Before today", not "not today": after a move west the recorded
 * date (her old zone's) can be ahead of her new zone's today, and that digest went out on
 * her new today.
 */
export async function collectDigests(tx: Tx, publicUrl: string, now: Date = new Date()): Promise<DigestMail[]> {
  const claimed = await tx.query<{ user_id: string }>(
    `WITH local AS (
       SELECT s.user_id, $1::timestamptz AT TIME ZONE
                CASE WHEN app.is_time_zone(s.time_zone) THEN s.time_zone ELSE 'America/New_York' END AS t
         FROM app.notification_settings s WHERE cardinality(s.email_kinds) > 0
     )
     UPDATE app.notification_settings s SET last_digest_on = l.t::date FROM local l
      WHERE s.user_id = l.user_id AND extract(hour FROM l.t) >= s.digest_hour
        AND (s.last_digest_on IS NULL OR s.last_digest_on < l.t::date)
      RETURNING s.user_id`,
    [now.toISOString()],
  );
  if (claimed.rows.length === 0) return [];
  const users = claimed.rows.map((r) => r.user_id);
  const rows = await tx.query<DigestRow>(
    `SELECT n.user_id, u.email::text AS email, b.name AS business_name, n.kind, n.title, n.body, n.link
       FROM app.notifications n
       JOIN app.notification_settings s ON s.user_id = n.user_id
       JOIN auth.users u ON u.id = n.user_id
       JOIN app.businesses b ON b.id = n.business_id
      WHERE n.user_id = ANY($1::uuid[]) AND n.emailed_at IS NULL AND n.read_at IS NULL
        AND n.kind = ANY(s.email_kinds)
      ORDER BY n.user_id, b.name, n.kind, n.created_at DESC`,
    [users],
  );
  await tx.query(
    'UPDATE app.notifications SET emailed_at = now() WHERE user_id = ANY($1::uuid[]) AND emailed_at IS NULL',
    [users],
  );
  const byUser = new Map<string, DigestRow[]>();
  for (const r of rows.rows) byUser.set(r.user_id, [...(byUser.get(r.user_id) ?? []), r]);
  return [...byUser.values()].map((items) => renderDigest(items, publicUrl));
}

function renderDigest(items: DigestRow[], publicUrl: string): DigestMail {
  const lines: string[] = [
    `You have ${items.length} unread notification${items.length === 1 ? '' : 's'} in Capto.`,
    '',
  ];
  let section = '';
  for (const n of items) {
    const head = `${n.business_name} — ${KIND_LABEL[n.kind] ?? n.kind}`;
    if (head !== section) {
      lines.push('', head);
      section = head;
    }
    lines.push(`- ${n.title}${n.body ? ` (${n.body})` : ''}${n.link ? `\n  ${publicUrl}${n.link}` : ''}`);
  }
  lines.push('', `Choose what arrives by email in Capto under Settings → Notifications: ${publicUrl}/app`);
  return {
    user_id: items[0]!.user_id,
    to: items[0]!.email,
    subject: `Capto: ${items.length} unread notification${items.length === 1 ? '' : 's'}`,
    text: lines.join('\n'),
  };
}

/**
 * One run of the digest: claim in a service transaction, send after it commits. Runs on
 * the exclusive `notifications.digest` queue (src/jobs/notifications.ts); two runs at once
 * would still not double a mail, since the claim is a row-locking UPDATE of last_digest_on.
 */
export async function runDigest(
  db: Database,
  mailer: Mailer,
  logger: Logger,
  publicUrl: string,
  now: Date = new Date(),
): Promise<number> {
  const mails = await db.asService('notifications.digest', (tx) => collectDigests(tx, publicUrl, now));
  let sent = 0;
  for (const mail of mails) {
    try {
      await mailer.send({ to: mail.to, subject: mail.subject, text: mail.text });
      sent++;
    } catch (e) {
      logger.error({ err: e, user_id: mail.user_id }, 'notification digest could not be sent');
    }
  }
  return sent;
}
