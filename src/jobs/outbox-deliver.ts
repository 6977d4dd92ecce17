// Delivering the outbox (docs/ARCHITECTURE.md §24): one job per outgoing message, whose
// job id IS the message id, so a second nudge (a retry, the sweep, another node) for the
// same message is ignored while its job is kept. The handler is the outbox's state
// machine (src/messaging/outbox.ts): idempotent, reconciling an unknown send before
// sending again. A job that uses up its retries hands its message on to a successor job.
import { z } from 'zod';
import type { JobHandler, JobSender } from './engine.ts';
import { defineQueue, id, successorId } from './queue.ts';

const payload = z.object({ business_id: id(), outbox_id: id() }).strict();
export type OutboxDeliverPayload = z.infer<typeof payload>;

export const outboxDeliverQueue = defineQueue({
  name: 'outbox.deliver',
  payload,
  // Retries back off from 1 s to at most 60 s: a row whose attempt is unknown waits for
  // its lease to end, and a provider outage should not burn the retries in seconds.
  policy: { retryLimit: 20, retryDelay: 1, retryBackoff: true, retryDelayMax: 60, expireInSeconds: 60 },
});

/** The notifier send.ts calls after its commit. */
export function outboxNotifier(jobs: JobSender) {
  return {
    async notify(m: { id: string; businessId: string }) {
      await jobs.send(outboxDeliverQueue, { business_id: m.businessId, outbox_id: m.id }, { id: m.id });
    },
  };
}

/**
 * When a last attempt's successor runs: after a pause (the provider has been failing for the
 * whole retry schedule, ~8 minutes with the default lease) and never before that attempt's
 * claim (`expireInSeconds`) has certainly expired.
 */
export function successorDelaySeconds(expireInSeconds: number): number {
  return Math.max(600, expireInSeconds + 30);
}

export function outboxDeliverHandler(
  delivery: {
    deliver(businessId: string, id: string, signal?: AbortSignal): Promise<'sent' | 'failed' | 'done' | { held: Date }>;
  },
  jobs: JobSender,
  successorDelay: number,
): JobHandler<OutboxDeliverPayload> {
  return async (p, job) => {
    // pg-boss fails a job for good after its last retry (or when its node dies during it) and
    // keeps its id, so the sweep — which books a message's job by the message id — cannot book
    // the message again: it would stay `queued` or `sending` until an operator ran `capto jobs
    // retry`. So a last attempt first books a successor (a new id, derived from this job's),
    // due after a pause; if this attempt settles the message, the successor finds it done. A
    // message is retried this way until it is sent or refused — never dropped (§24).
    if (job.retryCount >= job.retryLimit)
      await jobs.send(outboxDeliverQueue, p, { id: successorId(job.id), startAfter: successorDelay });
    const result = await delivery.deliver(p.business_id, p.outbox_id, job.signal);
    // Held until the sending hours open: a successor is due then (a last attempt's, booked
    // above under the same id, runs sooner and is held again, booking its own).
    if (typeof result === 'object')
      await jobs.send(outboxDeliverQueue, p, {
        id: successorId(job.id),
        startAfter: Math.max(1, Math.ceil((result.held.getTime() - Date.now()) / 1000)),
      });
  };
}
