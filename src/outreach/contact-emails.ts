// One-to-one email from a contact (docs/ARCHITECTURE.md §21 "1:1 email"): queued in the
// caller's transaction (RLS: any member, in her own name) together with its outbox row
// (§24), and delivered by the outbox's email driver (email-driver.ts). The request never
// sends: it answers 202 with the queued message, which then appears on the contact's
// timeline with its status.
import type { Tx } from '../db/index.ts';
import { withOutbox } from '../messaging/outbox.ts';
import { AppError, notFound } from '../shared/errors.ts';

export interface ContactEmailView {
  id: string;
  contact_id: string;
  sender_id: string | null;
  to: string;
  subject: string;
  status: 'queued' | 'sending' | 'sent' | 'failed';
  reason: string | null;
  created_at: string;
  sent_at: string | null;
}

export async function queueContactEmail(
  tx: Tx,
  businessId: string,
  userId: string,
  contactId: string,
  input: { sender_id?: string | null; subject: string; body: string },
): Promise<ContactEmailView> {
  const c = await tx.query<{ email: string | null; demo: boolean }>(
    `SELECT c.email::text AS email, app.is_demo_business(c.business_id) AS demo
       FROM app.contacts c WHERE c.business_id = $1 AND c.id = $2 AND c.deleted_at IS NULL`,
    [businessId, contactId],
  );
  const contact = c.rows[0];
  if (!contact) throw notFound('contact');
  if (contact.demo) throw new AppError('demo_restricted', 'demo workspaces cannot send email; sign up to use your own');
  if (!contact.email) throw new AppError('validation_failed', 'this contact has no email address');
  const s = await tx.query<{ id: string }>(
    `SELECT id FROM app.email_senders WHERE business_id = $1 AND ($2::uuid IS NULL AND is_default OR id = $2)`,
    [businessId, input.sender_id ?? null],
  );
  if (!s.rows[0])
    throw input.sender_id
      ? new AppError('validation_failed', 'no such email sender in this business')
      : new AppError('no_email_sender', 'add an email sender in Settings → Integrations first');
  const sup = await tx.query<{ reason: string }>(
    'SELECT reason FROM app.email_suppressions WHERE business_id = $1 AND email = $2',
    [businessId, contact.email],
  );
  if (sup.rows[0])
    throw new AppError(
      'email_suppressed',
      sup.rows[0].reason === 'unsubscribed'
        ? 'this contact unsubscribed from your email'
        : 'email to this address bounced permanently; it is suppressed',
    );
  const r = await tx.query<{ id: string; created_at: Date }>(
    `INSERT INTO app.contact_emails (business_id, contact_id, sender_id, sent_by, to_address, subject, body)
     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id, created_at`,
    [businessId, contactId, s.rows[0].id, userId, contact.email, input.subject, input.body],
  );
  await withOutbox(tx, {
    id: r.rows[0]!.id,
    businessId,
    channel: 'email',
    senderId: s.rows[0].id,
    createdBy: userId,
  });
  return {
    id: r.rows[0]!.id,
    contact_id: contactId,
    sender_id: s.rows[0].id,
    to: contact.email,
    subject: input.subject,
    status: 'queued',
    reason: null,
    created_at: r.rows[0]!.created_at.toISOString(),
    sent_at: null,
  };
}
