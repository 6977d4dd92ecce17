// Reading conversations and messages (sending is the messaging module's). One
// conversation per contact and Twilio number; `unread_count` is kept by the inbound
// webhook and cleared here when a member opens the conversation.
import type { Tx } from '../db/index.ts';
import { notFound } from '../shared/errors.ts';
import { decodeCursor, isoSql, page } from '../crm/cursor.ts';
import type { z } from 'zod';
import type { intentSchema } from './schemas.ts';

type Intent = z.infer<typeof intentSchema>;

export interface Conversation {
  id: string;
  business_id: string;
  contact_id: string;
  contact_name: string;
  contact_phone: string | null;
  our_number: string;
  last_message_at: string | null;
  last_message_preview: string | null;
  unread_count: number;
  /** the contact texted STOP to our_number: sending is refused until START */
  opted_out: boolean;
  /** AI intent of the newest labelled inbound text (docs/ARCHITECTURE.md §23) */
  intent: Intent | null;
  created_at: string;
}

export interface Message {
  id: string;
  conversation_id: string;
  direction: 'inbound' | 'outbound';
  body: string;
  status: string;
  sender_user_id: string | null;
  error_code: string | null;
  created_at: string;
  sent_at: string | null;
  delivered_at: string | null;
  read_at: string | null;
  intent: Intent | null;
}

// Conversations without a message yet sort as oldest ('-infinity'), keeping the key total.
const RECENCY = `coalesce(v.last_message_at, '-infinity'::timestamptz)`;
// The intent label of the conversation's newest labelled inbound text.
const INTENT = `(SELECT i.intent FROM app.message_intents i JOIN app.messages m ON m.business_id = i.business_id AND m.id = i.message_id
    WHERE i.business_id = v.business_id AND m.conversation_id = v.id ORDER BY m.created_at DESC, m.id DESC LIMIT 1)`;
// Rows come back in the API's shape: timestamps written by the database (`isoSql`, docs/ARCHITECTURE.md §3).
const CONVERSATION_COLUMNS = `v.id, v.business_id, v.contact_id, btrim(c.first_name || ' ' || c.last_name) AS contact_name,
  c.phone AS contact_phone, v.our_number, ${isoSql('v.last_message_at')} AS last_message_at, v.unread_count,
  ${isoSql('v.created_at')} AS created_at,
  EXISTS (SELECT 1 FROM app.sms_opt_outs o WHERE o.business_id = v.business_id AND o.contact_id = v.contact_id
    AND o.our_number = v.our_number) AS opted_out,
  (SELECT left(m.body, 140) FROM app.messages m WHERE m.business_id = v.business_id AND m.conversation_id = v.id
    ORDER BY m.created_at DESC, m.id DESC LIMIT 1) AS last_message_preview,
  ${INTENT} AS intent`;
const FROM = 'app.conversations v JOIN app.contacts c ON c.business_id = v.business_id AND c.id = v.contact_id';

export async function listConversations(
  tx: Tx,
  businessId: string,
  query: { limit: number; cursor?: string; contact_id?: string; unread?: boolean; intent?: Intent },
): Promise<{ items: Conversation[]; next_cursor: string | null; unread_total: number }> {
  const params: unknown[] = [businessId];
  const p = (v: unknown) => `$${params.push(v)}`;
  const where = ['v.business_id = $1', 'c.deleted_at IS NULL'];
  if (query.contact_id) where.push(`v.contact_id = ${p(query.contact_id)}::uuid`);
  if (query.unread) where.push('v.unread_count > 0');
  if (query.intent) where.push(`${INTENT} = ${p(query.intent)}`);
  const cursor = decodeCursor(query.cursor, 2);
  if (cursor) where.push(`(${RECENCY}, v.id) < (${p(cursor[0])}::timestamptz, ${p(cursor[1])}::uuid)`);
  const r = await tx.query<Conversation & { k: string }>(
    `SELECT ${CONVERSATION_COLUMNS}, ${RECENCY}::text AS k FROM ${FROM} WHERE ${where.join(' AND ')}
      ORDER BY ${RECENCY} DESC, v.id DESC LIMIT ${p(query.limit + 1)}`,
    params,
    { prepared: true }, // the inbox; a bounded set of texts (filters × cursor)
  );
  const total = await tx.query<{ n: string }>(
    `SELECT coalesce(sum(v.unread_count), 0) AS n FROM ${FROM} WHERE v.business_id = $1 AND c.deleted_at IS NULL`,
    [businessId],
    { prepared: true },
  );
  const out = page(r.rows, query.limit, (row) => [row.k, row.id]);
  return {
    items: out.items.map(({ k: _k, ...row }) => row),
    next_cursor: out.next_cursor,
    unread_total: Number(total.rows[0]?.n ?? 0),
  };
}

export async function getConversation(tx: Tx, businessId: string, id: string): Promise<Conversation> {
  const r = await tx.query<Conversation>(
    `SELECT ${CONVERSATION_COLUMNS} FROM ${FROM} WHERE v.business_id = $1 AND v.id = $2`,
    [businessId, id],
    { prepared: true },
  );
  if (!r.rows[0]) throw notFound('conversation');
  return r.rows[0];
}

/** Messages of a conversation, newest first (the client reverses for display), keyset-paged. */
export async function listMessages(
  tx: Tx,
  businessId: string,
  conversationId: string,
  query: { limit: number; cursor?: string },
): Promise<{ items: Message[]; next_cursor: string | null }> {
  await getConversation(tx, businessId, conversationId);
  const params: unknown[] = [businessId, conversationId];
  let keyset = '';
  const cursor = decodeCursor(query.cursor, 2);
  if (cursor) {
    params.push(cursor[0], cursor[1]);
    keyset = 'AND (m.created_at, m.id) < ($3::timestamptz, $4::uuid)';
  }
  params.push(query.limit + 1);
  const r = await tx.query<Message & { k: string }>(
    `SELECT m.id, m.conversation_id, m.direction, m.body, m.status, m.sender_user_id, m.error_code,
            ${isoSql('m.created_at')} AS created_at, ${isoSql('m.sent_at')} AS sent_at,
            ${isoSql('m.delivered_at')} AS delivered_at, ${isoSql('m.read_at')} AS read_at, m.created_at::text AS k,
            (SELECT i.intent FROM app.message_intents i WHERE i.business_id = m.business_id AND i.message_id = m.id) AS intent
       FROM app.messages m WHERE m.business_id = $1 AND m.conversation_id = $2 ${keyset}
      ORDER BY m.created_at DESC, m.id DESC LIMIT $${params.length}`,
    params,
    { prepared: true }, // an open thread; with or without the cursor
  );
  const out = page(r.rows, query.limit, (row) => [row.k, row.id]);
  return {
    items: out.items.map(({ k: _k, ...m }) => m),
    next_cursor: out.next_cursor,
  };
}

/** Mark every inbound message read and clear the unread count, in one transaction. */
export async function markConversationRead(tx: Tx, businessId: string, conversationId: string): Promise<Conversation> {
  const r = await tx.query('UPDATE app.conversations SET unread_count = 0 WHERE business_id = $1 AND id = $2', [
    businessId,
    conversationId,
  ]);
  if (r.rowCount === 0) throw notFound('conversation');
  await tx.query(
    `UPDATE app.messages SET read_at = now()
      WHERE business_id = $1 AND conversation_id = $2 AND direction = 'inbound' AND read_at IS NULL`,
    [businessId, conversationId],
  );
  return getConversation(tx, businessId, conversationId);
}
