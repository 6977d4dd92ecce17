// Sending an SMS. Three short transactions around one network call, so
// no database lock is held while Twilio answers:
//   1. as the caller (RLS): check the conversation, opt-out and demo flag, pick the
//      configuration, and queue the message in her name;
//   2. as capto_service: decrypt that configuration's token (src/vault);
//   3. call Twilio, then as capto_service record Twilio's SID and status — or the
//      failure, with 21610 ("unsubscribed recipient") turned into an opt-out.
import type { Database, Tx } from '../db/index.ts';
import type { Logger } from '../observability/logger.ts';
import { AppError, notFound } from '../shared/errors.ts';
import type { Vault } from '../vault/secrets.ts';
import { TwilioApiError, type TwilioClient } from '../integrations/twilio/client.ts';
import { loadTwilioCredentials } from '../integrations/twilio/configs.ts';
import { twilioWebhookUrls } from '../integrations/twilio/signature.ts';
import { ADVANCE_STATUS_SQL, fromTwilioStatus, STATUS_RANK } from './status.ts';

export interface MessagingDeps {
  db: Database;
  vault: Vault;
  twilio: TwilioClient;
  publicUrl: string;
  logger: Logger;
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

/** Twilio error codes that mean "this recipient refuses texts from this number". */
const OPTED_OUT_CODES = new Set([21610]);

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
      contact_id: string;
      phone: string | null;
      our_number: string;
      twilio_config_id: string | null;
      is_demo: boolean;
      opted_out: boolean;
      deleted: boolean;
    }>(
      `SELECT v.contact_id, c.phone, v.our_number, v.twilio_config_id, b.is_demo, c.deleted_at IS NOT NULL AS deleted,
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
    const m = await tx.query<{ id: string }>(
      `INSERT INTO app.messages (business_id, conversation_id, direction, body, status, sender_user_id)
       VALUES ($1, $2, 'outbound', $3, 'queued', $4) RETURNING id`,
      [businessId, conversationId, body, user.userId],
    );
    return {
      messageId: m.rows[0]!.id,
      configId,
      to: conv.phone,
      contactId: conv.contact_id,
      ourNumber: conv.our_number,
    };
  });

  const creds = await deps.db.asService('messaging.send.credentials', (tx) =>
    loadTwilioCredentials(tx, deps.vault, queued.configId),
  );
  const finish = (status: string, extra: { sid?: string; errorCode?: string; optOut?: boolean }) =>
    deps.db.asService('messaging.send.result', async (tx) => {
      if (extra.sid)
        await tx.query(
          'UPDATE app.messages SET twilio_sid = $3 WHERE id = $1 AND business_id = $2 AND twilio_sid IS NULL',
          [queued.messageId, businessId, extra.sid],
        );
      const s = fromTwilioStatus(status) ?? 'queued';
      await tx.query(ADVANCE_STATUS_SQL, [queued.messageId, businessId, s, STATUS_RANK[s], extra.errorCode ?? null]);
      await tx.query(
        `UPDATE app.conversations SET last_message_at = now(), twilio_config_id = coalesce(twilio_config_id, $3)
          WHERE business_id = $1 AND id = $2`,
        [businessId, conversationId, queued.configId],
      );
      if (extra.optOut) {
        const ins = await tx.query(
          `INSERT INTO app.sms_opt_outs (business_id, contact_id, our_number, keyword) VALUES ($1, $2, $3, 'TWILIO_21610')
           ON CONFLICT (business_id, contact_id, our_number) DO NOTHING`,
          [businessId, queued.contactId, queued.ourNumber],
        );
        if (ins.rowCount === 1) {
          await tx.query(
            `INSERT INTO app.contact_events (business_id, contact_id, kind, details) VALUES ($1, $2, 'opted_out', $3::jsonb)`,
            [
              businessId,
              queued.contactId,
              JSON.stringify({ our_number: queued.ourNumber, source: 'twilio', error_code: '21610' }),
            ],
          );
        }
      }
    });

  if (!creds) {
    await finish('failed', { errorCode: 'no_config' });
    throw new AppError('no_twilio_config', 'the Twilio configuration of this conversation was removed');
  }
  try {
    const statusCallback = `${twilioWebhookUrls(deps.publicUrl, creds.configId).status}?m=${queued.messageId}`;
    const sent = await deps.twilio.sendMessage({
      accountSid: creds.accountSid,
      authToken: creds.authToken,
      from: creds.phoneNumber,
      to: queued.to,
      body,
      statusCallback,
    });
    await finish(sent.status, { sid: sent.sid });
  } catch (e) {
    if (e instanceof TwilioApiError) {
      const code = e.code !== null ? String(e.code) : `http_${e.httpStatus}`;
      const optedOut = e.code !== null && OPTED_OUT_CODES.has(e.code);
      await finish('failed', { errorCode: code, optOut: optedOut });
      deps.logger.warn(
        { business_id: businessId, message_id: queued.messageId, twilio_code: e.code, http_status: e.httpStatus },
        'twilio refused a message',
      );
      // Do not retry a refusal: 21610 will refuse again until the recipient texts START.
      if (optedOut)
        throw new AppError(
          'contact_opted_out',
          'this contact has opted out of texts from this number (Twilio error 21610)',
        );
      throw new AppError('twilio_error', `Twilio refused the message (error ${code})`, {
        details: { twilio_code: e.code },
      });
    }
    if (e instanceof AppError && e.code === 'twilio_unreachable')
      await finish('failed', { errorCode: 'twilio_unreachable' });
    throw e;
  }

  return deps.db.asService('messaging.send.read', async (tx) => {
    const r = await tx.query<
      Omit<SentMessage, 'created_at' | 'sent_at' | 'delivered_at' | 'read_at'> & {
        created_at: Date;
        sent_at: Date | null;
        delivered_at: Date | null;
        read_at: Date | null;
      }
    >(
      `SELECT id, conversation_id, direction, body, status, sender_user_id, error_code, created_at, sent_at, delivered_at, read_at
         FROM app.messages WHERE id = $1 AND business_id = $2`,
      [queued.messageId, businessId],
    );
    const m = r.rows[0]!;
    const iso = (d: Date | null) => (d ? d.toISOString() : null);
    return {
      ...m,
      created_at: m.created_at.toISOString(),
      sent_at: iso(m.sent_at),
      delivered_at: iso(m.delivered_at),
      read_at: iso(m.read_at),
    };
  });
}

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
