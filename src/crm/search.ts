// Global search (`GET …/search?q=`) across contacts, deals and conversations, under
// the caller's RLS. Each kind returns its best few matches; contacts reuse the ranked
// contact search, deals match their title, conversations the contact they are with or
// the text of their messages.
import type { Tx } from '../db/index.ts';
import { listContacts } from './contact-list.ts';
import type { Contact } from './contacts.ts';
import { likePattern } from './cursor.ts';

export interface SearchResults {
  contacts: Contact[];
  deals: { id: string; title: string; stage: string; amount_cents: number; contact_id: string | null }[];
  conversations: { id: string; contact_id: string; contact_name: string; our_number: string; snippet: string | null }[];
}

export async function globalSearch(tx: Tx, businessId: string, q: string, limit: number): Promise<SearchResults> {
  const term = q.trim().toLowerCase();
  const contacts = (await listContacts(tx, businessId, { q: term, limit })).items;
  const pattern = likePattern(term);
  const deals = await tx.query<{
    id: string;
    title: string;
    stage: string;
    amount_cents: string;
    contact_id: string | null;
  }>(
    `SELECT d.id, d.title, d.stage, d.amount_cents::text AS amount_cents, d.contact_id FROM app.deals d
      WHERE d.business_id = $1 AND lower(d.title) LIKE $2
      ORDER BY extensions.similarity(lower(d.title), $3) DESC, d.id LIMIT $4`,
    [businessId, pattern, term, limit],
  );
  // A conversation matches by its contact's name or phone, or by a message's text.
  const conversations = await tx.query<{
    id: string;
    contact_id: string;
    contact_name: string;
    our_number: string;
    snippet: string | null;
  }>(
    `SELECT v.id, v.contact_id, btrim(c.first_name || ' ' || c.last_name) AS contact_name, v.our_number,
            (SELECT left(m.body, 140) FROM app.messages m
              WHERE m.business_id = v.business_id AND m.conversation_id = v.id AND lower(m.body) LIKE $2
              ORDER BY m.created_at DESC LIMIT 1) AS snippet
       FROM app.conversations v JOIN app.contacts c ON c.business_id = v.business_id AND c.id = v.contact_id
      WHERE v.business_id = $1 AND c.deleted_at IS NULL AND (
        lower(c.first_name || ' ' || c.last_name) LIKE $2
        OR EXISTS (SELECT 1 FROM app.messages m WHERE m.business_id = v.business_id AND m.conversation_id = v.id AND lower(m.body) LIKE $2))
      ORDER BY v.last_message_at DESC NULLS LAST, v.id LIMIT $3`,
    [businessId, pattern, limit],
  );
  return {
    contacts,
    deals: deals.rows.map((d) => ({ ...d, amount_cents: Number(d.amount_cents) })),
    conversations: conversations.rows,
  };
}
