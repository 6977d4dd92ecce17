// Twilio webhooks: inbound SMS and delivery status callbacks. Each
// configuration has its own URL, and the request must carry a valid X-Twilio-Signature
// under THAT configuration's token — checked before anything is stored. Everything
// else (unknown configuration, bad signature, missing header) is the same 403, so the
// endpoint is no oracle for which configuration ids exist.
import type { Tx } from '../db/index.ts';
import { AppError } from '../shared/errors.ts';
import { toStorableText } from '../shared/text.ts';
import { loadTwilioCredentials, type TwilioCredentials } from '../integrations/twilio/configs.ts';
import { isValidTwilioSignature, type FormParams } from '../integrations/twilio/signature.ts';
import type { MessagingDeps } from './send.ts';
import { ADVANCE_STATUS_SQL, fromTwilioStatus, STATUS_RANK } from './status.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const E164 = /^\+[1-9]\d{6,14}$/;
const MESSAGE_SID = /^(SM|MM)[0-9a-f]{32}$/i;

// CTIA / Twilio default opt-out and opt-in keywords: the whole message is the keyword.
// REVOKE and OPTOUT are Twilio's since the FCC's 2025 revocation rule.
const OPT_OUT = new Set(['STOP', 'STOPALL', 'UNSUBSCRIBE', 'CANCEL', 'END', 'QUIT', 'REVOKE', 'OPTOUT']);
const OPT_IN = new Set(['START', 'YES', 'UNSTOP']);
const HELP = new Set(['HELP', 'INFO']);

/**
 * The keyword a message would be: upper-cased, with every space, hyphen and punctuation
 * mark dropped, so "Stop." "STOP!" "opt-out" and "stop all" count as the keyword a phone's
 * keyboard turned them from — and "stop please" stays an ordinary reply (STOPPLEASE).
 */
export const keywordOf = (body: string): string =>
  body
    .normalize('NFKC')
    .toUpperCase()
    .replace(/[^\p{L}\p{N}]+/gu, '');

export interface SignedWebhook {
  configId: string;
  /** The public URL Twilio called: CAPTO_PUBLIC_URL + the request's path and query, never the Host header. */
  url: string;
  signature: string | undefined;
  params: FormParams;
}

export const invalidSignature = () => new AppError('invalid_signature', 'the request signature is not valid');

const single = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);

/** Load the configuration and check the signature; throws the uniform 403 otherwise. */
async function authenticate(tx: Tx, deps: MessagingDeps, hook: SignedWebhook): Promise<TwilioCredentials> {
  if (!UUID.test(hook.configId)) throw invalidSignature();
  const creds = await loadTwilioCredentials(tx, deps.vault, hook.configId.toLowerCase());
  if (!creds || !isValidTwilioSignature(creds.authToken, hook.signature, hook.url, hook.params))
    throw invalidSignature();
  return creds;
}

export type InboundOutcome = 'stored' | 'duplicate' | 'opted_out' | 'opted_in' | 'help';

export async function receiveInboundSms(deps: MessagingDeps, hook: SignedWebhook): Promise<InboundOutcome> {
  let stored: { business_id: string; message_id: string } | undefined;
  const outcome = await deps.db.asService('messaging.webhook.sms', async (tx): Promise<InboundOutcome> => {
    const creds = await authenticate(tx, deps, hook);
    const sid = single(hook.params.MessageSid);
    const from = single(hook.params.From);
    // Twilio retries on any 5xx, so text the database cannot store (U+0000, lone
    // surrogates) is stripped here, after the signature was checked over the raw form.
    const body = toStorableText((single(hook.params.Body) ?? '').slice(0, 1600));
    if (!sid || !MESSAGE_SID.test(sid) || !from || !E164.test(from)) {
      throw new AppError('validation_failed', 'MessageSid and an E.164 From are required');
    }
    const bid = creds.businessId;
    // Twilio retries webhooks: the same MessageSid is stored once.
    const dup = await tx.query('SELECT 1 FROM app.messages WHERE business_id = $1 AND twilio_sid = $2', [bid, sid]);
    if (dup.rowCount > 0) return 'duplicate';

    const contactId = await contactByPhone(tx, bid, from);
    const conv = await tx.query<{ id: string }>(
      `INSERT INTO app.conversations (business_id, contact_id, our_number, twilio_config_id) VALUES ($1, $2, $3, $4)
       ON CONFLICT (business_id, contact_id, our_number)
       DO UPDATE SET twilio_config_id = coalesce(app.conversations.twilio_config_id, EXCLUDED.twilio_config_id)
       RETURNING id`,
      [bid, contactId, creds.phoneNumber, creds.configId],
    );
    const conversationId = conv.rows[0]!.id;
    const inserted = await tx.query<{ id: string }>(
      `INSERT INTO app.messages (business_id, conversation_id, direction, body, status, twilio_sid)
       VALUES ($1, $2, 'inbound', $3, 'received', $4) ON CONFLICT (business_id, twilio_sid) DO NOTHING
       RETURNING id`,
      [bid, conversationId, body, sid],
    );
    if (inserted.rowCount === 0) return 'duplicate'; // a concurrent retry won
    await tx.query(
      'UPDATE app.conversations SET last_message_at = now(), unread_count = unread_count + 1 WHERE business_id = $1 AND id = $2',
      [bid, conversationId],
    );

    const keyword = keywordOf(body);
    if (OPT_OUT.has(keyword)) {
      await tx.query(
        `INSERT INTO app.sms_opt_outs (business_id, contact_id, our_number, keyword) VALUES ($1, $2, $3, $4)
         ON CONFLICT (business_id, contact_id, our_number) DO UPDATE SET keyword = EXCLUDED.keyword, opted_out_at = now()`,
        [bid, contactId, creds.phoneNumber, keyword],
      );
      await contactEvent(tx, bid, contactId, 'opted_out', { our_number: creds.phoneNumber, keyword, message_sid: sid });
      return 'opted_out';
    }
    if (OPT_IN.has(keyword)) {
      const lifted = await tx.query(
        'DELETE FROM app.sms_opt_outs WHERE business_id = $1 AND contact_id = $2 AND our_number = $3',
        [bid, contactId, creds.phoneNumber],
      );
      if (lifted.rowCount > 0)
        await contactEvent(tx, bid, contactId, 'opted_in', {
          our_number: creds.phoneNumber,
          keyword,
          message_sid: sid,
        });
      return 'opted_in';
    }
    // HELP is recorded as the message itself; Twilio's Advanced Opt-Out sends the help reply.
    if (HELP.has(keyword)) return 'help';
    stored = { business_id: bid, message_id: inserted.rows[0]!.id };
    return 'stored';
  });
  if (stored && deps.afterInboundStored) {
    await deps
      .afterInboundStored(stored)
      .catch((err: unknown) =>
        deps.logger.warn({ err, business_id: stored!.business_id }, 'could not enqueue the intent of an inbound text'),
      );
  }
  return outcome;
}

/**
 * A status callback. Its URL carries our id of what was sent — `m` a conversation's
 * message, `r` a campaign recipient (the same id as its outbox row) — which the signature
 * covers, so a callback that overtakes the send's own bookkeeping still finds its row.
 */
export async function receiveStatusCallback(
  deps: MessagingDeps,
  hook: SignedWebhook,
  ours: { message?: string; recipient?: string },
): Promise<'advanced' | 'ignored'> {
  const ourMessageId = ours.message;
  return deps.db.asService('messaging.webhook.status', async (tx) => {
    const creds = await authenticate(tx, deps, hook);
    const sid = single(hook.params.MessageSid);
    const status = fromTwilioStatus(single(hook.params.MessageStatus) ?? single(hook.params.SmsStatus));
    if (!sid || !MESSAGE_SID.test(sid) || !status) return 'ignored';
    const rawErrorCode = single(hook.params.ErrorCode);
    const errorCode = rawErrorCode === undefined ? null : toStorableText(rawErrorCode.slice(0, 40));
    // Find the message by Twilio's SID, or by our id from the StatusCallback URL when
    // the callback overtook the send's own bookkeeping (its SID is not stored yet).
    const found = await tx.query<{ id: string }>(
      `SELECT id FROM app.messages
        WHERE business_id = $1 AND direction = 'outbound'
          AND (twilio_sid = $2 OR ($3::uuid IS NOT NULL AND id = $3::uuid AND twilio_sid IS NULL))
        LIMIT 1`,
      [creds.businessId, sid, ourMessageId && UUID.test(ourMessageId) ? ourMessageId : null],
    );
    const id = found.rows[0]?.id;
    if (!id) {
      // A campaign text (src/outreach/dispatcher.ts): its recipient row holds the SID.
      // Only the final outcome moves it, and only forward from 'sent'.
      if (status !== 'delivered' && status !== 'undelivered' && status !== 'failed') return 'ignored';
      // The final status came before the send recorded its SID (Twilio's answer is slow,
      // or was lost and the send is in doubt): Twilio has the message, so the send is
      // adopted here — the outbox row leaves 'sending', which the sender's own record and
      // any in-doubt retry respect (they only settle rows still 'sending'): sent once,
      // and the final status below is not lost.
      if (ours.recipient && UUID.test(ours.recipient)) {
        const adopted = await tx.query(
          `UPDATE app.outbox x
              SET state = 'sent', provider_id = $3, error_code = NULL, lease_until = NULL, sent_at = now(), updated_at = now()
            WHERE x.business_id = $1 AND x.id = $2::uuid AND x.campaign_id IS NOT NULL AND x.state = 'sending'
           RETURNING x.id`,
          [creds.businessId, ours.recipient, sid],
        );
        if (adopted.rowCount > 0)
          await tx.query(
            `UPDATE app.campaign_recipients
                SET status = 'sent', provider_id = $3, sent_at = now(), updated_at = now()
              WHERE business_id = $1 AND id = $2::uuid AND status IN ('queued', 'sending')`,
            [creds.businessId, ours.recipient, sid],
          );
      }
      const c = await tx.query(
        `UPDATE app.campaign_recipients
            SET status = CASE WHEN $3 = 'delivered' THEN 'delivered' ELSE 'failed' END,
                reason = CASE WHEN $3 = 'delivered' THEN NULL ELSE 'Twilio ' || $3 || coalesce(' (error ' || $4 || ')', '') END,
                updated_at = now()
          WHERE business_id = $1 AND provider_id = $2 AND status = 'sent'`,
        [creds.businessId, sid, status, errorCode],
      );
      return c.rowCount > 0 ? 'advanced' : 'ignored';
    }
    await tx.query(
      'UPDATE app.messages SET twilio_sid = $3 WHERE id = $1 AND business_id = $2 AND twilio_sid IS NULL',
      [id, creds.businessId, sid],
    );
    const r = await tx.query(ADVANCE_STATUS_SQL, [id, creds.businessId, status, STATUS_RANK[status], errorCode]);
    return r.rowCount > 0 ? 'advanced' : 'ignored';
  });
}

async function contactByPhone(tx: Tx, bid: string, phone: string): Promise<string> {
  const find = () =>
    tx.query<{ id: string }>(
      'SELECT id FROM app.contacts WHERE business_id = $1 AND phone = $2 AND deleted_at IS NULL',
      [bid, phone],
    );
  const existing = await find();
  if (existing.rows[0]) return existing.rows[0].id;
  const created = await tx.query<{ id: string }>(
    `INSERT INTO app.contacts (business_id, phone, source) VALUES ($1, $2, 'sms')
     ON CONFLICT (business_id, phone) WHERE deleted_at IS NULL AND phone IS NOT NULL DO NOTHING RETURNING id`,
    [bid, phone],
  );
  if (created.rows[0]) {
    await contactEvent(tx, bid, created.rows[0].id, 'created', { source: 'sms' });
    return created.rows[0].id;
  }
  return (await find()).rows[0]!.id;
}

function contactEvent(tx: Tx, bid: string, contactId: string, kind: string, details: Record<string, string>) {
  return tx.query(
    'INSERT INTO app.contact_events (business_id, contact_id, kind, details) VALUES ($1, $2, $3, $4::jsonb)',
    [bid, contactId, kind, JSON.stringify(details)],
  );
}
