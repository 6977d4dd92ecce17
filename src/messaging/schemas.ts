// Zod schemas of the messaging API: conversations, their messages and the inbox query.
// Paging shapes are the CRM's (src/crm/schemas.ts), so every list pages the same way.
import { z } from 'zod';
import { boolQuery, pageQuery, uuid } from '../crm/schemas.ts';

const ts = z.string();
/** AI intent labels of inbound texts (docs/ARCHITECTURE.md §23). */
export const intentSchema = z.enum([
  'wants_to_apply',
  'question',
  'document_sent',
  'schedule_call',
  'not_interested',
  'wrong_number',
  'other',
]);
const nullableTs = z.string().nullable();

export const conversationSchema = z.object({
  id: z.string(),
  business_id: z.string(),
  contact_id: z.string(),
  contact_name: z.string(),
  contact_phone: z.string().nullable(),
  our_number: z.string(),
  last_message_at: nullableTs,
  last_message_preview: z.string().nullable(),
  unread_count: z.number(),
  opted_out: z.boolean().describe('the contact texted STOP to our_number; sending is refused until START'),
  intent: intentSchema
    .nullable()
    .describe("the AI intent label of the contact's newest labelled inbound text (null: none yet or no AI)"),
  created_at: ts,
});
export const messageSchema = z.object({
  id: z.string(),
  conversation_id: z.string(),
  direction: z.enum(['inbound', 'outbound']),
  body: z.string(),
  status: z.string(),
  sender_user_id: z.string().nullable(),
  error_code: z.string().nullable(),
  created_at: ts,
  sent_at: nullableTs,
  delivered_at: nullableTs,
  read_at: nullableTs,
  intent: intentSchema.nullable().describe('AI intent label of an inbound text (a label only: never changes consent)'),
});
export const conversationQuery = pageQuery.extend({
  contact_id: uuid.optional(),
  unread: boolQuery.optional(),
  intent: intentSchema.optional().describe('only conversations whose newest labelled inbound text has this intent'),
});
