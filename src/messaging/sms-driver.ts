// The outbox's SMS driver (docs/ARCHITECTURE.md §24): Twilio through the business's own
// configuration. Everything is re-read as capto_service at send time — the message, the
// contact's number, a STOP recorded since it was queued, the token from the vault.
import type { Database, Tx } from '../db/index.ts';
import { TwilioApiError, type TwilioClient } from '../integrations/twilio/client.ts';
import { loadTwilioCredentials } from '../integrations/twilio/configs.ts';
import { twilioWebhookUrls } from '../integrations/twilio/signature.ts';
import { nextSmsWindow } from '../shared/local-time.ts';
import { AppError } from '../shared/errors.ts';
import type { Vault } from '../vault/secrets.ts';
import type { OutboxDriver, OutboxRow, SendOutcome } from './outbox.ts';
import { reserveSendSlots, throttleKey } from './send-throttles.ts';
import { ADVANCE_STATUS_SQL, fromTwilioStatus, STATUS_RANK } from './status.ts';

/** Twilio error codes that mean "this recipient refuses texts from this number". */
const OPTED_OUT_CODE = 21610;
/** Twilio's "Too Many Requests": certainly not accepted. */
const TOO_MANY_REQUESTS = 20429;

interface SmsContext {
  body: string;
  to: string | null;
  contactId: string;
  ourNumber: string;
  optedOut: boolean;
  twilioSid: string | null;
}

async function readMessage(tx: Tx, row: OutboxRow): Promise<SmsContext | undefined> {
  const r = await tx.query<{
    body: string;
    phone: string | null;
    contact_id: string;
    our_number: string;
    opted_out: boolean;
    twilio_sid: string | null;
  }>(
    `SELECT m.body, c.phone, v.contact_id, v.our_number, m.twilio_sid,
            EXISTS (SELECT 1 FROM app.sms_opt_outs o
                     WHERE o.business_id = v.business_id AND o.contact_id = v.contact_id AND o.our_number = v.our_number) AS opted_out
       FROM app.messages m
       JOIN app.conversations v ON v.business_id = m.business_id AND v.id = m.conversation_id
       JOIN app.contacts c ON c.business_id = v.business_id AND c.id = v.contact_id
      WHERE m.business_id = $1 AND m.id = $2 AND m.direction = 'outbound'`,
    [row.business_id, row.id],
  );
  const m = r.rows[0];
  return m
    ? {
        body: m.body,
        to: m.phone,
        contactId: m.contact_id,
        ourNumber: m.our_number,
        optedOut: m.opted_out,
        twilioSid: m.twilio_sid,
      }
    : undefined;
}

export function createSmsDriver(deps: {
  db: Database;
  vault: Vault;
  twilio: TwilioClient;
  publicUrl: string;
  /** Honour each number's messages_per_second (CAPTO_OUTBOX_CAP=off: benchmarks and tests only). */
  cap?: boolean;
  /** CAPTO_SMS_QUIET_HOURS: the local hours an automated text may go out; null: any time. */
  smsWindow?: readonly [number, number] | null;
}): OutboxDriver {
  const { db } = deps;
  const load = (row: OutboxRow) =>
    db.asService('outbox.sms.load', async (tx) => ({
      message: await readMessage(tx, row),
      creds: await loadTwilioCredentials(tx, deps.vault, row.sender_id),
    }));

  return {
    channel: 'sms',

    async reserveSlot(tx, row) {
      if (deps.cap === false) return 0;
      // The number's next free slot in app.send_throttles (key sms:<configuration>), shared
      // with campaign delivery, so 1:1 texts and a campaign on one number share its rate.
      const cfg = await tx.query<{ rate: number }>(
        'SELECT messages_per_second AS rate FROM app.twilio_configs WHERE business_id = $1 AND id = $2',
        [row.business_id, row.sender_id],
      );
      const rate = cfg.rows[0]?.rate;
      if (!rate) return 0; // the configuration is gone: send() fails the message
      return reserveSendSlots(tx, row.business_id, throttleKey('sms', row.sender_id), rate);
    },

    async holdUntil(tx, row) {
      // An automated text (no person sent it) waits for the business's sending hours —
      // checked again here, not only when its step ran: an outage, a retry or a cap can
      // carry it past 21:00 (the TCPA window; docs/ARCHITECTURE.md §24). A person's own
      // text goes when she sends it.
      if (!deps.smsWindow) return null;
      const r = await tx.query<{ time_zone: string }>(
        `SELECT b.time_zone FROM app.messages m JOIN app.businesses b ON b.id = m.business_id
          WHERE m.business_id = $1 AND m.id = $2 AND m.sender_user_id IS NULL`,
        [row.business_id, row.id],
      );
      const zone = r.rows[0]?.time_zone;
      if (!zone) return null;
      const now = new Date();
      const opens = nextSmsWindow(deps.smsWindow, zone, now);
      return opens.getTime() > now.getTime() ? opens : null;
    },

    async markSending(tx, row) {
      await tx.query(ADVANCE_STATUS_SQL, [row.id, row.business_id, 'sending', STATUS_RANK.sending, null]);
    },

    async send(row, timeoutMs): Promise<SendOutcome> {
      const { message, creds } = await load(row);
      if (!message) return { kind: 'refused', code: 'message_gone' };
      if (!creds) return { kind: 'refused', code: 'no_twilio_config' };
      if (!message.to) return { kind: 'refused', code: 'invalid_phone' };
      // A STOP that arrived after the message was queued still wins (TCPA).
      if (message.optedOut) return { kind: 'refused', code: 'contact_opted_out' };
      try {
        const sent = await deps.twilio.sendMessage({
          accountSid: creds.accountSid,
          authToken: creds.authToken,
          from: creds.phoneNumber,
          to: message.to,
          body: message.body,
          statusCallback: `${twilioWebhookUrls(deps.publicUrl, creds.configId).status}?m=${row.id}`,
          timeoutMs,
        });
        return { kind: 'accepted', providerId: sent.sid, status: sent.status };
      } catch (e) {
        if (e instanceof TwilioApiError) {
          if (e.httpStatus === 429 || e.code === TOO_MANY_REQUESTS) return { kind: 'retry', code: 'twilio_429' };
          // A 5xx may come after Twilio queued the message: find out before sending again.
          if (e.httpStatus >= 500) return { kind: 'unknown', code: `twilio_http_${e.httpStatus}` };
          return { kind: 'refused', code: e.code !== null ? `twilio_${e.code}` : `twilio_http_${e.httpStatus}` };
        }
        // Unreachable or timed out: the request may have arrived.
        if (e instanceof AppError && e.code === 'twilio_unreachable') return { kind: 'unknown', code: e.code };
        throw e;
      }
    },

    async reconcile(row, since, timeoutMs) {
      const { message, creds } = await load(row);
      if (!message || !creds || !message.to) return undefined;
      // A status callback may have told us already (it carries our id).
      if (message.twilioSid) return { kind: 'accepted', providerId: message.twilioSid, status: 'queued' };
      const listed = await deps.twilio.listMessages({
        accountSid: creds.accountSid,
        authToken: creds.authToken,
        from: creds.phoneNumber,
        to: message.to,
        sentAfter: since,
        timeoutMs,
      });
      const candidates = listed.filter((m) => m.body === message.body && (!m.dateCreated || m.dateCreated >= since));
      if (candidates.length === 0) return undefined;
      // The same text to the same number may be several of our messages: take one no
      // other message of ours has claimed, oldest first.
      const taken = await db.asService('outbox.sms.reconcile', (tx) =>
        tx.query<{ twilio_sid: string }>(
          'SELECT twilio_sid FROM app.messages WHERE business_id = $1 AND twilio_sid = ANY ($2::text[])',
          [row.business_id, candidates.map((c) => c.sid)],
        ),
      );
      const used = new Set(taken.rows.map((t) => t.twilio_sid));
      const free = candidates.filter((c) => !used.has(c.sid)).reverse()[0];
      return free ? { kind: 'accepted', providerId: free.sid, status: free.status } : undefined;
    },

    async record(tx, row, outcome) {
      if (outcome.kind === 'accepted') {
        await tx.query(
          'UPDATE app.messages SET twilio_sid = $3 WHERE id = $1 AND business_id = $2 AND twilio_sid IS NULL',
          [row.id, row.business_id, outcome.providerId],
        );
        const s = fromTwilioStatus(outcome.status);
        if (s && STATUS_RANK[s] > STATUS_RANK.sending)
          await tx.query(ADVANCE_STATUS_SQL, [row.id, row.business_id, s, STATUS_RANK[s], null]);
      } else {
        await tx.query(ADVANCE_STATUS_SQL, [row.id, row.business_id, 'failed', STATUS_RANK.failed, outcome.code]);
        if (outcome.code === `twilio_${OPTED_OUT_CODE}`) await recordOptOut(tx, row);
      }
      await tx.query(
        `UPDATE app.conversations v SET last_message_at = now(), twilio_config_id = coalesce(v.twilio_config_id, $3)
          FROM app.messages m
         WHERE m.business_id = $1 AND m.id = $2 AND v.business_id = m.business_id AND v.id = m.conversation_id
           AND EXISTS (SELECT 1 FROM app.twilio_configs c WHERE c.business_id = $1 AND c.id = $3)`,
        [row.business_id, row.id, row.sender_id],
      );
    },
  };
}

/** Twilio refused with 21610: the recipient texted STOP to this number; remember it. */
async function recordOptOut(tx: Tx, row: OutboxRow): Promise<void> {
  const m = await readMessage(tx, row);
  if (!m) return;
  const ins = await tx.query(
    `INSERT INTO app.sms_opt_outs (business_id, contact_id, our_number, keyword) VALUES ($1, $2, $3, 'TWILIO_21610')
     ON CONFLICT (business_id, contact_id, our_number) DO NOTHING`,
    [row.business_id, m.contactId, m.ourNumber],
  );
  if (ins.rowCount === 1)
    await tx.query(
      `INSERT INTO app.contact_events (business_id, contact_id, kind, details) VALUES ($1, $2, 'opted_out', $3::jsonb)`,
      [
        row.business_id,
        m.contactId,
        JSON.stringify({ our_number: m.ourNumber, source: 'twilio', error_code: '21610' }),
      ],
    );
}
