// The campaign drain (docs/ARCHITECTURE.md §21 "Campaigns: exactly once", §24). Every
// recipient to be sent is an outbox row (channel email or sms, id = the recipient's id,
// campaign_id set) written in the transaction that started the campaign. This drain is the
// delivering job for those rows: it runs on every node, claims them in batches and follows
// the outbox's state machine on each row:
//
//   queued ──claim (batch, FOR UPDATE SKIP LOCKED, lease)──▶ sending
//   sending ──point of no return (committed_at, fenced by the attempt)──▶ provider ──▶ sent | failed
//   sending ──certainly not accepted (SMTP 4xx, refused connection, Twilio 429)──▶ queued (3 attempts)
//   sending, lease over (its node died, or no answer):
//       committed_at NULL ─▶ never reached the provider: sent again
//       committed_at set  ─▶ reconcile: Twilio (list by To/From/date + body), Gmail (rfc822msgid);
//                            SMTP cannot be asked: failed "outcome unknown" (in doubt), never resent
//
// Pause, cancel and SMS quiet hours are honoured by not claiming; the per-sender rate is a
// slot in app.send_throttles shared by every node (and, for SMS, by 1:1 texts). Batching
// (one claim per batch; marks and records grouped into transactions a few ms apart) is what
// makes 100k campaigns fast.
import { randomUUID } from 'node:crypto';
import type { Database, Tx } from '../db/index.ts';
import type { Logger } from '../observability/logger.ts';
import type { EmailDelivery } from '../integrations/email/deliver.ts';
import { EmailDeliveryError, SMTP_CONNECTIONS } from '../integrations/email/deliver.ts';
import { TwilioApiError, type TwilioClient } from '../integrations/twilio/client.ts';
import { loadTwilioCredentials } from '../integrations/twilio/configs.ts';
import { AppError } from '../shared/errors.ts';
import type { Vault } from '../vault/secrets.ts';
import { CONTEXT_BATCH_SQL, contextFromRow } from './context.ts';
import { renderEmail, renderSms } from './merge.ts';
import { createCommitMarks, type CommitMarks } from '../messaging/commit-marks.ts';
import { reserveSendSlots, throttleKey } from '../messaging/send-throttles.ts';
import { commercialParts, type UnsubscribeTokens } from './unsubscribe.ts';

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
  /** How long one attempt owns a claimed row (the outbox lease). */
  leaseSeconds: number;
  /** Parallel batches per campaign on this node. */
  concurrency: number;
  /** Rows per claim (default 25). */
  batchSize?: number;
  nodeId?: string;
  now?: () => Date;
  /** Shared with the outbox's email driver when given (one group commit per node). */
  marks?: CommitMarks;
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

/** One claimed row: its outbox attempt and its recipient. */
interface Item {
  id: string;
  attempts: number;
  /** An earlier attempt passed its point of no return (committed_at is never cleared). */
  inDoubt: boolean;
  firstAttemptAt: Date;
  contactId: string;
  address: string;
  recipientAttempts: number;
}

type Outcome =
  | { kind: 'sent'; providerId: string }
  | { kind: 'failed'; code: string; reason: string; bounce?: boolean; optOut?: string }
  | { kind: 'skipped'; code: string; reason: string }
  /** Certainly not accepted: queued again (`local`: our side failed, not counted as an attempt). */
  | { kind: 'retry'; code: string; reason: string; local?: boolean }
  /** No answer after the point of no return: left `sending`; the next claim reconciles. */
  | { kind: 'unknown' };

const MAX_ATTEMPTS = 3;
const IN_DOUBT =
  'outcome unknown: the message was handed to the mail server but its answer never came (the sending node stopped); not resent, so it is never sent twice — check the recipient';

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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Messages queued per SMTP connection, at most, behind the one it is sending. */
const QUEUED_PER_CONNECTION = 4;
/** A slow message on one connection under load (the bench measured ~70–125 ms), doubled. */
const SLOW_MESSAGE_MS = 250;

/**
 * How many email rows one node may hold claimed and not yet recorded per sender, across its campaigns and
 * workers (docs/ARCHITECTURE.md §21 step 2). A claimed row waits in the sender's SMTP pool for a
 * connection, and its mark is refused once less than a call's timeout is left on its lease: rows
 * claimed beyond what the connections send within `lease − call timeout` were refused, claimed
 * again, and refused again — the crash test's stall at a load average of ~22 (bench/README.md
 * "Campaign sends"). So: the pool's connections × a few queued each, and never more than they
 * send, slowly, in half of that time.
 */
export function emailInFlightLimit(leaseSeconds: number, callTimeoutMs: number): number {
  const withinLease = Math.floor((SMTP_CONNECTIONS * (leaseSeconds * 1000 - callTimeoutMs)) / 2 / SLOW_MESSAGE_MS);
  return Math.max(SMTP_CONNECTIONS, Math.min(SMTP_CONNECTIONS * QUEUED_PER_CONNECTION, withinLease));
}

/**
 * Capacity shared by a sender's workers on this node. A worker takes at least a quarter of it
 * (or what it asks, if less) before claiming, so batches stay batches; `close` answers 0 to
 * every waiter (the dispatcher is stopping).
 */
function createInFlight(capacity: number) {
  let free = capacity;
  let closed = false;
  const waiting: { min: number; max: number; resolve: (n: number) => void }[] = [];
  const pump = () => {
    while (waiting.length > 0 && (closed || free >= waiting[0]!.min)) {
      const w = waiting.shift()!;
      const n = closed ? 0 : Math.min(free, w.max);
      free -= n;
      w.resolve(n);
    }
  };
  return {
    acquire(max: number): Promise<number> {
      const min = Math.min(max, Math.max(1, Math.floor(capacity / 4)));
      return new Promise<number>((resolve) => {
        waiting.push({ min, max, resolve });
        pump();
      });
    },
    release(n: number) {
      free += n;
      pump();
    },
    close() {
      closed = true;
      pump();
    },
  };
}

export function createCampaignDispatcher(o: DispatcherOptions) {
  const nodeId = o.nodeId ?? `node-${randomUUID().slice(0, 8)}`;
  const now = o.now ?? (() => new Date());
  const batchSize = Math.max(1, o.batchSize ?? 25);
  const callTimeoutMs = Math.max(1000, Math.round((o.leaseSeconds * 1000) / 3));
  const marks = o.marks ?? createCommitMarks(o.db);
  const running = new Map<string, Promise<void>>();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let ticking: Promise<void> | undefined;
  const twilioCreds = new Map<string, { at: number; creds: ReturnType<typeof loadTwilioCredentials> }>();
  const emailLimit = emailInFlightLimit(o.leaseSeconds, callTimeoutMs);
  const inFlight = new Map<string, ReturnType<typeof createInFlight>>();
  const inFlightOf = (senderId: string) => {
    let f = inFlight.get(senderId);
    if (!f) inFlight.set(senderId, (f = createInFlight(emailLimit)));
    return f;
  };

  const service = <T>(what: string, fn: (tx: Tx) => Promise<T>) => o.db.asService(`campaigns.${what}`, fn);

  async function housekeeping(): Promise<void> {
    await service('housekeeping', async (tx) => {
      await tx.query(
        `UPDATE app.campaigns SET status = 'sending' WHERE status = 'scheduled' AND (send_at IS NULL OR send_at <= now())`,
      );
      // A cancelled campaign: what was never handed to a provider is skipped, with its row.
      await tx.query(
        `WITH gone AS (
           UPDATE app.outbox x SET state = 'failed', error_code = 'campaign_cancelled', lease_until = NULL, updated_at = now()
             FROM app.campaigns c
            WHERE c.business_id = x.business_id AND c.id = x.campaign_id AND c.status = 'cancelled'
              AND (x.state = 'queued' OR (x.state = 'sending' AND x.lease_until < now() AND x.committed_at IS NULL))
           RETURNING x.id)
         UPDATE app.campaign_recipients r SET status = 'skipped', reason = 'campaign cancelled', updated_at = now()
           FROM gone WHERE r.id = gone.id AND r.status IN ('queued', 'sending')`,
      );
      // …and what an attempt may have handed over before it stopped is in doubt, not skipped.
      await tx.query(
        `WITH doubt AS (
           UPDATE app.outbox x SET state = 'failed', error_code = 'outcome_unknown', lease_until = NULL, updated_at = now()
             FROM app.campaigns c
            WHERE c.business_id = x.business_id AND c.id = x.campaign_id AND c.status = 'cancelled'
              AND x.state = 'sending' AND x.lease_until < now() AND x.committed_at IS NOT NULL
           RETURNING x.id)
         UPDATE app.campaign_recipients r SET status = 'failed', reason = $1, updated_at = now()
           FROM doubt WHERE r.id = doubt.id AND r.status IN ('queued', 'sending')`,
        [
          'outcome unknown: it was being handed to the provider when the sending node stopped, and the campaign was cancelled since; not resent',
        ],
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

  /** How many rows the next batch may take, and when each may go (the sender's shared slots). */
  async function slots(c: Active, max: number): Promise<{ count: number; gapMs: number }> {
    if (!o.throttle) return { count: max, gapMs: 0 };
    const rate = await service('rate', async (tx) => {
      const r =
        c.channel === 'email'
          ? await tx.query<{ rate: number }>(
              'SELECT rate_per_second AS rate FROM app.email_senders WHERE business_id = $1 AND id = $2',
              [c.business_id, c.email_sender_id],
            )
          : await tx.query<{ rate: number }>(
              'SELECT messages_per_second AS rate FROM app.twilio_configs WHERE business_id = $1 AND id = $2',
              [c.business_id, c.twilio_config_id],
            );
      return r.rows[0]?.rate ?? (c.channel === 'email' ? 5 : 1);
    });
    // About half a second of this sender's rate per batch, so several nodes share it evenly.
    const count = Math.max(1, Math.min(max, Math.floor(rate / 2)));
    const key =
      c.channel === 'email' ? throttleKey('email', c.email_sender_id!) : throttleKey('sms', c.twilio_config_id!);
    const wait = await service('throttle', (tx) => reserveSendSlots(tx, c.business_id, key, rate, count));
    if (wait > 0) await sleep(wait);
    return { count, gapMs: 1000 / rate };
  }

  /**
   * Claim up to `count` rows in one transaction: the outbox rows (queued, or sending with
   * their lease over) and their recipients; later suppressions and opt-outs, and deleted
   * contacts, are settled here as skipped. Returns the rows to send with their contexts.
   */
  async function claim(c: Active, count: number) {
    return service('claim', async (tx) => {
      const rows = await tx.query<{ id: string; attempts: number; was: string; committed: boolean; first: Date }>(
        `WITH next AS (
           SELECT x.id, x.state AS was, x.committed_at IS NOT NULL AS committed
             FROM app.outbox x
            WHERE x.campaign_id = $1 AND (x.state = 'queued' OR (x.state = 'sending' AND x.lease_until < now()))
              AND EXISTS (SELECT 1 FROM app.campaigns c WHERE c.id = $1 AND c.status = 'sending')
            ORDER BY x.id LIMIT $2 FOR UPDATE OF x SKIP LOCKED)
         UPDATE app.outbox x
            SET state = 'sending', attempts = x.attempts + 1, updated_at = now(),
                first_attempt_at = coalesce(x.first_attempt_at, now()), lease_until = now() + make_interval(secs => $3)
           FROM next WHERE x.id = next.id
         RETURNING x.id, x.attempts, next.was, next.committed, x.first_attempt_at AS first`,
        [c.id, count, o.leaseSeconds],
      );
      if (rows.rows.length === 0) return [];
      const ids = rows.rows.map((r) => r.id);
      const rec = await tx.query<{ id: string; contact_id: string; address: string | null; attempts: number }>(
        `UPDATE app.campaign_recipients r
            SET status = 'sending', claimed_by = $2, claimed_at = now(), updated_at = now(), attempts = r.attempts + 1
          WHERE r.id = ANY ($1::uuid[]) AND r.campaign_id = $3 AND r.status IN ('queued', 'sending')
         RETURNING r.id, r.contact_id, r.address, r.attempts`,
        [ids, nodeId, c.id],
      );
      const byId = new Map(rec.rows.map((r) => [r.id, r]));
      // Honour every later unsubscribe, bounce, STOP or do-not-contact, up to the moment of sending.
      const sup = await tx.query<{ id: string; why: string }>(
        c.channel === 'email'
          ? `SELECT r.id, s.reason AS why FROM app.campaign_recipients r
               JOIN app.email_suppressions s ON s.business_id = r.business_id AND s.email = r.address
              WHERE r.id = ANY ($1::uuid[])`
          : `SELECT r.id, 'opted_out' AS why FROM app.campaign_recipients r
               JOIN app.twilio_configs t ON t.business_id = r.business_id AND t.id = $2
               JOIN app.sms_opt_outs s ON s.business_id = r.business_id AND s.contact_id = r.contact_id
                                      AND s.our_number = t.phone_number
              WHERE r.id = ANY ($1::uuid[])`,
        c.channel === 'email' ? [ids] : [ids, c.twilio_config_id],
      );
      const suppressed = new Map(sup.rows.map((r) => [r.id, r.why]));
      const contacts = [...new Set(rec.rows.map((r) => r.contact_id))];
      const ctx = await tx.query<{ contact_id: string } & Parameters<typeof contextFromRow>[0]>(CONTEXT_BATCH_SQL, [
        c.business_id,
        contacts,
        c.started_by,
      ]);
      const ctxOf = new Map(ctx.rows.map((r) => [r.contact_id, r]));
      const settle: { item: Item; outcome: Outcome }[] = [];
      const todo: { item: Item; ctx: Parameters<typeof contextFromRow>[0] }[] = [];
      for (const r of rows.rows) {
        const rr = byId.get(r.id);
        const item: Item = {
          id: r.id,
          attempts: r.attempts,
          inDoubt: r.was === 'sending' && r.committed,
          firstAttemptAt: r.first,
          contactId: rr?.contact_id ?? '',
          address: rr?.address ?? '',
          recipientAttempts: rr?.attempts ?? 0,
        };
        const why = suppressed.get(r.id);
        const context = rr ? ctxOf.get(rr.contact_id) : undefined;
        if (!rr) settle.push({ item, outcome: { kind: 'skipped', code: 'not_a_recipient', reason: 'not queued' } });
        else if (why) settle.push({ item, outcome: { kind: 'skipped', code: why, reason: why } });
        else if (!context || !rr.address)
          settle.push({ item, outcome: { kind: 'skipped', code: 'contact_deleted', reason: 'contact deleted' } });
        // Marked do-not-contact after the audience was judged: as binding as a STOP.
        else if (context.status === 'do_not_contact')
          settle.push({ item, outcome: { kind: 'skipped', code: 'do_not_contact', reason: 'do_not_contact' } });
        else todo.push({ item, ctx: context });
      }
      if (settle.length) await record(tx, c, settle);
      return todo;
    });
  }

  /** Record outcomes in one transaction, each only while its attempt still owns the row. */
  async function record(tx: Tx, c: Active, results: { item: Item; outcome: Outcome }[]): Promise<void> {
    const done = results.filter((r) => r.outcome.kind !== 'unknown');
    if (done.length === 0) return;
    const retry = (r: { item: Item; outcome: Outcome }) =>
      r.outcome.kind === 'retry' && (r.outcome.local === true || r.item.recipientAttempts < MAX_ATTEMPTS);
    const rows = done.map((r) => {
      const out = r.outcome as Exclude<Outcome, { kind: 'unknown' }>;
      const requeue = retry(r);
      return {
        id: r.item.id,
        attempts: r.item.attempts,
        state: out.kind === 'sent' ? 'sent' : requeue ? 'queued' : 'failed',
        provider: out.kind === 'sent' ? out.providerId.slice(0, 128) : null,
        code: out.kind === 'sent' ? null : out.code.slice(0, 40),
        status: out.kind === 'sent' ? 'sent' : out.kind === 'skipped' ? 'skipped' : requeue ? 'queued' : 'failed',
        reason: out.kind === 'sent' ? null : out.reason.slice(0, 300),
        // Our side failed before the provider was reached: the claim's attempt is given back.
        refund: requeue && out.kind === 'retry' && out.local === true,
      };
    });
    const owned = await tx.query<{ id: string }>(
      `WITH u AS (
         SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[], $4::text[], $5::text[])
                    AS u(id, attempts, state, provider, code))
       UPDATE app.outbox x
          SET state = u.state, provider_id = u.provider, error_code = u.code, updated_at = now(),
              lease_until = NULL, sent_at = CASE WHEN u.state = 'sent' THEN now() ELSE x.sent_at END
         FROM u WHERE x.id = u.id AND x.attempts = u.attempts AND x.state = 'sending'
       RETURNING x.id`,
      [
        rows.map((r) => r.id),
        rows.map((r) => r.attempts),
        rows.map((r) => r.state),
        rows.map((r) => r.provider),
        rows.map((r) => r.code),
      ],
    );
    const mine = new Set(owned.rows.map((r) => r.id));
    const keep = rows.filter((r) => mine.has(r.id));
    if (keep.length === 0) return;
    await tx.query(
      `UPDATE app.campaign_recipients r
          SET status = u.status, reason = u.reason, provider_id = u.provider, updated_at = now(),
              sent_at = CASE WHEN u.status = 'sent' THEN now() ELSE r.sent_at END,
              attempts = CASE WHEN u.refund THEN greatest(r.attempts - 1, 0) ELSE r.attempts END
         FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bool[]) AS u(id, status, reason, provider, refund)
        WHERE r.id = u.id AND r.status IN ('queued', 'sending')`,
      [
        keep.map((r) => r.id),
        keep.map((r) => r.status),
        keep.map((r) => r.reason),
        keep.map((r) => r.provider),
        keep.map((r) => r.refund),
      ],
    );
    for (const r of done) {
      if (!mine.has(r.item.id) || r.outcome.kind !== 'failed') continue;
      if (r.outcome.bounce)
        await tx.query(
          `INSERT INTO app.email_suppressions (business_id, email, reason, detail, contact_id, campaign_id)
           VALUES ($1, $2, 'hard_bounce', $3, $4, $5) ON CONFLICT DO NOTHING`,
          [c.business_id, r.item.address, r.outcome.reason.slice(0, 300), r.item.contactId, c.id],
        );
      if (r.outcome.optOut)
        await tx.query(
          `INSERT INTO app.sms_opt_outs (business_id, contact_id, our_number, keyword) VALUES ($1, $2, $3, 'TWILIO_21610')
           ON CONFLICT DO NOTHING`,
          [c.business_id, r.item.contactId, r.outcome.optOut],
        );
    }
  }

  function emailFor(c: Active, item: Item, ctxRow: Parameters<typeof contextFromRow>[0]) {
    const ctx = contextFromRow(ctxRow);
    const rendered = renderEmail({ subject: c.subject ?? '', body: c.body }, ctx);
    const parts = commercialParts(o.tokens, o.publicUrl, {
      businessId: c.business_id,
      contactId: item.contactId,
      address: item.address,
      businessName: c.business_name,
      postalAddress: c.footer_address ?? '',
    });
    return {
      id: item.id,
      to: item.address,
      subject: rendered.subject,
      text: rendered.text + parts.footerText,
      html: rendered.html + parts.footerHtml,
      headers: {
        ...parts.headers,
        'X-Capto-Campaign': c.id,
      },
    };
  }

  async function sendEmail(c: Active, item: Item, ctx: Parameters<typeof contextFromRow>[0]): Promise<Outcome> {
    if (item.inDoubt) {
      // The last attempt passed its point of no return. Gmail can be asked; SMTP cannot.
      const kind = await o.email.kindOf(c.business_id, c.email_sender_id!);
      if (kind !== 'gmail') return { kind: 'failed', code: 'outcome_unknown', reason: IN_DOUBT };
      try {
        const found = await o.email.findSent(c.business_id, c.email_sender_id!, item.id, callTimeoutMs);
        if (found) return { kind: 'sent', providerId: found };
      } catch {
        return { kind: 'unknown' }; // ask again after the lease
      }
    }
    let mail;
    try {
      mail = emailFor(c, item, ctx);
    } catch (e) {
      o.logger.error({ err: e, campaign_id: c.id }, 'campaign email could not be built');
      return { kind: 'failed', code: 'render_failed', reason: 'could not build the message' };
    }
    try {
      const out = await o.email.send(c.business_id, c.email_sender_id!, mail, {
        beforeEnd: () => marks.mark(item.id, item.attempts, callTimeoutMs),
        timeoutMs: callTimeoutMs,
      });
      return { kind: 'sent', providerId: out.providerId };
    } catch (e) {
      if (!(e instanceof EmailDeliveryError)) {
        o.logger.error({ err: e, campaign_id: c.id }, 'campaign email failed');
        return { kind: 'unknown' };
      }
      if (e.code === 'fenced' || e.unknown) return { kind: 'unknown' };
      if (e.permanent)
        return { kind: 'failed', code: e.code, reason: e.message, bounce: /^smtp_5\d\d$|^rejected$/.test(e.code) };
      return { kind: 'retry', code: e.code, reason: e.message, local: e.local };
    }
  }

  /**
   * The number's credentials, cached per node for 30 s. The load in flight is shared: the
   * sends of a batch (and of every worker) all ask at once, and on PGlite each load is a
   * transaction that holds the one connection while it reads and decrypts (docs/ARCHITECTURE.md §21).
   */
  function creds(c: Active) {
    const id = c.twilio_config_id!;
    let cached = twilioCreds.get(id);
    if (!cached || Date.now() - cached.at > 30_000) {
      const loading = service('twilio', (tx) => loadTwilioCredentials(tx, o.vault, id));
      const entry = { at: Date.now(), creds: loading };
      cached = entry;
      twilioCreds.set(id, entry);
      loading.catch(() => twilioCreds.get(id) === entry && twilioCreds.delete(id)); // the next send asks again
    }
    return cached.creds;
  }

  async function sendSms(c: Active, item: Item, ctx: Parameters<typeof contextFromRow>[0]): Promise<Outcome> {
    let body: string;
    try {
      body = renderSms({ body: c.body }, contextFromRow(ctx));
    } catch (e) {
      // e.g. the location was detached since the start (gbp_location_missing): never sent blank.
      const code = e instanceof AppError ? e.code : 'render_failed';
      return { kind: 'failed', code, reason: 'could not build the message' };
    }
    const cr = await creds(c);
    if (!cr) return { kind: 'failed', code: 'no_twilio_config', reason: 'the Twilio number was removed' };
    if (item.inDoubt) {
      // Twilio can be asked: a message to this number, from ours, with this body, since the first attempt.
      try {
        const listed = await o.twilio.listMessages({
          accountSid: cr.accountSid,
          authToken: cr.authToken,
          from: cr.phoneNumber,
          to: item.address,
          sentAfter: new Date(item.firstAttemptAt.getTime() - 60_000),
          timeoutMs: callTimeoutMs,
        });
        const candidates = listed.filter((m) => m.body === body).map((m) => m.sid);
        if (candidates.length) {
          const taken = await service('sms.reconcile', (tx) =>
            tx.query<{ provider_id: string }>(
              `SELECT provider_id FROM app.campaign_recipients WHERE business_id = $1 AND provider_id = ANY ($2::text[])`,
              [c.business_id, candidates],
            ),
          );
          const used = new Set(taken.rows.map((t) => t.provider_id));
          const free = candidates.filter((s) => !used.has(s)).reverse()[0];
          if (free) return { kind: 'sent', providerId: free };
        }
      } catch {
        return { kind: 'unknown' }; // Twilio could not be asked: try again after the lease
      }
    }
    if (!(await marks.mark(item.id, item.attempts, callTimeoutMs))) return { kind: 'unknown' };
    try {
      const out = await o.twilio.sendMessage({
        accountSid: cr.accountSid,
        authToken: cr.authToken,
        from: cr.phoneNumber,
        to: item.address,
        body,
        statusCallback: `${o.publicUrl}/webhooks/twilio/${cr.configId}/status?r=${item.id}`,
        timeoutMs: callTimeoutMs,
      });
      return { kind: 'sent', providerId: out.sid };
    } catch (e) {
      if (e instanceof TwilioApiError) {
        const reason = `Twilio ${e.code ?? e.httpStatus}: ${e.message.slice(0, 200)}`;
        if (e.httpStatus === 429 || e.code === 20429) return { kind: 'retry', code: 'twilio_429', reason };
        if (e.httpStatus >= 500) return { kind: 'unknown' }; // may have been queued: reconcile
        return {
          kind: 'failed',
          code: e.code !== null ? `twilio_${e.code}` : `twilio_http_${e.httpStatus}`,
          reason,
          ...(e.code === 21610 ? { optOut: cr.phoneNumber } : {}),
        };
      }
      if (e instanceof AppError && e.code === 'twilio_unreachable') return { kind: 'unknown' };
      o.logger.error({ err: e, campaign_id: c.id }, 'campaign text failed');
      return { kind: 'unknown' };
    }
  }

  /**
   * Outcomes are recorded as they arrive, grouped a few milliseconds apart into one
   * transaction: a message's record does not wait for the slowest send of its batch, which
   * keeps the window between a send and its record (in doubt after a crash) short.
   */
  function recorder(c: Active) {
    let pending: { r: { item: Item; outcome: Outcome }; done: (e?: unknown) => void }[] = [];
    let timer: NodeJS.Timeout | undefined;
    let chain = Promise.resolve();
    const flush = () => {
      timer = undefined;
      const batch = pending;
      pending = [];
      if (batch.length === 0) return;
      chain = chain.then(() =>
        service('record', (tx) =>
          record(
            tx,
            c,
            batch.map((b) => b.r),
          ),
        ).then(
          () => batch.forEach((b) => b.done()),
          (e: unknown) => batch.forEach((b) => b.done(e)),
        ),
      );
    };
    return (r: { item: Item; outcome: Outcome }) =>
      new Promise<void>((resolve, reject) => {
        pending.push({ r, done: (e) => (e ? reject(e) : resolve()) });
        if (pending.length >= batchSize) {
          if (timer) clearTimeout(timer);
          flush();
        } else timer ??= setTimeout(flush, 3);
      });
  }

  async function drain(c: Active): Promise<void> {
    const recordSoon = recorder(c);
    // Email rows are claimed only as far as the sender's SMTP pool can send them within the lease.
    const limit = c.channel === 'email' ? inFlightOf(c.email_sender_id!) : undefined;
    const worker = async () => {
      while (!stopped) {
        if (c.channel === 'sms' && !inSmsWindow(o.smsWindow, c.time_zone, now())) return;
        const room = limit ? await limit.acquire(batchSize) : batchSize;
        if (room === 0) return;
        let todo: Awaited<ReturnType<typeof claim>> = [];
        try {
          const { count, gapMs } = await slots(c, room);
          todo = await claim(c, count);
          limit?.release(room - todo.length);
          if (todo.length === 0) return;
          const t0 = Date.now();
          await Promise.all(
            todo.map(async ({ item, ctx }, i) => {
              // Its room is given back once its outcome is recorded (or left for the lease).
              try {
                if (gapMs > 0 && i > 0) await sleep(Math.max(0, t0 + i * gapMs - Date.now()));
                const outcome = c.channel === 'email' ? await sendEmail(c, item, ctx) : await sendSms(c, item, ctx);
                await recordSoon({ item, outcome });
              } finally {
                limit?.release(1);
              }
            }),
          );
        } catch (e) {
          if (todo.length === 0) limit?.release(room);
          throw e;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, o.concurrency) }, worker));
  }

  async function tick(): Promise<void> {
    if (stopped) return;
    try {
      await housekeeping();
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
      await Promise.all([...running.values()]);
    },
    async stop(): Promise<void> {
      stopped = true;
      if (timer) clearTimeout(timer);
      for (const f of inFlight.values()) f.close();
      await ticking;
      await Promise.all([...running.values()]);
    },
  };
}

export type CampaignDispatcher = ReturnType<typeof createCampaignDispatcher>;
