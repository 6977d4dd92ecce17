// The outbox's email driver (docs/ARCHITECTURE.md §24 "Email"): 1:1 emails
// (app.contact_emails, whose id is the outbox row's) through the business's sender —
// SMTP or Gmail (src/integrations/email/deliver.ts). Campaign emails are outbox rows too,
// delivered in batches by the campaign drain (src/outreach/dispatcher.ts) with the same
// point of no return and the same reconcile rule:
//   * the attempt records `committed_at` (src/messaging/commit-marks.ts) just before the
//     provider can have the message — SMTP: the whole message written, only the dot left;
//   * a row found `sending` after its lease without the mark was never delivered: resent;
//   * with the mark: Gmail is asked (rfc822msgid: search of the mailbox); SMTP cannot be
//     asked, so the row fails as "outcome unknown" for review — never sent twice.
import type { Database, Tx } from '../db/index.ts';
import { EmailDeliveryError, type EmailDelivery } from '../integrations/email/deliver.ts';
import type { CommitMarks } from '../messaging/commit-marks.ts';
import type { OutboxDriver, OutboxRow, SendOutcome } from '../messaging/outbox.ts';
import { reserveSendSlots, throttleKey } from '../messaging/send-throttles.ts';
import { markdownToHtml } from './merge.ts';
import { commercialParts, type UnsubscribeTokens } from './unsubscribe.ts';

const REASONS: Record<string, string> = {
  outcome_unknown:
    'outcome unknown: the message was handed to the mail server but its answer never came; not resent, so it is never sent twice — check with the recipient',
  email_suppressed: 'the address is suppressed (unsubscribed or bounced)',
  no_postal_address: 'automated email needs the business postal address (Settings → General)',
  sender_removed: 'the email sender was removed',
  message_gone: 'the message was deleted',
};

export function createEmailDriver(deps: {
  db: Database;
  email: EmailDelivery;
  marks: CommitMarks;
  /** Automated (commercial) email gets the campaign footer and one-click unsubscribe (§25 `send_email`). */
  tokens: UnsubscribeTokens;
  publicUrl: string;
  /** Honour each sender's rate_per_second (CAPTO_OUTBOX_CAP=off: benchmarks and tests only). */
  cap?: boolean;
}): OutboxDriver {
  const { db } = deps;
  const load = (row: OutboxRow) =>
    db.asService('outbox.email.load', async (tx) => {
      const r = await tx.query<{
        to_address: string;
        subject: string;
        body: string;
        sender_id: string | null;
        suppressed: boolean;
        automated: boolean;
        contact_id: string;
        business_name: string;
        postal_address: string | null;
      }>(
        `SELECT e.to_address, e.subject, e.body, e.sender_id, e.automated, e.contact_id,
                b.name AS business_name, b.postal_address,
                EXISTS (SELECT 1 FROM app.email_suppressions s
                         WHERE s.business_id = e.business_id AND s.email = lower(e.to_address)) AS suppressed
           FROM app.contact_emails e JOIN app.businesses b ON b.id = e.business_id
          WHERE e.business_id = $1 AND e.id = $2`,
        [row.business_id, row.id],
      );
      return r.rows[0];
    });

  return {
    channel: 'email',

    async reserveSlot(tx, row) {
      if (deps.cap === false) return 0;
      const s = await tx.query<{ rate: number }>(
        'SELECT rate_per_second AS rate FROM app.email_senders WHERE business_id = $1 AND id = $2',
        [row.business_id, row.sender_id],
      );
      const rate = s.rows[0]?.rate;
      if (!rate) return 0; // the sender is gone: send() fails the message
      // The sender's next free slot, shared with its campaigns (key email:<sender>).
      return reserveSendSlots(tx, row.business_id, throttleKey('email', row.sender_id), rate);
    },

    async markSending(tx, row) {
      await tx.query(
        `UPDATE app.contact_emails SET status = 'sending', attempts = least(attempts + 1, 100), claimed_by = 'outbox',
                claimed_at = now(), updated_at = now()
          WHERE business_id = $1 AND id = $2 AND status IN ('queued', 'sending')`,
        [row.business_id, row.id],
      );
    },

    async send(row, timeoutMs): Promise<SendOutcome> {
      const m = await load(row);
      if (!m) return { kind: 'refused', code: 'message_gone' };
      if (!m.sender_id) return { kind: 'refused', code: 'sender_removed' };
      // An unsubscribe or bounce recorded since it was queued still wins.
      if (m.suppressed) return { kind: 'refused', code: 'email_suppressed' };
      let mail = { id: row.id, to: m.to_address, subject: m.subject, text: m.body, html: markdownToHtml(m.body) };
      if (m.automated) {
        // Commercial mail: the campaign footer and one-click unsubscribe; a person's 1:1 email has none.
        if (!m.postal_address) return { kind: 'refused', code: 'no_postal_address' };
        const parts = commercialParts(deps.tokens, deps.publicUrl, {
          businessId: row.business_id,
          contactId: m.contact_id,
          address: m.to_address,
          businessName: m.business_name,
          postalAddress: m.postal_address,
        });
        mail = Object.assign(mail, {
          text: mail.text + parts.footerText,
          html: mail.html + parts.footerHtml,
          headers: parts.headers,
        });
      }
      try {
        const out = await deps.email.send(row.business_id, m.sender_id, mail, {
          beforeEnd: () => deps.marks.mark(row.id, row.attempts, timeoutMs),
          timeoutMs,
        });
        return { kind: 'accepted', providerId: out.providerId, status: 'sent' };
      } catch (e) {
        if (!(e instanceof EmailDeliveryError)) throw e;
        // Not ours any more (another attempt took over), or no answer past the point of no return.
        if (e.code === 'fenced' || e.unknown) return { kind: 'unknown', code: e.code };
        if (e.permanent) return { kind: 'refused', code: e.code.slice(0, 40) };
        return { kind: 'retry', code: e.code.slice(0, 40) };
      }
    },

    async reconcile(row, _since, timeoutMs) {
      // The last attempt never reached its point of no return: nothing was delivered.
      if (!row.committed_at) return undefined;
      const kind = await deps.email.kindOf(row.business_id, row.sender_id);
      if (kind === undefined) return { kind: 'refused', code: 'sender_removed' };
      if (kind === 'smtp') return { kind: 'refused', code: 'outcome_unknown' };
      const found = await deps.email.findSent(row.business_id, row.sender_id, row.id, timeoutMs);
      return found ? { kind: 'accepted', providerId: found, status: 'sent' } : undefined;
    },

    async record(tx, row, outcome) {
      if (outcome.kind === 'accepted') {
        await tx.query(
          `UPDATE app.contact_emails SET status = 'sent', reason = NULL, provider_id = $3, sent_at = now(), updated_at = now()
            WHERE business_id = $1 AND id = $2`,
          [row.business_id, row.id, outcome.providerId.slice(0, 200)],
        );
        return;
      }
      await tx.query(
        `UPDATE app.contact_emails SET status = 'failed', reason = $3, updated_at = now() WHERE business_id = $1 AND id = $2`,
        [row.business_id, row.id, (REASONS[outcome.code] ?? `the server refused it (${outcome.code})`).slice(0, 300)],
      );
      if (/^smtp_5\d\d$|^rejected$/.test(outcome.code)) await bounce(tx, row, outcome.code);
    },
  };
}

/** SMTP 5xx at send time: a hard bounce, suppressed for every later send. */
async function bounce(tx: Tx, row: OutboxRow, code: string): Promise<void> {
  await tx.query(
    `INSERT INTO app.email_suppressions (business_id, email, reason, detail, contact_id)
     SELECT business_id, lower(to_address), 'hard_bounce', $3, contact_id FROM app.contact_emails
      WHERE business_id = $1 AND id = $2
     ON CONFLICT DO NOTHING`,
    [row.business_id, row.id, `bounced (${code})`],
  );
}
