// The campaign dispatcher (docs/ARCHITECTURE.md "Campaigns: sending and exactly once").
// Runs on every node. Recipient rows are the durable work items; a recipient is sent by
// at most one node, at most once:
//
//   queued ──claim (UPDATE … WHERE status='queued' … FOR UPDATE SKIP LOCKED, committed)──▶ sending
//   sending ──provider accepted──▶ sent          sending ──permanent failure──▶ failed (reason)
//   sending ──temporary failure, attempts < 3──▶ queued (never reached the recipient)
//   sending, claim older than the lease (its node died mid-send) ──▶ failed "outcome unknown"
//
// A row is 'sending' only between the claim's commit and the result's commit, i.e. across
// exactly one network call. If the node dies there we cannot know whether the provider
// accepted the message, so the row is NOT retried (a retry could send twice): it is
// reported as failed with that reason (never skipped silently). Everything else survives
// crashes, restarts and any number of nodes: claims are row locks with SKIP LOCKED, and
// (campaign, contact) is the table's key, so a second start or a double click cannot
// create a second row.
import { randomUUID } from 'node:crypto';
import type { Database, Tx } from '../db/index.ts';
import type { Logger } from '../observability/logger.ts';
import type { EmailDelivery } from '../integrations/email/deliver.ts';
import { EmailDeliveryError } from '../integrations/email/deliver.ts';
import { TwilioApiError, type TwilioClient } from '../integrations/twilio/client.ts';
import { loadTwilioCredentials } from '../integrations/twilio/configs.ts';
import type { Vault } from '../vault/secrets.ts';
import { CONTEXT_SQL, contextFromRow } from './context.ts';
import { markdownEscape, markdownToHtml, renderEmail, renderSms } from './merge.ts';
import type { UnsubscribeTokens } from './unsubscribe.ts';

export interface DispatcherOptions {
  db: Database;
  vault: Vault;
  email: EmailDelivery;
  twilio: TwilioClient;
  tokens: UnsubscribeTokens;
  logger: Logger;
  publicUrl: string;
  /** Off only for benchmarks: sends as fast as the provider takes them. */
  throttle: boolean;
  /** [start, end) hour of the SMS sending window in the business's time zone, or null for none. */
  smsWindow: [number, number] | null;
  pollMs: number;
  /** A 'sending' row older than this belongs to a node that died mid-send. */
  leaseSeconds: number;
  /** Parallel sends per campaign on this node. */
  concurrency: number;
  nodeId?: string;
  now?: () => Date;
}

interface Active {
  id: string;
  business_id: string;
  channel: 'sms' | 'email';
  email_sender_id: string | null;
  twilio_config_id: string | null;
  subject: string | null;
  body: string;
  footer_address: string | null;
  started_by: string | null;
  time_zone: string;
  business_name: string;
}

interface Claimed {
  id: string;
  contact_id: string;
  address: string;
  attempts: number;
  suppressed: boolean;
  ctx: Parameters<typeof contextFromRow>[0];
}

const MAX_ATTEMPTS = 3;

/** The hour (0–23) it is now in a time zone. */
export function hourIn(timeZone: string, at: Date): number {
  const h = new Intl.DateTimeFormat('en-US', { timeZone, hour: 'numeric', hourCycle: 'h23' }).format(at);
  return Number(h);
}

export function inSmsWindow(window: [number, number] | null, timeZone: string, at: Date): boolean {
  if (!window) return true;
  const h = hourIn(timeZone, at);
  return h >= window[0] && h < window[1];
}

export function createCampaignDispatcher(o: DispatcherOptions) {
  const nodeId = o.nodeId ?? `node-${randomUUID().slice(0, 8)}`;
  const now = o.now ?? (() => new Date());
  const running = new Map<string, Promise<void>>();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let ticking: Promise<void> | undefined;
  const twilioCreds = new Map<string, { at: number; creds: Awaited<ReturnType<typeof loadTwilioCredentials>> }>();

  const service = <T>(what: string, fn: (tx: Tx) => Promise<T>) => o.db.asService(`campaigns.${what}`, fn);

  async function housekeeping(): Promise<void> {
    await service('housekeeping', async (tx) => {
      await tx.query(
        `UPDATE app.campaigns SET status = 'sending' WHERE status = 'scheduled' AND (send_at IS NULL OR send_at <= now())`,
      );
      await tx.query(
        `UPDATE app.campaign_recipients SET status = 'failed', updated_at = now(),
                reason = 'outcome unknown: the sending node stopped during this send; not retried, so it is never sent twice'
          WHERE status = 'sending' AND claimed_at < now() - make_interval(secs => $1)`,
        [o.leaseSeconds],
      );
      await tx.query(
        `UPDATE app.contact_emails SET status = 'failed', updated_at = now(),
                reason = 'outcome unknown: the sending node stopped during this send; not retried, so it is never sent twice'
          WHERE status = 'sending' AND claimed_at < now() - make_interval(secs => $1)`,
        [o.leaseSeconds],
      );
      await tx.query(
        `UPDATE app.campaign_recipients r SET status = 'skipped', reason = 'campaign cancelled', updated_at = now()
           FROM app.campaigns c
          WHERE c.business_id = r.business_id AND c.id = r.campaign_id AND c.status = 'cancelled' AND r.status = 'queued'`,
      );
      await tx.query(
        `UPDATE app.campaigns c SET status = 'completed', completed_at = now()
          WHERE c.status = 'sending' AND NOT EXISTS (
            SELECT 1 FROM app.campaign_recipients r
             WHERE r.business_id = c.business_id AND r.campaign_id = c.id AND r.status IN ('queued', 'sending'))`,
      );
    });
  }

  async function activeCampaigns(): Promise<Active[]> {
    return service('active', async (tx) => {
      const r = await tx.query<Active>(
        `SELECT c.id, c.business_id, c.channel, c.email_sender_id, c.twilio_config_id, c.subject, c.body,
                c.footer_address, c.started_by, b.time_zone, b.name AS business_name
           FROM app.campaigns c JOIN app.businesses b ON b.id = c.business_id
          WHERE c.status = 'sending' ORDER BY c.started_at LIMIT 50`,
      );
      return r.rows;
    });
  }

  /** Reserve this sender's next send slot (shared by all nodes); resolves when it is due. */
  async function throttleSlot(c: Active): Promise<void> {
    if (!o.throttle) return;
    const { key, rate } = await service('rate', async (tx) => {
      if (c.channel === 'email') {
        const r = await tx.query<{ rate_per_second: number }>(
          'SELECT rate_per_second FROM app.email_senders WHERE business_id = $1 AND id = $2',
          [c.business_id, c.email_sender_id],
        );
        return { key: `email:${c.email_sender_id}`, rate: r.rows[0]?.rate_per_second ?? 5 };
      }
      const r = await tx.query<{ messages_per_second: number }>(
        'SELECT messages_per_second FROM app.twilio_configs WHERE business_id = $1 AND id = $2',
        [c.business_id, c.twilio_config_id],
      );
      return { key: `sms:${c.twilio_config_id}`, rate: r.rows[0]?.messages_per_second ?? 1 };
    });
    const slot = await service('throttle', async (tx) => {
      const r = await tx.query<{ wait_ms: number }>(
        `INSERT INTO app.send_throttles AS t (business_id, key, next_at)
         VALUES ($1, $2, clock_timestamp() + make_interval(secs => 1.0 / $3))
         ON CONFLICT (business_id, key) DO UPDATE
           SET next_at = greatest(t.next_at, clock_timestamp()) + make_interval(secs => 1.0 / $3)
         RETURNING greatest(0, extract(epoch FROM (t.next_at - make_interval(secs => 1.0 / $3) - clock_timestamp())) * 1000)::float8 AS wait_ms`,
        [c.business_id, key, rate],
      );
      return Number(r.rows[0]!.wait_ms);
    });
    if (slot > 0) await new Promise((r) => setTimeout(r, slot));
  }

  async function claim(c: Active): Promise<Claimed | undefined | 'stop'> {
    return service('claim', async (tx) => {
      const r = await tx.query<{ id: string; contact_id: string; address: string; attempts: number }>(
        `WITH next AS (
           SELECT r.business_id, r.campaign_id, r.contact_id FROM app.campaign_recipients r
            WHERE r.campaign_id = $1 AND r.status = 'queued'
            ORDER BY r.contact_id LIMIT 1 FOR UPDATE SKIP LOCKED)
         UPDATE app.campaign_recipients r
            SET status = 'sending', claimed_by = $2, claimed_at = now(), updated_at = now(), attempts = r.attempts + 1
           FROM next
          WHERE r.business_id = next.business_id AND r.campaign_id = next.campaign_id AND r.contact_id = next.contact_id
            AND EXISTS (SELECT 1 FROM app.campaigns c WHERE c.id = $1 AND c.status = 'sending')
         RETURNING r.id, r.contact_id, r.address, r.attempts`,
        [c.id, nodeId],
      );
      const got = r.rows[0];
      if (!got) return undefined;
      // Honour every later unsubscribe, bounce or STOP, up to the moment of sending.
      const sup = await tx.query<{ why: string | null }>(
        c.channel === 'email'
          ? `SELECT reason AS why FROM app.email_suppressions WHERE business_id = $1 AND email = $2`
          : `SELECT 'opted_out' AS why FROM app.sms_opt_outs o JOIN app.twilio_configs t
               ON t.business_id = o.business_id AND t.phone_number = o.our_number
              WHERE o.business_id = $1 AND o.contact_id = $2 AND t.id = $3`,
        c.channel === 'email' ? [c.business_id, got.address] : [c.business_id, got.contact_id, c.twilio_config_id],
      );
      if (sup.rows[0]) {
        await tx.query(
          `UPDATE app.campaign_recipients SET status = 'skipped', reason = $2, updated_at = now() WHERE id = $1`,
          [got.id, sup.rows[0].why === 'opted_out' ? 'opted_out' : sup.rows[0].why],
        );
        return { ...got, suppressed: true, ctx: undefined as never };
      }
      const ctx = await tx.query<Claimed['ctx']>(CONTEXT_SQL, [c.business_id, got.contact_id, c.started_by]);
      if (!ctx.rows[0]) {
        await tx.query(
          `UPDATE app.campaign_recipients SET status = 'skipped', reason = 'contact deleted', updated_at = now() WHERE id = $1`,
          [got.id],
        );
        return { ...got, suppressed: true, ctx: undefined as never };
      }
      return { ...got, suppressed: false, ctx: ctx.rows[0] };
    });
  }

  async function record(
    id: string,
    outcome:
      | { status: 'sent'; providerId: string }
      | { status: 'failed'; reason: string }
      | { status: 'queued'; reason: string },
  ): Promise<void> {
    await service('record', (tx) =>
      tx.query(
        `UPDATE app.campaign_recipients
            SET status = $3, reason = $4, provider_id = $5, sent_at = CASE WHEN $3 = 'sent' THEN now() END, updated_at = now()
          WHERE id = $1 AND status = 'sending' AND claimed_by = $2`,
        [
          id,
          nodeId,
          outcome.status,
          outcome.status === 'sent' ? null : outcome.reason.slice(0, 300),
          outcome.status === 'sent' ? outcome.providerId.slice(0, 200) : null,
        ],
      ),
    );
  }

  function emailFor(c: Active, r: Claimed) {
    const ctx = contextFromRow(r.ctx);
    const rendered = renderEmail({ subject: c.subject ?? '', body: c.body }, ctx);
    const url = `${o.publicUrl}/u/${o.tokens.sign({ businessId: c.business_id, contactId: r.contact_id, channel: 'email' })}`;
    const footerText = `\n\n--\n${c.business_name}\n${c.footer_address ?? ''}\nUnsubscribe: ${url}\n`;
    const footerHtml = markdownToHtml(
      `---\n\n${markdownEscape(c.business_name)}  \n${markdownEscape(c.footer_address ?? '')}\n\n[Unsubscribe](${url})`,
    );
    return {
      id: r.id,
      to: r.address,
      subject: rendered.subject,
      text: rendered.text + footerText,
      html: `${rendered.html}<div class="capto-footer">${footerHtml}</div>`,
      headers: {
        'List-Unsubscribe': `<${url}>`,
        'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
        'X-Capto-Campaign': c.id,
      },
    };
  }

  async function sendEmail(c: Active, r: Claimed): Promise<void> {
    try {
      const out = await o.email.send(c.business_id, c.email_sender_id!, emailFor(c, r));
      await record(r.id, { status: 'sent', providerId: out.providerId });
    } catch (e) {
      if (e instanceof EmailDeliveryError) {
        if (e.permanent) {
          await service('bounce', async (tx) => {
            await tx.query(
              `UPDATE app.campaign_recipients SET status = 'failed', reason = $3, updated_at = now()
                WHERE id = $1 AND status = 'sending' AND claimed_by = $2`,
              [r.id, nodeId, e.message.slice(0, 300)],
            );
            if (/^smtp_5\d\d$|^rejected$/.test(e.code)) {
              await tx.query(
                `INSERT INTO app.email_suppressions (business_id, email, reason, detail, contact_id, campaign_id)
                 VALUES ($1, $2, 'hard_bounce', $3, $4, $5) ON CONFLICT DO NOTHING`,
                [c.business_id, r.address, e.message.slice(0, 300), r.contact_id, c.id],
              );
            }
          });
          return;
        }
        await record(
          r.id,
          r.attempts >= MAX_ATTEMPTS
            ? { status: 'failed', reason: e.message }
            : { status: 'queued', reason: e.message },
        );
        return;
      }
      await record(r.id, { status: 'failed', reason: 'could not build the message' });
      o.logger.error({ err: e, campaign_id: c.id }, 'campaign email failed');
    }
  }

  async function sendSms(c: Active, r: Claimed): Promise<void> {
    const body = renderSms({ body: c.body }, contextFromRow(r.ctx));
    let cached = twilioCreds.get(c.twilio_config_id!);
    if (!cached || Date.now() - cached.at > 30_000) {
      cached = {
        at: Date.now(),
        creds: await service('twilio', (tx) => loadTwilioCredentials(tx, o.vault, c.twilio_config_id!)),
      };
      twilioCreds.set(c.twilio_config_id!, cached);
    }
    const creds = cached.creds;
    if (!creds) return record(r.id, { status: 'failed', reason: 'the Twilio number was removed' });
    try {
      const out = await o.twilio.sendMessage({
        accountSid: creds.accountSid,
        authToken: creds.authToken,
        from: creds.phoneNumber,
        to: r.address,
        body,
        statusCallback: `${o.publicUrl}/webhooks/twilio/${creds.configId}/status?r=${r.id}`,
      });
      await record(r.id, { status: 'sent', providerId: out.sid });
    } catch (e) {
      const api = e instanceof TwilioApiError ? e : undefined;
      const status = api?.httpStatus ?? 0;
      const reason = api ? `Twilio ${api.code ?? status}: ${api.message.slice(0, 200)}` : 'Twilio could not be reached';
      // A 2xx without a SID is ambiguous (it may have been sent): never retried.
      const permanent = (status >= 400 && status < 500 && status !== 429) || (status >= 200 && status < 300);
      if (permanent) {
        await record(r.id, { status: 'failed', reason });
        if (api?.code === 21610) {
          await service('optout', (tx) =>
            tx.query(
              `INSERT INTO app.sms_opt_outs (business_id, contact_id, our_number, keyword) VALUES ($1, $2, $3, 'TWILIO_21610')
               ON CONFLICT DO NOTHING`,
              [c.business_id, r.contact_id, creds.phoneNumber],
            ),
          );
        }
        return;
      }
      await record(r.id, r.attempts >= MAX_ATTEMPTS ? { status: 'failed', reason } : { status: 'queued', reason });
    }
  }

  async function drain(c: Active): Promise<void> {
    const worker = async () => {
      while (!stopped) {
        if (c.channel === 'sms' && !inSmsWindow(o.smsWindow, c.time_zone, now())) return;
        await throttleSlot(c);
        const r = await claim(c);
        if (!r || r === 'stop') return;
        if (r.suppressed) continue;
        if (c.channel === 'email') await sendEmail(c, r);
        else await sendSms(c, r);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, o.concurrency) }, worker));
  }

  // 1:1 emails: the same protocol on app.contact_emails (claim committed before the send).
  let directRunning: Promise<void> | undefined;
  async function drainDirect(): Promise<void> {
    const worker = async () => {
      while (!stopped) {
        const m = await service('direct.claim', async (tx) => {
          const r = await tx.query<{
            id: string;
            business_id: string;
            sender_id: string | null;
            to_address: string;
            subject: string;
            body: string;
            attempts: number;
          }>(
            `WITH next AS (SELECT id FROM app.contact_emails WHERE status = 'queued' ORDER BY created_at, id
                            LIMIT 1 FOR UPDATE SKIP LOCKED)
             UPDATE app.contact_emails x SET status = 'sending', claimed_by = $1, claimed_at = now(), updated_at = now(),
                    attempts = x.attempts + 1
               FROM next WHERE x.id = next.id
             RETURNING x.id, x.business_id, x.sender_id, x.to_address, x.subject, x.body, x.attempts`,
            [nodeId],
          );
          const got = r.rows[0];
          if (!got) return undefined;
          const sup = await tx.query('SELECT 1 FROM app.email_suppressions WHERE business_id = $1 AND email = $2', [
            got.business_id,
            got.to_address,
          ]);
          if (sup.rowCount || !got.sender_id) {
            await tx.query(
              `UPDATE app.contact_emails SET status = 'failed', reason = $2, updated_at = now() WHERE id = $1`,
              [
                got.id,
                got.sender_id ? 'the address is suppressed (unsubscribed or bounced)' : 'the email sender was removed',
              ],
            );
            return 'skip' as const;
          }
          return got;
        });
        if (!m) return;
        if (m === 'skip') continue;
        const finish = (status: 'sent' | 'failed' | 'queued', reason: string | null, providerId: string | null) =>
          service('direct.record', (tx) =>
            tx.query(
              `UPDATE app.contact_emails SET status = $3, reason = $4, provider_id = $5,
                      sent_at = CASE WHEN $3 = 'sent' THEN now() END, updated_at = now()
                WHERE id = $1 AND status = 'sending' AND claimed_by = $2`,
              [m.id, nodeId, status, reason?.slice(0, 300) ?? null, providerId?.slice(0, 200) ?? null],
            ),
          );
        try {
          const html = markdownToHtml(m.body);
          const out = await o.email.send(m.business_id, m.sender_id!, {
            id: m.id,
            to: m.to_address,
            subject: m.subject,
            text: m.body,
            html,
          });
          await finish('sent', null, out.providerId);
        } catch (e) {
          const err = e instanceof EmailDeliveryError ? e : undefined;
          if (err?.permanent) {
            await finish('failed', err.message, null);
            if (/^smtp_5\d\d$|^rejected$/.test(err.code)) {
              await service('direct.bounce', (tx) =>
                tx.query(
                  `INSERT INTO app.email_suppressions (business_id, email, reason, detail) VALUES ($1, $2, 'hard_bounce', $3)
                   ON CONFLICT DO NOTHING`,
                  [m.business_id, m.to_address, err.message.slice(0, 300)],
                ),
              );
            }
          } else {
            const reason = err?.message ?? 'could not send';
            await finish(m.attempts >= MAX_ATTEMPTS || !err ? 'failed' : 'queued', reason, null);
          }
        }
      }
    };
    await Promise.all([worker(), worker()]);
  }

  async function tick(): Promise<void> {
    if (stopped) return;
    try {
      await housekeeping();
      directRunning ??= drainDirect()
        .catch((e: unknown) => o.logger.error({ err: e }, '1:1 email dispatch failed'))
        .finally(() => (directRunning = undefined));
      for (const c of await activeCampaigns()) {
        if (running.has(c.id)) continue;
        const p = drain(c)
          .catch((e: unknown) => o.logger.error({ err: e, campaign_id: c.id }, 'campaign dispatch failed'))
          .finally(() => running.delete(c.id));
        running.set(c.id, p);
      }
    } catch (e) {
      if (!stopped) o.logger.warn({ err: e }, 'campaign dispatcher tick failed');
    }
  }

  return {
    nodeId,
    tick,
    start() {
      const loop = () => {
        if (stopped) return;
        ticking = tick().finally(() => {
          if (!stopped) timer = setTimeout(loop, o.pollMs);
        });
      };
      loop();
    },
    /** Wait until every campaign this node is draining has no more work. */
    async idle(): Promise<void> {
      await ticking;
      await Promise.all([...running.values(), directRunning]);
    },
    async stop(): Promise<void> {
      stopped = true;
      if (timer) clearTimeout(timer);
      await ticking;
      await Promise.all([...running.values(), directRunning]);
    },
  };
}

export type CampaignDispatcher = ReturnType<typeof createCampaignDispatcher>;
