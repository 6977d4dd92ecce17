// The transactional outbox (docs/ARCHITECTURE.md §24). An action that sends writes its
// message and an outbox row in ONE transaction (`withOutbox`); after the commit it nudges
// the job engine, and a job delivers the row through its channel's driver. If the nudge
// is lost (a crash right after the commit), the `outbox.sweep` job finds the row.
//
// Delivery, per row, is idempotent:
//   queued  ─claim→ sending (lease) ─provider accepted→ sent ─callbacks→ (message) delivered | failed
//                           └─refused→ failed
// A row found in `sending` with no provider id after its lease ran out is a send whose
// outcome is unknown (the node died, or the answer was lost): the driver asks the
// provider first (Twilio: list Messages by To / From / DateSent) and adopts what it finds;
// only when the provider has no such message is it sent again. Never blindly resent.
import type { Database, Tx } from '../db/index.ts';
import type { Logger } from '../observability/logger.ts';
import { metrics } from '../observability/metrics.ts';
import { AppError } from '../shared/errors.ts';

export type OutboxChannel = 'sms' | 'email';

export interface OutboxMessage {
  /** The channel's message id (SMS: app.messages.id); also the delivery job's id. */
  id: string;
  businessId: string;
  channel: OutboxChannel;
  /** The sending identity (SMS: the Twilio configuration). */
  senderId: string;
  /** The member whose action sends it (null for the system: automations, campaigns). */
  createdBy: string | null;
}

/**
 * Queue a message for delivery inside the caller's transaction (a request's, as the
 * member, or a service transaction): one INSERT, nothing else. Commit, then `notify`.
 */
export async function withOutbox(tx: Tx, m: OutboxMessage): Promise<void> {
  await tx.query(
    'INSERT INTO app.outbox (id, business_id, channel, sender_id, created_by) VALUES ($1, $2, $3, $4, $5)',
    [m.id, m.businessId, m.channel, m.senderId, m.createdBy],
  );
}

/** Wakes delivery after the commit (src/jobs/outbox-deliver.ts); a lost nudge only delays it. */
export interface OutboxNotifier {
  notify(m: Pick<OutboxMessage, 'id' | 'businessId'>): Promise<void>;
}

/**
 * After a request's commit: wake delivery, without making the request wait for it. The
 * message is already safe in the outbox; the nudge (a job insert, its own transaction) only
 * makes delivery start at once, and a lost one waits for the `outbox.sweep` (a minute).
 */
export function nudgeDelivery(
  notifier: OutboxNotifier,
  logger: Pick<Logger, 'warn'>,
  m: Pick<OutboxMessage, 'id' | 'businessId'>,
): void {
  notifier.notify(m).catch((err: unknown) => {
    logger.warn({ err, message_id: m.id }, 'outbox: delivery not nudged; the sweep will pick it up');
  });
}

/** A row as delivery sees it. */
export interface OutboxRow {
  id: string;
  business_id: string;
  channel: OutboxChannel;
  sender_id: string;
  state: 'queued' | 'sending' | 'sent' | 'failed';
  attempts: number;
  first_attempt_at: Date | null;
  provider_id: string | null;
  /**
   * When an attempt last passed its point of no return (src/messaging/commit-marks.ts); null:
   * none ever did, so the provider cannot have the message. Never cleared.
   */
  committed_at?: Date | null;
}

/** What a driver's send or lookup found out. */
export type SendOutcome =
  | { kind: 'accepted'; providerId: string; status: string }
  /** Refused for good (bad number, opted out, no configuration): do not retry. */
  | { kind: 'refused'; code: string }
  /** Certainly not accepted, try later (provider rate limit, connection refused). */
  | { kind: 'retry'; code: string }
  /** The request may have reached the provider: reconcile before any new attempt. */
  | { kind: 'unknown'; code: string };

/** One channel's provider: SMS → Twilio (src/messaging/sms-driver.ts); email next. */
export interface OutboxDriver {
  readonly channel: OutboxChannel;
  /**
   * Reserve the sender's next send slot (per-number throughput cap) and return how many
   * milliseconds to wait for it (0: no cap, or the slot is now).
   */
  reserveSlot(tx: Tx, row: OutboxRow): Promise<number>;
  /** Mark the channel's message as being sent (inside the claim transaction). */
  markSending(tx: Tx, row: OutboxRow): Promise<void>;
  /** Send once; the driver re-reads the message and credentials as the service. */
  send(row: OutboxRow, timeoutMs: number): Promise<SendOutcome>;
  /**
   * Find a message the provider accepted for this row since `since`; undefined: none, send
   * again. `refused` settles the row as failed without sending (a provider that cannot be
   * asked, e.g. SMTP after the point of no return: in doubt, never resent).
   */
  reconcile(row: OutboxRow, since: Date, timeoutMs: number): Promise<SendOutcome | undefined>;
  /** Record the final outcome on the channel's message (same transaction as the row's state). */
  record(tx: Tx, row: OutboxRow, outcome: SendOutcome & { kind: 'accepted' | 'refused' }): Promise<void>;
  /**
   * When the message may not go yet, the time it may (an automated text outside the
   * business's sending hours); null: now. Asked before every claim.
   */
  holdUntil?(tx: Tx, row: OutboxRow): Promise<Date | null>;
}

/** `held`: not sent, nothing claimed — deliver it again at that time. */
export type DeliveryResult = 'sent' | 'failed' | 'done' | { held: Date };

export interface OutboxDelivery {
  /** Deliver one row; resolves when it is sent, failed for good or held, throws to be retried. */
  deliver(businessId: string, id: string, signal?: AbortSignal): Promise<DeliveryResult>;
}

/** Thrown to have the job retried later (another attempt holds the row, or it must wait). */
export class DeliveryDeferred extends AppError {
  constructor(reason: string) {
    super('delivery_deferred', reason);
  }
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

export function createOutboxDelivery(options: {
  db: Database;
  drivers: OutboxDriver[];
  /**
   * How long one attempt owns a row. Each provider call times out at a third of it, so the
   * lookup and the send of one attempt both end inside the lease.
   */
  leaseSeconds: number;
  logger: Pick<Logger, 'warn' | 'info'>;
}): OutboxDelivery {
  const { db, logger } = options;
  const drivers = new Map(options.drivers.map((d) => [d.channel, d]));
  const lease = options.leaseSeconds;
  const callTimeoutMs = Math.max(500, Math.round((lease * 1000) / 3));

  const finish = (row: OutboxRow, driver: OutboxDriver, outcome: SendOutcome & { kind: 'accepted' | 'refused' }) =>
    db.asService('outbox.record', async (tx) => {
      // Only the attempt that owns the row records (a stale one finds it settled).
      const r = await tx.query(
        `UPDATE app.outbox SET state = $3, provider_id = $4, error_code = $5, lease_until = NULL, updated_at = now(),
                sent_at = CASE WHEN $3 = 'sent' THEN now() ELSE sent_at END
          WHERE business_id = $1 AND id = $2 AND state = 'sending'`,
        [
          row.business_id,
          row.id,
          outcome.kind === 'accepted' ? 'sent' : 'failed',
          outcome.kind === 'accepted' ? outcome.providerId : null,
          outcome.kind === 'refused' ? outcome.code : null,
        ],
      );
      if (r.rowCount === 1) await driver.record(tx, row, outcome);
      return r.rowCount === 1;
    });

  return {
    async deliver(businessId, id, signal) {
      const peek = await db.asService('outbox.read', (tx) =>
        tx.query<OutboxRow>(
          `SELECT id, business_id, channel, sender_id, state, attempts, first_attempt_at, provider_id
             FROM app.outbox WHERE business_id = $1 AND id = $2`,
          [businessId, id],
        ),
      );
      const seen = peek.rows[0];
      if (!seen || seen.state === 'sent' || seen.state === 'failed') return 'done';
      const driver = drivers.get(seen.channel);
      if (!driver) throw new AppError('internal_error', `no outbox driver for channel ${seen.channel}`);

      // Held (sending hours): nothing is claimed or reserved, the job books its successor
      // for then. Otherwise the sender's cap: the wait happens before the row is claimed.
      const gate = await db.asService('outbox.slot', async (tx) => {
        const held = driver.holdUntil ? await driver.holdUntil(tx, seen) : null;
        return held ? { held } : { wait: await driver.reserveSlot(tx, seen) };
      });
      if (gate.held) return { held: gate.held };
      const wait = gate.wait ?? 0;
      if (wait > callTimeoutMs) throw new DeliveryDeferred('the sender is at its throughput cap');
      if (wait > 0) await sleep(wait, signal);

      // Claim: lock the row; one attempt at a time, and an unknown outcome is remembered.
      const claim = await db.asService('outbox.claim', async (tx) => {
        const r = await tx.query<OutboxRow & { leased: boolean }>(
          `SELECT id, business_id, channel, sender_id, state, attempts, first_attempt_at, provider_id, committed_at,
                  coalesce(lease_until > now(), false) AS leased
             FROM app.outbox WHERE business_id = $1 AND id = $2 FOR UPDATE`,
          [businessId, id],
        );
        const row = r.rows[0];
        if (!row || row.state === 'sent' || row.state === 'failed') return { kind: 'done' as const };
        if (row.state === 'sending' && row.leased) return { kind: 'busy' as const };
        const unknown = row.state === 'sending';
        const u = await tx.query<{ first_attempt_at: Date; attempts: number }>(
          `UPDATE app.outbox SET state = 'sending', attempts = attempts + 1, updated_at = now(),
                  first_attempt_at = coalesce(first_attempt_at, now()),
                  lease_until = now() + make_interval(secs => $3)
            WHERE business_id = $1 AND id = $2 RETURNING first_attempt_at, attempts`,
          [businessId, id, lease],
        );
        await driver.markSending(tx, row);
        const claimed = { ...row, first_attempt_at: u.rows[0]!.first_attempt_at, attempts: u.rows[0]!.attempts };
        return { kind: 'claimed' as const, row: claimed, unknown };
      });
      if (claim.kind === 'done') return 'done';
      if (claim.kind === 'busy') throw new DeliveryDeferred('another attempt is sending this message');
      const row = claim.row;

      if (claim.unknown) {
        // The last attempt may have been accepted: ask the provider before sending again.
        const since = new Date(row.first_attempt_at!.getTime() - 60_000);
        const found = await driver.reconcile(row, since, callTimeoutMs);
        if (found?.kind === 'accepted') {
          await finish(row, driver, found);
          metrics.outboxMessages.inc({ channel: row.channel, outcome: 'reconciled' });
          logger.info({ outbox_id: row.id, channel: row.channel }, 'outbox: unknown send found at the provider');
          return 'sent';
        }
        if (found?.kind === 'refused') {
          await finish(row, driver, found);
          metrics.outboxMessages.inc({ channel: row.channel, outcome: 'failed' });
          logger.warn({ outbox_id: row.id, channel: row.channel, code: found.code }, 'outbox: unknown send not resent');
          return 'failed';
        }
      }

      const outcome = await driver.send(row, callTimeoutMs);
      if (outcome.kind === 'accepted' || outcome.kind === 'refused') {
        await finish(row, driver, outcome);
        metrics.outboxMessages.inc({ channel: row.channel, outcome: outcome.kind === 'accepted' ? 'sent' : 'failed' });
        return outcome.kind === 'accepted' ? 'sent' : 'failed';
      }
      if (outcome.kind === 'retry') {
        // Certainly not sent: back to queued, no reconcile needed next time.
        await db.asService('outbox.release', (tx) =>
          tx.query(
            `UPDATE app.outbox SET state = 'queued', lease_until = NULL, error_code = $3, updated_at = now()
              WHERE business_id = $1 AND id = $2 AND state = 'sending'`,
            [businessId, id, outcome.code],
          ),
        );
      }
      // 'unknown' keeps the row in `sending` until its lease ends: the retry reconciles.
      metrics.outboxMessages.inc({ channel: row.channel, outcome: 'deferred' });
      logger.warn(
        { outbox_id: row.id, channel: row.channel, code: outcome.code },
        'outbox: send not confirmed, retrying',
      );
      throw new DeliveryDeferred(`delivery will be retried (${outcome.code})`);
    },
  };
}
