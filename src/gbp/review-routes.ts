// HTTP for Business Profile reviews (docs/ARCHITECTURE.md §26), under /api/businesses/:bid:
// `GET google/reviews` (any member; `?unanswered=true`), `POST google/reviews/sync` (any member:
// read from Google now), `PUT google/reviews/:id/reply` (owner/admin: 202, the reply job sends it),
// `POST google/reviews/:id/draft-reply` (owner/admin: an AI draft through src/ai; nothing is posted).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Database } from '../db/index.ts';
import type { RouteModule } from '../server/app.ts';
import { BEARER_SECURITY } from '../server/authenticate.ts';
import { inBusiness } from '../server/scope.ts';
import type { AssistDeps, RunTx } from '../ai/assist.ts';
import { callerOf } from '../server/authenticate.ts';
import { draftReviewReply } from './review-draft.ts';
import { listReviews, requestReply, type GbpReviews } from './reviews.ts';

const security = BEARER_SECURITY;
const tags = ['business-profile'];
const bidParams = z.object({ bid: z.uuid() });

export const reviewSchema = z.object({
  id: z.uuid(),
  star_rating: z.number().int().min(1).max(5),
  comment: z.string().nullable(),
  reviewer_name: z.string().nullable(),
  reviewed_at: z.string(),
  reply: z.object({ comment: z.string(), updated_at: z.string().nullable() }).nullable(),
  pending_reply: z
    .object({ comment: z.string(), state: z.enum(['sending', 'failed']), error: z.string().nullable() })
    .nullable(),
});

export function gbpReviewRoutes(deps: {
  db: Database;
  reviews: GbpReviews;
  bookReply: (businessId: string, reviewId: string, draft: string) => Promise<unknown>;
  assist: AssistDeps;
}): RouteModule {
  return async (root: FastifyInstance) => {
    const app = root.withTypeProvider<ZodTypeProvider>();
    const base = '/api/businesses/:bid/google/reviews';

    app.get(
      base,
      {
        schema: {
          tags,
          security,
          summary: 'Business Profile reviews as last synced, newest first (any member)',
          params: bidParams,
          querystring: z
            .object({
              unanswered: z.enum(['true', 'false']).optional(),
              limit: z.coerce.number().int().min(1).max(500).optional(),
            })
            .strict(),
          response: { 200: z.object({ items: z.array(reviewSchema) }) },
        },
      },
      async (req) => ({
        items: await inBusiness(deps.db, req, req.params.bid, ({ tx }) =>
          listReviews(tx, req.params.bid, { unanswered: req.query.unanswered === 'true', limit: req.query.limit }),
        ),
      }),
    );

    app.post(
      `${base}/sync`,
      {
        schema: {
          tags,
          security,
          summary: 'Sync the reviews from Google now (any member); returns how many were new',
          params: bidParams,
          response: { 200: z.object({ new_reviews: z.number().int() }) },
        },
      },
      async (req) => {
        // Membership first (404 outside the business), then the service-side sync.
        await inBusiness(deps.db, req, req.params.bid, async () => undefined);
        return { new_reviews: await deps.reviews.sync(req.params.bid).catch(deps.reviews.asUpstream) };
      },
    );

    const asCaller =
      (req: FastifyRequest, bid: string): RunTx =>
      (fn) =>
        inBusiness(deps.db, req, bid, ({ tx }) => fn(tx));

    app.post(
      `${base}/:id/draft-reply`,
      {
        schema: {
          tags,
          security,
          summary:
            "Draft a reply to a review with the business's AI provider (owner/admin). The model sees only this review's text, stars and reviewer's first name, and the business's name. Nothing is posted: edit the draft and reply.",
          params: bidParams.extend({ id: z.uuid() }),
          response: {
            200: z.object({
              text: z.string(),
              flags: z.array(z.object({ kind: z.enum(['phone', 'email']), value: z.string(), reason: z.string() })),
              model: z.string(),
              tokens_in: z.number().int(),
              tokens_out: z.number().int(),
            }),
          },
        },
      },
      async (req) =>
        draftReviewReply(
          deps.assist,
          asCaller(req, req.params.bid),
          { businessId: req.params.bid, userId: callerOf(req).sub },
          req.params.id,
        ),
    );

    app.put(
      `${base}/:id/reply`,
      {
        schema: {
          tags,
          security,
          summary: 'Reply to a review or edit the reply (owner/admin): 202, sent to Google by a job',
          params: bidParams.extend({ id: z.uuid() }),
          body: z.object({ comment: z.string().trim().min(1).max(4096) }).strict(),
          response: { 202: reviewSchema },
        },
      },
      async (req, reply) => {
        const review = await inBusiness(deps.db, req, req.params.bid, ({ tx }) =>
          requestReply(tx, req.params.bid, req.params.id, req.body.comment),
        );
        await deps.bookReply(req.params.bid, review.id, req.body.comment);
        return reply.status(202).send(review);
      },
    );
  };
}
