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

/** The caller's name as shown to the model: the local part of her email (users have no display name). */
export function userNameOf(email: string): string {
  return email.split('@')[0]!.slice(0, 64);
}

const AT = (col: string) => `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')`;

type ContextRow = {
  contact_id: string;
  business_name: string;
  about: string | null;
  user_email: string | null;
  first_name: string;
  last_name: string;
  phone: string | null;
  email: string | null;
  status: string;
  deal_title: string | null;
  deal_stage: string | null;
  loan_type: string | null;
  amount_cents: string | null;
  expected_close_date: string | null;
  our_numbers: string[] | null;
  messages: Array<{ direction: 'inbound' | 'outbound'; body: string; at: string }>;
  notes: Array<{ body: string; at: string }>;
};

/**
 * Everything in ONE statement (one round trip): the contact — of the conversation, or
 * given — with business, caller, open deal, the newest texts and notes as JSON arrays.
 * $1 business, $2 conversation (or null), $3 contact (or null), $4 caller.
 */
function contextSql(byConversation: boolean): string {
  const target = byConversation
    ? `SELECT v.contact_id, v.id AS conversation_id FROM app.conversations v WHERE v.business_id = $1 AND v.id = $2::uuid AND $3::uuid IS NULL`
    : `SELECT $3::uuid AS contact_id, NULL::uuid AS conversation_id WHERE $2::uuid IS NULL`;
  const thread = byConversation
    ? `m.conversation_id = t.conversation_id`
    : `m.conversation_id IN (SELECT v.id FROM app.conversations v WHERE v.business_id = $1 AND v.contact_id = c.id)`;
  return `WITH t AS (${target})
    SELECT c.id AS contact_id, b.name AS business_name, b.ai_about AS about, u.email::text AS user_email,
           c.first_name, c.last_name, c.phone, c.email::text AS email, c.status::text AS status,
           d.title AS deal_title, d.stage::text AS deal_stage, d.loan_type::text AS loan_type,
           d.amount_cents::text AS amount_cents, d.expected_close_date::text AS expected_close_date,
           array(SELECT tc.phone_number FROM app.twilio_configs tc WHERE tc.business_id = b.id) AS our_numbers,
           (SELECT coalesce(json_agg(json_build_object('direction', x.direction, 'body', x.body, 'at', x.at)
                                     ORDER BY x.created_at, x.id), '[]'::json)
              FROM (SELECT m.id, m.direction, left(m.body, ${CONTEXT_LIMITS.messageChars}) AS body, m.created_at,
                           ${AT('m.created_at')} AS at
                      FROM app.messages m WHERE m.business_id = $1 AND ${thread}
                     ORDER BY m.created_at DESC, m.id DESC LIMIT ${CONTEXT_LIMITS.messages}) x) AS messages,
           (SELECT coalesce(json_agg(json_build_object('body', y.body, 'at', y.at) ORDER BY y.created_at, y.id), '[]'::json)
              FROM (SELECT n.id, left(n.body, ${CONTEXT_LIMITS.noteChars}) AS body, n.created_at, ${AT('n.created_at')} AS at
                      FROM app.notes n
                     WHERE n.business_id = $1 AND (n.contact_id = c.id OR (d.id IS NOT NULL AND n.deal_id = d.id))
                     ORDER BY n.created_at DESC, n.id DESC LIMIT ${CONTEXT_LIMITS.notes}) y) AS notes
      FROM t
      JOIN app.businesses b ON b.id = $1
      JOIN app.contacts c ON c.business_id = b.id AND c.id = t.contact_id AND c.deleted_at IS NULL
      LEFT JOIN auth.users u ON u.id = $4::uuid
      LEFT JOIN LATERAL (
        SELECT d.* FROM app.deals d
         WHERE d.business_id = b.id AND d.contact_id = c.id AND d.stage NOT IN ('funded', 'lost')
         ORDER BY d.updated_at DESC, d.id DESC LIMIT 1
      ) d ON true`;
}

async function contactContext(
  tx: Tx,
  businessId: string,
  userId: string | null,
  target: { conversationId: string } | { contactId: string },
): Promise<AiContext> {
  const byConversation = 'conversationId' in target;
  const r = await tx.query<ContextRow>(contextSql(byConversation), [
    businessId,
    byConversation ? target.conversationId : null,
    byConversation ? null : target.contactId,
    userId,
  ]);
  const h = r.rows[0];
  if (!h) throw notFound(byConversation ? 'conversation' : 'contact');
  const about = h.about ?? '';
  return {
    businessName: h.business_name,
    about,
    userName: h.user_email ? userNameOf(h.user_email) : `the ${h.business_name} team`,
    contact: {
      id: h.contact_id,
      firstName: h.first_name,
      lastName: h.last_name,
      phone: h.phone,
      email: h.email,
      status: h.status,
    },
    messages: h.messages,
    notes: h.notes,
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
  return { context: await contactContext(tx, businessId, userId, { conversationId }), conversationId };
}

/** Context for a contact summary: the contact, all of their texts, notes, open deal. */
export function contactSummaryContext(tx: Tx, businessId: string, userId: string, contactId: string) {
  return contactContext(tx, businessId, userId, { contactId });
}
