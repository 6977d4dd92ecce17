// Delivering the outbox (docs/ARCHITECTURE.md §24): one job per outgoing message, whose
// job id IS the message id, so a second nudge (a retry, the sweep, another node) for the
// same message is ignored while its job is kept. The handler is the outbox's state
// machine (src/messaging/outbox.ts): idempotent, reconciling an unknown send before
// sending again.
import { z } from 'zod';
import type { JobHandler, JobSender } from './engine.ts';
import { defineQueue, id } from './queue.ts';

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

export function outboxDeliverHandler(delivery: {
  deliver(businessId: string, id: string, signal?: AbortSignal): Promise<unknown>;
}): JobHandler<OutboxDeliverPayload> {
  return async (p, job) => {
    await delivery.deliver(p.business_id, p.outbox_id, job.signal);
  };
}
