// Sending an SMS (docs/ARCHITECTURE.md §24): ONE transaction as the caller (RLS) checks
// the conversation, the opt-out and the demo flag, picks the configuration, and writes the
// message (`queued`) with its outbox row; after the commit the delivery job is nudged. No
// network call happens in the request: the outbox driver (sms-driver.ts) sends it.
import { randomUUID } from 'node:crypto';
import type { Database, Tx } from '../db/index.ts';
import type { Logger } from '../observability/logger.ts';
import { isoSql } from '../crm/cursor.ts';
import { AppError, notFound } from '../shared/errors.ts';
import type { Vault } from '../vault/secrets.ts';
import type { TwilioClient } from '../integrations/twilio/client.ts';
import { nudgeDelivery, withOutbox, type OutboxNotifier } from './outbox.ts';

export interface MessagingDeps {
  db: Database;
  vault: Vault;
  twilio: TwilioClient;
  publicUrl: string;
  logger: Logger;
  /** Wakes the outbox delivery after a commit (src/jobs/outbox-deliver.ts). */
  outbox: OutboxNotifier;
  /**
   * Called after an inbound text was stored and committed (not STOP/START): the AI module
   * enqueues its intent job here (docs/ARCHITECTURE.md §23). Never blocks the webhook's answer
   * on a model; a failure to enqueue is logged, and the text stays unlabelled.
   */
  afterInboundStored?: (ids: { business_id: string; message_id: string }) => Promise<unknown>;
}

export interface SentMessage {
  id: string;
  conversation_id: string;
  direction: 'outbound';
  body: string;
  status: string;
  sender_user_id: string;
  error_code: string | null;
  created_at: string;
  sent_at: string | null;
  delivered_at: string | null;
  read_at: string | null;
}

/** Pick the configuration of a conversation: its own, else the one owning its number. */
async function configFor(
  tx: Tx,
  businessId: string,
  conv: { twilio_config_id: string | null; our_number: string },
): Promise<string | undefined> {
  const r = await tx.query<{ id: string }>(
    `SELECT id FROM app.twilio_configs WHERE business_id = $1 AND (id = $2 OR phone_number = $3)
      ORDER BY (id = $2) DESC NULLS LAST LIMIT 1`,
    [businessId, conv.twilio_config_id, conv.our_number],
  );
  return r.rows[0]?.id;
}

export async function sendConversationMessage(
  deps: MessagingDeps,
  userTx: <T>(fn: (tx: Tx) => Promise<T>) => Promise<T>,
  user: { userId: string },
  businessId: string,
  conversationId: string,
  body: string,
): Promise<SentMessage> {
  const queued = await userTx(async (tx) => {
    const r = await tx.query<{
      phone: string | null;
      our_number: string;
      twilio_config_id: string | null;
      is_demo: boolean;
      opted_out: boolean;
      deleted: boolean;
    }>(
      `SELECT c.phone, v.our_number, v.twilio_config_id, b.is_demo, c.deleted_at IS NOT NULL AS deleted,
              EXISTS (SELECT 1 FROM app.sms_opt_outs o WHERE o.business_id = v.business_id AND o.contact_id = v.contact_id AND o.our_number = v.our_number) AS opted_out
         FROM app.conversations v
         JOIN app.contacts c ON c.business_id = v.business_id AND c.id = v.contact_id
         JOIN app.businesses b ON b.id = v.business_id
        WHERE v.business_id = $1 AND v.id = $2`,
      [businessId, conversationId],
    );
    const conv = r.rows[0];
    if (!conv || conv.deleted) throw notFound('conversation');
    if (conv.is_demo) throw new AppError('demo_restricted', 'demo workspaces cannot send text messages');
    if (!conv.phone) throw new AppError('invalid_phone', 'this contact has no phone number');
    // Never text someone who said STOP to this number (TCPA; Twilio would refuse anyway).
    if (conv.opted_out) throw new AppError('contact_opted_out', 'this contact has opted out of texts from this number');
    const configId = await configFor(tx, businessId, conv);
    if (!configId)
      throw new AppError(
        'no_twilio_config',
        'no Twilio configuration sends from this conversation’s number; add one in Settings → Integrations',
      );
    // The message and its outbox row commit together, in the member's name (§23).
    const id = randomUUID();
    const m = await tx.query<SentMessage>(
      `INSERT INTO app.messages (id, business_id, conversation_id, direction, body, status, sender_user_id)
       VALUES ($1, $2, $3, 'outbound', $4, 'queued', $5) RETURNING ${MESSAGE_COLUMNS}`,
      [id, businessId, conversationId, body, user.userId],
    );
    await withOutbox(tx, { id, businessId, channel: 'sms', senderId: configId, createdBy: user.userId });
    return m.rows[0]!;
  });
  nudgeDelivery(deps.outbox, deps.logger, { id: queued.id, businessId });
  return queued;
}

/** The message as the API shows it; the database writes the timestamps (`isoSql`, docs/ARCHITECTURE.md §3). */
const MESSAGE_COLUMNS = `id, conversation_id, direction, body, status, sender_user_id, error_code,
  ${isoSql('created_at')} AS created_at, ${isoSql('sent_at')} AS sent_at,
  ${isoSql('delivered_at')} AS delivered_at, ${isoSql('read_at')} AS read_at`;

/** Open (or find) the conversation with a contact on a configuration's number. */
export async function openConversation(
  tx: Tx,
  businessId: string,
  input: { contact_id: string; twilio_config_id?: string },
): Promise<string> {
  const contact = await tx.query<{ phone: string | null }>(
    'SELECT phone FROM app.contacts WHERE business_id = $1 AND id = $2 AND deleted_at IS NULL',
    [businessId, input.contact_id],
  );
  if (!contact.rows[0]) throw notFound('contact');
  if (!contact.rows[0].phone) throw new AppError('invalid_phone', 'this contact has no phone number');
  const cfg = await tx.query<{ id: string; phone_number: string }>(
    input.twilio_config_id
      ? 'SELECT id, phone_number FROM app.twilio_configs WHERE business_id = $1 AND id = $2'
      : 'SELECT id, phone_number FROM app.twilio_configs WHERE business_id = $1 AND is_default',
    input.twilio_config_id ? [businessId, input.twilio_config_id] : [businessId],
  );
  const c = cfg.rows[0];
  if (!c)
    throw input.twilio_config_id
      ? notFound('Twilio configuration')
      : new AppError('no_twilio_config', 'add a Twilio configuration in Settings → Integrations first');
  const r = await tx.query<{ id: string }>(
    `INSERT INTO app.conversations (business_id, contact_id, our_number, twilio_config_id) VALUES ($1, $2, $3, $4)
     ON CONFLICT (business_id, contact_id, our_number) DO NOTHING RETURNING id`,
    [businessId, input.contact_id, c.phone_number, c.id],
  );
  if (r.rows[0]) return r.rows[0].id;
  const existing = await tx.query<{ id: string }>(
    'SELECT id FROM app.conversations WHERE business_id = $1 AND contact_id = $2 AND our_number = $3',
    [businessId, input.contact_id, c.phone_number],
  );
  return existing.rows[0]!.id;
}
