// HTTP for Business Profile posts (docs/ARCHITECTURE.md §26), under /api/businesses/:bid:
// `GET,POST google/posts`, `GET,PATCH,DELETE google/posts/:id`. Members read; owners and admins
// write (0121's policies). Nothing here calls Google: the job is booked after the commit.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Database } from '../db/index.ts';
import type { RouteModule } from '../server/app.ts';
import { BEARER_SECURITY } from '../server/authenticate.ts';
import { inBusiness } from '../server/scope.ts';
import { createPost, deletePost, getPost, listPosts, updatePost, type PostWork } from './posts.ts';

const security = BEARER_SECURITY;
const tags = ['business-profile'];
const bidParams = z.object({ bid: z.uuid() });
const idParams = bidParams.extend({ id: z.uuid() });
const STATES = [
  'draft',
  'scheduled',
  'publishing',
  'published',
  'updating',
  'deleting',
  'failed',
  'cancelled',
] as const;
/** A local time in the business's zone (2026-12-24T09:30) or an ISO time with an offset. */
const when = z
  .string()
  .regex(
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?$/,
    'YYYY-MM-DDTHH:MM, local or with an offset',
  );
const https = z.url({ protocol: /^https$/ }).max(2000);

// Google's limits: summary 1,500 characters, event title 58, coupon code 58.
const content = {
  topic_type: z.enum(['update', 'offer', 'event']),
  summary: z.string().trim().min(1).max(1500),
  call_to_action: z
    .object({ type: z.enum(['LEARN_MORE', 'BOOK', 'ORDER', 'SHOP', 'SIGN_UP', 'CALL']), url: https.nullish() })
    .strict()
    .refine((c) => c.type === 'CALL' || !!c.url, 'a button other than CALL needs a URL')
    .nullable(),
  image_url: https.nullable(),
  event: z
    .object({ title: z.string().trim().min(1).max(58), start: when, end: when })
    .strict()
    .nullable(),
  offer: z
    .object({
      coupon_code: z.string().trim().min(1).max(58).nullish(),
      terms: z.string().trim().min(1).max(5000).nullish(),
      redeem_url: https.nullish(),
    })
    .strict()
    .nullable(),
};
const action = z.enum(['draft', 'schedule', 'publish_now']);

export const postSchema = z.object({
  id: z.uuid(),
  location_id: z.uuid().nullable(),
  topic_type: z.enum(['update', 'offer', 'event']),
  summary: z.string(),
  call_to_action: z.object({ type: z.string(), url: z.string().nullable() }).nullable(),
  image_url: z.string().nullable(),
  event: z.object({ title: z.string(), start: z.string(), end: z.string() }).nullable(),
  offer: z
    .object({ coupon_code: z.string().nullable(), terms: z.string().nullable(), redeem_url: z.string().nullable() })
    .nullable(),
  state: z.enum(STATES),
  publish_at: z.string().nullable(),
  publish_at_local: z.string().nullable(),
  time_zone: z.string(),
  google_name: z.string().nullable(),
  search_url: z.string().nullable(),
  published_at: z.string().nullable(),
  attempts: z.number().int(),
  error_code: z.string().nullable(),
  error_message: z.string().nullable(),
  created_by: z.uuid().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
});

export function gbpPostRoutes(deps: { db: Database; book: (work: PostWork | null) => Promise<void> }): RouteModule {
  return async (root: FastifyInstance) => {
    const app = root.withTypeProvider<ZodTypeProvider>();
    const base = '/api/businesses/:bid/google/posts';

    app.get(
      base,
      {
        schema: {
          tags,
          security,
          summary: 'Business Profile posts, newest first (any member); `from`/`to` bound a calendar range',
          params: bidParams,
          querystring: z
            .object({
              state: z.enum(STATES).optional(),
              from: z.iso.datetime({ offset: true }).optional(),
              to: z.iso.datetime({ offset: true }).optional(),
              limit: z.coerce.number().int().min(1).max(500).optional(),
            })
            .strict(),
          response: { 200: z.object({ items: z.array(postSchema) }) },
        },
      },
      async (req) => ({
        items: await inBusiness(deps.db, req, req.params.bid, ({ tx }) => listPosts(tx, req.params.bid, req.query)),
      }),
    );

    app.get(
      `${base}/:id`,
      {
        schema: {
          tags,
          security,
          summary: 'One Business Profile post (any member)',
          params: idParams,
          response: { 200: postSchema },
        },
      },
      async (req) => inBusiness(deps.db, req, req.params.bid, ({ tx }) => getPost(tx, req.params.bid, req.params.id)),
    );

    app.post(
      base,
      {
        schema: {
          tags,
          security,
          summary:
            'Create a Business Profile post (owner/admin): `action` draft (default), schedule (`publish_at`, local time in the business time zone or with an offset) or publish_now',
          params: bidParams,
          body: z
            .object({
              topic_type: content.topic_type.default('update'),
              summary: content.summary,
              call_to_action: content.call_to_action.optional(),
              image_url: content.image_url.optional(),
              event: content.event.optional(),
              offer: content.offer.optional(),
              action: action.optional(),
              publish_at: when.optional(),
            })
            .strict(),
          response: { 201: postSchema },
        },
      },
      async (req, reply) => {
        const { post, work } = await inBusiness(deps.db, req, req.params.bid, ({ tx, userId }) =>
          createPost(tx, req.params.bid, userId, req.body),
        );
        await deps.book(work);
        return reply.status(201).send(post);
      },
    );

    app.patch(
      `${base}/:id`,
      {
        schema: {
          tags,
          security,
          summary:
            'Edit a Business Profile post (owner/admin): before publishing, content and `action`; after, a content change is sent to Google by a job (state `updating`)',
          params: idParams,
          body: z
            .object({
              topic_type: content.topic_type.optional(),
              summary: content.summary.optional(),
              call_to_action: content.call_to_action.optional(),
              image_url: content.image_url.optional(),
              event: content.event.optional(),
              offer: content.offer.optional(),
              action: action.optional(),
              publish_at: when.optional(),
            })
            .strict(),
          response: { 200: postSchema },
        },
      },
      async (req) => {
        const { post, work } = await inBusiness(deps.db, req, req.params.bid, ({ tx }) =>
          updatePost(tx, req.params.bid, req.params.id, req.body),
        );
        await deps.book(work);
        return post;
      },
    );

    app.delete(
      `${base}/:id`,
      {
        schema: {
          tags,
          security,
          summary:
            'Delete a Business Profile post (owner/admin): 204 when Google never had it; 202 when published (a job deletes it at Google)',
          params: idParams,
          response: { 202: postSchema, 204: z.null() },
        },
      },
      async (req, reply) => {
        const out = await inBusiness(deps.db, req, req.params.bid, async ({ tx }) => {
          const r = await deletePost(tx, req.params.bid, req.params.id);
          return { ...r, post: r.deleted ? null : await getPost(tx, req.params.bid, req.params.id) };
        });
        await deps.book(out.work);
        if (out.deleted) return reply.status(204).send(null);
        return reply.status(202).send(out.post!);
      },
    );
  };
}
