// Business Profile review jobs (docs/ARCHITECTURE.md §26): `gbp.reviews-sync` syncs every active
// location's reviews every 15 minutes (exclusive: one sweep at a time across nodes); `gbp.reply`
// sends one review's pending reply (job id = review + a hash of the draft, so a double click books
// one job and an edit books another).
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { GbpReviews } from '../gbp/reviews.ts';
import type { JobHandler, JobSender } from './engine.ts';
import { defineQueue, id, noPayload } from './queue.ts';

export const gbpReviewsSyncQueue = defineQueue({
  name: 'gbp.reviews-sync',
  payload: noPayload,
  policy: { policy: 'exclusive', retryLimit: 1, expireInSeconds: 600, deleteAfterSeconds: 3600 },
  cron: '*/15 * * * *',
});

export const gbpReplyQueue = defineQueue({
  name: 'gbp.reply',
  payload: z.object({ business_id: id(), review_id: id() }).strict(),
  policy: { retryLimit: 10, retryDelay: 10, retryBackoff: true, retryDelayMax: 600, expireInSeconds: 120 },
});

function replyJobId(reviewId: string, draft: string): string {
  const h = createHash('sha256').update(`gbp.reply:${reviewId}:${draft}`).digest('hex');
  const variant = ((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function gbpReplyNotifier(jobs: JobSender) {
  return (businessId: string, reviewId: string, draft: string) =>
    jobs.send(gbpReplyQueue, { business_id: businessId, review_id: reviewId }, { id: replyJobId(reviewId, draft) });
}

export function gbpReviewsSyncHandler(reviews: GbpReviews): JobHandler<object> {
  return (_payload, job) => reviews.syncAll(job.signal);
}

export function gbpReplyHandler(reviews: GbpReviews): JobHandler<{ business_id: string; review_id: string }> {
  return async ({ business_id, review_id }) => {
    await reviews.sendReply(business_id, review_id);
  };
}
