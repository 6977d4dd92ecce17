// What a model may see (docs/SECURITY.md "AI assistance"), assembled inside the caller's own
// request transaction — `tx` is an asUser transaction, so row-level security decides
// what exists, and every query names the one business and the one contact besides.
// Nothing here reads another contact, another business, a secret or a user other than
// the caller. The shape is closed: prompt.ts renders exactly these fields.
import type { Tx } from '../db/index.ts';
import { notFound } from '../shared/errors.ts';

/** Bounds that keep a prompt (and its cost) small whatever the thread's length. */
export const CONTEXT_LIMITS = { messages: 40, notes: 10, messageChars: 1600, noteChars: 1000 } as const;

export interface ContextMessage {
  direction: 'inbound' | 'outbound';
  body: string;
  at: string;
}

export interface AiContext {
  businessName: string;
  about: string;
  userName: string;
  contact: {
    id: string;
    firstName: string;
    lastName: string;
    phone: string | null;
    email: string | null;
    status: string;
  };
  /** Oldest first; the conversation's own thread (suggest) or all of the contact's texts (summary). */
  messages: ContextMessage[];
  notes: Array<{ body: string; at: string }>;
  deal: { title: string; stage: string; loanType: string; amountCents: number; expectedClose: string | null } | null;
  /** Phone numbers and emails the output may mention without a flag: the contact's and the business's own. */
  knownContacts: { phones: string[]; emails: string[] };
}

const iso = (d: Date) => d.toISOString();

/** The caller's name as shown to the model: the local part of her email (users have no display name). */
export function userNameOf(email: string): string {
  return email.split('@')[0]!.slice(0, 64);
}

async function contactContext(
  tx: Tx,
  businessId: string,
  userId: string | null,
  contactId: string,
  conversationId: string | null,
): Promise<AiContext> {
  // One round trip for the small rows: business, settings, caller, contact, open deal.
  const head = await tx.query<{
    business_name: string;
    about: string | null;
    user_email: string | null;
    first_name: string;
    last_name: string;
    phone: string | null;
    email: string | null;
    status: string;
    deal_id: string | null;
    deal_title: string | null;
    deal_stage: string | null;
    loan_type: string | null;
    amount_cents: string | null;
    expected_close_date: string | null;
    our_numbers: string[] | null;
  }>(
    `SELECT b.name AS business_name, b.ai_about AS about, u.email::text AS user_email,
            c.first_name, c.last_name, c.phone, c.email::text AS email, c.status::text AS status,
            d.id AS deal_id, d.title AS deal_title, d.stage::text AS deal_stage, d.loan_type::text AS loan_type,
            d.amount_cents::text AS amount_cents, d.expected_close_date::text AS expected_close_date,
            array(SELECT t.phone_number FROM app.twilio_configs t WHERE t.business_id = b.id) AS our_numbers
       FROM app.businesses b
       JOIN app.contacts c ON c.business_id = b.id AND c.id = $2 AND c.deleted_at IS NULL
       LEFT JOIN auth.users u ON u.id = $3::uuid
       LEFT JOIN LATERAL (
         SELECT d.* FROM app.deals d
          WHERE d.business_id = b.id AND d.contact_id = c.id AND d.stage NOT IN ('funded', 'lost')
          ORDER BY d.updated_at DESC, d.id DESC LIMIT 1
       ) d ON true
      WHERE b.id = $1`,
    [businessId, contactId, userId],
  );
  const h = head.rows[0];
  if (!h) throw notFound('contact');

  const messages = await tx.query<{ direction: 'inbound' | 'outbound'; body: string; created_at: Date }>(
    conversationId
      ? `SELECT m.direction, left(m.body, $4) AS body, m.created_at FROM app.messages m
          WHERE m.business_id = $1 AND m.conversation_id = $2
            AND EXISTS (SELECT 1 FROM app.conversations v WHERE v.business_id = $1 AND v.id = $2 AND v.contact_id = $3)
          ORDER BY m.created_at DESC, m.id DESC LIMIT $5`
      : `SELECT m.direction, left(m.body, $4) AS body, m.created_at FROM app.messages m
          JOIN app.conversations v ON v.business_id = m.business_id AND v.id = m.conversation_id
          WHERE m.business_id = $1 AND v.contact_id = $3 AND ($2::uuid IS NULL)
          ORDER BY m.created_at DESC, m.id DESC LIMIT $5`,
    [businessId, conversationId, contactId, CONTEXT_LIMITS.messageChars, CONTEXT_LIMITS.messages],
  );
  const notes = await tx.query<{ body: string; created_at: Date }>(
    `SELECT left(n.body, $4) AS body, n.created_at FROM app.notes n
      WHERE n.business_id = $1 AND (n.contact_id = $2 OR ($3::uuid IS NOT NULL AND n.deal_id = $3::uuid))
      ORDER BY n.created_at DESC, n.id DESC LIMIT $5`,
    [businessId, contactId, h.deal_id, CONTEXT_LIMITS.noteChars, CONTEXT_LIMITS.notes],
  );

  const about = h.about ?? '';
  return {
    businessName: h.business_name,
    about,
    userName: h.user_email ? userNameOf(h.user_email) : `the ${h.business_name} team`,
    contact: {
      id: contactId,
      firstName: h.first_name,
      lastName: h.last_name,
      phone: h.phone,
      email: h.email,
      status: h.status,
    },
    messages: messages.rows.reverse().map((m) => ({ direction: m.direction, body: m.body, at: iso(m.created_at) })),
    notes: notes.rows.reverse().map((n) => ({ body: n.body, at: iso(n.created_at) })),
    deal: h.deal_title
      ? {
          title: h.deal_title,
          stage: h.deal_stage!,
          loanType: h.loan_type!,
          amountCents: Number(h.amount_cents ?? 0),
          expectedClose: h.expected_close_date,
        }
      : null,
    knownContacts: {
      phones: [...(h.phone ? [h.phone] : []), ...(h.our_numbers ?? [])],
      emails: h.email ? [h.email] : [],
    },
  };
}

/** Context for a reply in one conversation: its contact, that thread, notes, open deal. */
export async function conversationContext(
  tx: Tx,
  businessId: string,
  userId: string | null,
  conversationId: string,
): Promise<{ context: AiContext; conversationId: string }> {
  const r = await tx.query<{ contact_id: string }>(
    'SELECT contact_id FROM app.conversations WHERE business_id = $1 AND id = $2',
    [businessId, conversationId],
  );
  const contactId = r.rows[0]?.contact_id;
  if (!contactId) throw notFound('conversation');
  return { context: await contactContext(tx, businessId, userId, contactId, conversationId), conversationId };
}

/** Context for a contact summary: the contact, all of their texts, notes, open deal. */
export function contactSummaryContext(tx: Tx, businessId: string, userId: string, contactId: string) {
  return contactContext(tx, businessId, userId, contactId, null);
}
