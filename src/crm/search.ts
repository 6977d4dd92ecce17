// Global search (`GET …/search?q=`) across contacts, deals and conversations, under
// the caller's RLS. Each kind returns its best few matches; contacts reuse the ranked
// contact search, deals match their title (a title starting with the query first, then
// the most similar), conversations the contact they are with or the text of their
// messages, newest first.
import type { Tx } from '../db/index.ts';
import { listContacts } from './contact-list.ts';
import type { Contact } from './contacts.ts';
import { likePattern } from './cursor.ts';

/** Deal and conversation candidates ranked per search (docs/ARCHITECTURE.md §11). */
const CANDIDATES = 200;
/** How many of the best-matching contacts bring their deals and conversations. */
const CONTACT_POOL = 100;

export interface SearchResults {
  contacts: Contact[];
  deals: { id: string; title: string; stage: string; amount_cents: number; contact_id: string | null }[];
  conversations: { id: string; contact_id: string; contact_name: string; our_number: string; snippet: string | null }[];
}

export async function globalSearch(tx: Tx, businessId: string, q: string, limit: number): Promise<SearchResults> {
  // Composed (NFC) like the stored names (migration 0133).
  const term = q.normalize('NFC').trim().toLowerCase();
  // The best CONTACT_POOL contacts: the first few are the answer's contacts, and the deals
  // and conversations of all of them match too.
  const found = (await listContacts(tx, businessId, { q: term, limit: Math.max(limit, CONTACT_POOL) })).items;
  const contacts = found.slice(0, limit);
  const ids = found.map((c) => c.id);
  const pattern = likePattern(term);
  // Text candidates from the trigram indexes need three characters (NULL: none; the
  // function is then not called at all).
  const byText = [...term].length >= 3;
  // Deals and conversations: bounded candidates from app.deal_search_ids and
  // app.conversation_search_ids (migration 0076), read and ranked through the policies.
  // The two statements are sent together: on server PostgreSQL the connection is
  // pipelined (docs/ARCHITECTURE.md §7), so they cost one round trip, not two.
  const [deals, conversations] = await Promise.all([
    tx.query<{
      id: string;
      title: string;
      stage: string;
      amount_cents: string;
      contact_id: string | null;
    }>(
      `SELECT d.id, d.title, d.stage, d.amount_cents::text AS amount_cents, d.contact_id FROM app.deals d
      WHERE d.business_id = $1 AND d.id IN (
        SELECT x.id FROM app.deals x WHERE x.business_id = $1 AND x.contact_id = ANY ($2::uuid[])
        UNION SELECT s.id FROM app.deal_search_ids($1, $3::text, ${CANDIDATES}) s (id) WHERE $3::text IS NOT NULL)
      ORDER BY lower(d.title) LIKE $4 DESC, extensions.similarity(lower(d.title), $5) DESC, d.id LIMIT $6`,
      [businessId, ids, byText ? pattern : null, pattern.slice(1), term, limit],
    ),
    // A conversation matches by its contact or by a message's text; newest first.
    tx.query<{
      id: string;
      contact_id: string;
      contact_name: string;
      our_number: string;
      snippet: string | null;
    }>(
      `SELECT v.id, v.contact_id, btrim(c.first_name || ' ' || c.last_name) AS contact_name, v.our_number,
            (SELECT left(m.body, 140) FROM app.messages m
              WHERE m.business_id = v.business_id AND m.conversation_id = v.id AND lower(m.body) LIKE $3
              ORDER BY m.created_at DESC LIMIT 1) AS snippet
       FROM app.conversations v JOIN app.contacts c ON c.business_id = v.business_id AND c.id = v.contact_id
      WHERE v.business_id = $1 AND c.deleted_at IS NULL AND v.id IN (
        SELECT x.id FROM app.conversations x WHERE x.business_id = $1 AND x.contact_id = ANY ($2::uuid[])
        UNION SELECT s.id FROM app.conversation_search_ids($1, $3::text, ${CANDIDATES}) s (id) WHERE $3::text IS NOT NULL)
      ORDER BY v.last_message_at DESC NULLS LAST, v.id LIMIT $4`,
      [businessId, ids, byText ? pattern : null, limit],
    ),
  ]);
  return {
    contacts,
    deals: deals.rows.map((d) => ({ ...d, amount_cents: Number(d.amount_cents) })),
    conversations: conversations.rows,
  };
}
