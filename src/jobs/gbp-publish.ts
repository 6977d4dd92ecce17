// Business Profile posts' jobs (docs/ARCHITECTURE.md §26). `gbp.publish` does one post's pending
// work (publish when due, patch an edit, delete) — src/gbp/publisher.ts makes it happen once.
// Its job id is derived from the post, its state and its last edit, so the request's nudge, the
// sweep and another node book one job per change, and a rescheduled post gets a new one.
// `gbp.sweep` (every minute, and at every node's start) books the job of every post that is due
// within the minute or in flight: the nudge's safety net, and how a post that fell due while every
// node was down is published when one starts. The last retry's failure fails the post (publisher.ts).
import type { Database } from '../db/index.ts';
import type { GbpPublisher } from '../gbp/publisher.ts';
import type { PostWork } from '../gbp/posts.ts';
import { z } from 'zod';
import type { JobHandler, JobSender } from './engine.ts';
import { defineQueue, id, noPayload, successorId, uuidFrom } from './queue.ts';

export const gbpPublishQueue = defineQueue({
  name: 'gbp.publish',
  payload: z.object({ business_id: id(), post_id: id() }).strict(),
  // Backoff 10 s doubling to 10 min over 10 retries (~45 min): Google's 429/5xx are short-lived.
  policy: { retryLimit: 10, retryDelay: 10, retryBackoff: true, retryDelayMax: 600, expireInSeconds: 150 },
});

export const gbpSweepQueue = defineQueue({
  name: 'gbp.sweep',
  payload: noPayload,
  policy: { retryLimit: 1, expireInSeconds: 120, deleteAfterSeconds: 3600 },
  cron: '* * * * *',
});

/** A uuid (RFC 9562 version 8) naming one piece of work on one post. */
export function workId(postId: string, state: string, updatedAt: Date): string {
  return uuidFrom(`gbp.publish:${postId}:${state}:${updatedAt.getTime()}`);
}

export function gbpNotifier(jobs: JobSender) {
  return {
    /** After the request's commit: book the post's job (at its time when scheduled). */
    async book(work: PostWork | null): Promise<void> {
      if (!work) return;
      await jobs.send(
        gbpPublishQueue,
        { business_id: work.businessId, post_id: work.postId },
        {
          id: workId(work.postId, work.state, work.updatedAt),
          ...(work.at && work.at.getTime() > Date.now() ? { startAfter: work.at } : {}),
        },
      );
    },
  };
}

/** When a last attempt's successor may run: once that attempt's claim has certainly expired. */
export const SUCCESSOR_DELAY_SECONDS = (gbpPublishQueue.policy.expireInSeconds ?? 900) + 30;

export function gbpPublishHandler(
  publisher: GbpPublisher,
  jobs: JobSender,
): JobHandler<{ business_id: string; post_id: string }> {
  return async ({ business_id, post_id }, job) => {
    // pg-boss fails the job for good after retryLimit retries; on that attempt the publisher
    // fails the post instead of deferring it again, so it never stays `publishing` (§22, §26).
    const lastAttempt = job.retryCount >= job.retryLimit;
    if (lastAttempt)
      // Unless this node dies during the attempt: then the post stays in flight, this job fails
      // for good when its claim expires, and its id is spent — the sweep books the post's work
      // under that same id, which pg-boss ignores while the failed job is kept. So the last
      // attempt first books a successor, due after the claim has certainly expired; when this
      // attempt ends the post (published or failed), the successor finds nothing to do.
      await jobs.send(
        gbpPublishQueue,
        { business_id, post_id },
        {
          id: successorId(job.id),
          startAfter: SUCCESSOR_DELAY_SECONDS,
        },
      );
    await publisher.run(business_id, post_id, job.signal, { lastAttempt });
  };
}

export function gbpSweepHandler(db: Database, jobs: JobSender): JobHandler<object> {
  return async () => {
    const rows = await db.asService('gbp.sweep', (tx) =>
      tx.query<{ id: string; business_id: string; state: string; updated_at: Date; publish_at: Date | null }>(
        `SELECT id, business_id, state, updated_at, publish_at FROM app.gbp_posts
          WHERE (state = 'scheduled' AND publish_at <= now() + interval '1 minute')
             OR state IN ('publishing', 'updating', 'deleting')
          ORDER BY publish_at NULLS FIRST LIMIT 1000`,
      ),
    );
    for (const r of rows.rows)
      await jobs.send(
        gbpPublishQueue,
        { business_id: r.business_id, post_id: r.id },
        {
          id: workId(r.id, r.state === 'publishing' ? 'scheduled' : r.state, r.updated_at),
          ...(r.publish_at && r.publish_at.getTime() > Date.now() ? { startAfter: r.publish_at } : {}),
        },
      );
  };
}
