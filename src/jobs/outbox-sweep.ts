// The outbox's safety net (docs/ARCHITECTURE.md §24): every minute, and when a node
// starts, give every undelivered outbox row a delivery job. The request's nudge after
// its commit is the fast path; this finds rows whose nudge was lost (a crash between
// the commit and the nudge, the job database briefly down). A row that already has a
// job is skipped by the job id, so sweeping is harmless. A campaign's rows are delivered
// by its drain (src/outreach/dispatcher.ts), which claims them itself: no job for those.
import type { Database } from '../db/index.ts';
import type { JobHandler, JobSender } from './engine.ts';
import { outboxDeliverQueue } from './outbox-deliver.ts';
import { defineQueue, noPayload } from './queue.ts';

export const outboxSweepQueue = defineQueue({
  name: 'outbox.sweep',
  payload: noPayload,
  // Not exclusive: a sweep whose node died must not block the next one until its claim
  // expires, and two sweeps at once are harmless (job ids dedupe).
  policy: { retryLimit: 1, expireInSeconds: 120, deleteAfterSeconds: 3600 },
  cron: '* * * * *',
});

export function outboxSweepHandler(db: Database, jobs: JobSender, batch = 1000): JobHandler<object> {
  return async (_payload, job) => {
    let after = '00000000-0000-0000-0000-000000000000';
    for (;;) {
      const rows = await db.asService('outbox.sweep', (tx) =>
        tx.query<{ id: string; business_id: string }>(
          `SELECT id, business_id FROM app.outbox
            WHERE state IN ('queued', 'sending') AND campaign_id IS NULL AND id > $1 ORDER BY id LIMIT $2`,
          [after, batch],
        ),
      );
      await jobs.sendMany(
        outboxDeliverQueue,
        rows.rows.map((r) => ({ payload: { business_id: r.business_id, outbox_id: r.id }, id: r.id })),
      );
      if (rows.rows.length < batch || job.signal.aborted) return;
      after = rows.rows[rows.rows.length - 1]!.id;
    }
  };
}
