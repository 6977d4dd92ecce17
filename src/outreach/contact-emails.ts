// One-to-one email from a contact (docs/ARCHITECTURE.md §21 "1:1 email"): queued in the
// caller's transaction (RLS: any member, in her own name) together with its outbox row
// (§24), and delivered by the outbox's email driver (email-driver.ts). The request never
// sends: it answers 202 with the queued message, which then appears on the contact's
// timeline with its status. The automation step `send_email` (§25) queues the same row
// as the service, in nobody's name (`queueContactEmailAsService`); both share `queue`.
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

/** Why an email was not queued; the HTTP route turns each into an error, the automation step into an outcome. */
export type NotQueued =
  | 'contact_missing'
  | 'demo_restricted'
  | 'no_email'
  | 'sender_missing'
  | 'no_email_sender'
  | 'unsubscribed'
  | 'bounced'
  | 'no_postal_address';

export interface EmailInput {
  sender_id?: string | null;
  subject: string;
  body: string;
}

/**
 * Checks and queues one email with its outbox row, in `tx` (the caller's RLS transaction or
 * the service's). `sentBy` null = the system (an automation).
 */
async function queue(
  tx: Tx,
  businessId: string,
  sentBy: string | null,
  contactId: string,
  input: EmailInput,
): Promise<{ ok: true; email: ContactEmailView } | { ok: false; why: NotQueued }> {
  // The system's email (an automation) is commercial mail; a person's is not.
  const automated = sentBy === null;
  const c = await tx.query<{ email: string | null; demo: boolean; postal_address: string | null }>(
    `SELECT c.email::text AS email, app.is_demo_business(c.business_id) AS demo,
            (SELECT b.postal_address FROM app.businesses b WHERE b.id = c.business_id) AS postal_address
       FROM app.contacts c WHERE c.business_id = $1 AND c.id = $2 AND c.deleted_at IS NULL`,
    [businessId, contactId],
  );
  const contact = c.rows[0];
  if (!contact) return { ok: false, why: 'contact_missing' };
  if (contact.demo) return { ok: false, why: 'demo_restricted' };
  if (!contact.email) return { ok: false, why: 'no_email' };
  // Automated email is commercial: its footer prints the postal address (§25 `send_email`).
  if (automated && !contact.postal_address) return { ok: false, why: 'no_postal_address' };
  const s = await tx.query<{ id: string }>(
    `SELECT id FROM app.email_senders WHERE business_id = $1 AND ($2::uuid IS NULL AND is_default OR id = $2)`,
    [businessId, input.sender_id ?? null],
  );
  const sender = s.rows[0];
  if (!sender) return { ok: false, why: input.sender_id ? 'sender_missing' : 'no_email_sender' };
  const sup = await tx.query<{ reason: string }>(
    'SELECT reason FROM app.email_suppressions WHERE business_id = $1 AND email = $2',
    [businessId, contact.email],
  );
  if (sup.rows[0]) return { ok: false, why: sup.rows[0].reason === 'unsubscribed' ? 'unsubscribed' : 'bounced' };
  const r = await tx.query<{ id: string; created_at: Date }>(
    `INSERT INTO app.contact_emails (business_id, contact_id, sender_id, sent_by, to_address, subject, body${automated ? ', automated' : ''})
     VALUES ($1, $2, $3, $4, $5, $6, $7${automated ? ', true' : ''}) RETURNING id, created_at`,
    [businessId, contactId, sender.id, sentBy, contact.email, input.subject, input.body],
  );
  await withOutbox(tx, {
    id: r.rows[0]!.id,
    businessId,
    channel: 'email',
    senderId: sender.id,
    createdBy: sentBy,
  });
  return {
    ok: true,
    email: {
      id: r.rows[0]!.id,
      contact_id: contactId,
      sender_id: sender.id,
      to: contact.email,
      subject: input.subject,
      status: 'queued',
      reason: null,
      created_at: r.rows[0]!.created_at.toISOString(),
      sent_at: null,
    },
  };
}

const REFUSALS: Record<NotQueued, () => AppError> = {
  contact_missing: () => notFound('contact'),
  demo_restricted: () => new AppError('demo_restricted', 'demo workspaces cannot send email; sign up to use your own'),
  no_email: () => new AppError('validation_failed', 'this contact has no email address'),
  sender_missing: () => new AppError('validation_failed', 'no such email sender in this business'),
  no_email_sender: () => new AppError('no_email_sender', 'add an email sender in Settings → Integrations first'),
  unsubscribed: () => new AppError('email_suppressed', 'this contact unsubscribed from your email'),
  bounced: () => new AppError('email_suppressed', 'email to this address bounced permanently; it is suppressed'),
  no_postal_address: () => new AppError('postal_address_required', 'add the business postal address in Settings first'),
};

/** A member sends (her request transaction, in her own name). */
export async function queueContactEmail(
  tx: Tx,
  businessId: string,
  userId: string,
  contactId: string,
  input: EmailInput,
): Promise<ContactEmailView> {
  const r = await queue(tx, businessId, userId, contactId, input);
  if (!r.ok) throw REFUSALS[r.why]();
  return r.email;
}

/**
 * The system sends (a capto_service transaction, e.g. an automation step): the same checks
 * and rows, in nobody's name; a refusal is returned, not thrown, for the caller to record.
 */
export function queueContactEmailAsService(
  tx: Tx,
  businessId: string,
  contactId: string,
  input: EmailInput,
): Promise<{ ok: true; email: ContactEmailView } | { ok: false; why: NotQueued }> {
  return queue(tx, businessId, null, contactId, input);
}
