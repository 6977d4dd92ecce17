// Business Profile posts as the caller (docs/ARCHITECTURE.md §26): every statement runs in the
// caller's RLS transaction, so 0121's policies decide who writes (owners and admins) and its guard
// decides which transitions a person may make. Nothing is sent to Google here: a post that is
// scheduled, edited after publishing or deleted after publishing waits for the `gbp.publish` job,
// which the route nudges after the commit.
import { randomUUID } from 'node:crypto';
import type { Tx } from '../db/index.ts';
import { AppError } from '../shared/errors.ts';

export type PostState =
  'draft' | 'scheduled' | 'publishing' | 'published' | 'updating' | 'deleting' | 'failed' | 'cancelled';
export type PostAction = 'draft' | 'schedule' | 'publish_now';

export interface PostContent {
  topic_type?: 'update' | 'offer' | 'event';
  summary?: string;
  call_to_action?: { type: 'LEARN_MORE' | 'BOOK' | 'ORDER' | 'SHOP' | 'SIGN_UP' | 'CALL'; url?: string | null } | null;
  image_url?: string | null;
  /** Local date-times (YYYY-MM-DDTHH:MM) in the business's time zone, or ISO times with an offset. */
  event?: { title: string; start: string; end: string } | null;
  offer?: { coupon_code?: string | null; terms?: string | null; redeem_url?: string | null } | null;
}

export interface PostInput extends PostContent {
  action?: PostAction;
  publish_at?: string;
}

export interface Post {
  id: string;
  location_id: string | null;
  topic_type: 'update' | 'offer' | 'event';
  summary: string;
  call_to_action: { type: string; url: string | null } | null;
  image_url: string | null;
  event: { title: string; start: string; end: string } | null;
  offer: { coupon_code: string | null; terms: string | null; redeem_url: string | null } | null;
  state: PostState;
  publish_at: string | null;
  publish_at_local: string | null;
  time_zone: string;
  google_name: string | null;
  search_url: string | null;
  published_at: string | null;
  attempts: number;
  error_code: string | null;
  error_message: string | null;
  created_by: string | null;
  created_at: string;
  updated_at: string;
}

/** What the job needs after a request's commit: the post and when to act. */
export interface PostWork {
  postId: string;
  businessId: string;
  state: PostState;
  at: Date | null;
  updatedAt: Date;
}

const SELECT = `
  SELECT p.id, p.location_id, p.topic_type, p.summary, p.cta_type, p.cta_url, p.image_url, p.event_title,
         to_char(p.event_start AT TIME ZONE b.time_zone, 'YYYY-MM-DD"T"HH24:MI') AS event_start_local,
         to_char(p.event_end AT TIME ZONE b.time_zone, 'YYYY-MM-DD"T"HH24:MI') AS event_end_local,
         p.offer_coupon, p.offer_terms, p.offer_url, p.state, p.publish_at,
         to_char(p.publish_at AT TIME ZONE b.time_zone, 'YYYY-MM-DD"T"HH24:MI') AS publish_at_local, b.time_zone,
         p.google_name, p.search_url, p.published_at, p.attempts, p.error_code, p.error_message, p.created_by,
         p.created_at, p.updated_at
    FROM app.gbp_posts p JOIN app.businesses b ON b.id = p.business_id`;

interface Row {
  id: string;
  location_id: string | null;
  topic_type: Post['topic_type'];
  summary: string;
  cta_type: string | null;
  cta_url: string | null;
  image_url: string | null;
  event_title: string | null;
  event_start_local: string | null;
  event_end_local: string | null;
  offer_coupon: string | null;
  offer_terms: string | null;
  offer_url: string | null;
  state: PostState;
  publish_at: Date | null;
  publish_at_local: string | null;
  time_zone: string;
  google_name: string | null;
  search_url: string | null;
  published_at: Date | null;
  attempts: number;
  error_code: string | null;
  error_message: string | null;
  created_by: string | null;
  created_at: Date;
  updated_at: Date;
}

function shape(r: Row): Post {
  return {
    id: r.id,
    location_id: r.location_id,
    topic_type: r.topic_type,
    summary: r.summary,
    call_to_action: r.cta_type ? { type: r.cta_type, url: r.cta_url } : null,
    image_url: r.image_url,
    event:
      r.event_title && r.event_start_local && r.event_end_local
        ? { title: r.event_title, start: r.event_start_local, end: r.event_end_local }
        : null,
    offer:
      r.topic_type === 'offer' ? { coupon_code: r.offer_coupon, terms: r.offer_terms, redeem_url: r.offer_url } : null,
    state: r.state,
    publish_at: r.publish_at?.toISOString() ?? null,
    publish_at_local: r.publish_at_local,
    time_zone: r.time_zone,
    google_name: r.google_name,
    search_url: r.search_url,
    published_at: r.published_at?.toISOString() ?? null,
    attempts: r.attempts,
    error_code: r.error_code,
    error_message: r.error_message,
    created_by: r.created_by,
    created_at: r.created_at.toISOString(),
    updated_at: r.updated_at.toISOString(),
  };
}

/** A time in the business's zone: a local `YYYY-MM-DDTHH:MM[:SS]` is read in `time_zone`. */
const AT = (param: string) =>
  `(CASE WHEN ${param}::text ~ '(Z|[+-][0-9]{2}(:?[0-9]{2})?)$' THEN ${param}::timestamptz
         ELSE ${param}::timestamp AT TIME ZONE (SELECT time_zone FROM app.businesses WHERE id = $1) END)`;

function mapDbError(e: unknown): never {
  const err = e as { code?: string; hint?: string; constraint?: string };
  if (err.code === 'P0001' && err.hint === 'gbp_post_not_editable')
    throw new AppError('gbp_post_not_editable', 'the post is being sent to Google; try again in a moment');
  if (err.code === 'P0001' && err.hint === 'invalid_transition')
    throw new AppError('invalid_transition', 'that change is not possible for this post now');
  if (err.code === '42501') throw new AppError('forbidden', 'only owners and admins manage Business Profile posts');
  if (err.code === '23514')
    throw new AppError('validation_failed', 'the post is incomplete (an event or offer needs a title and its dates)');
  if (err.code === '22007' || err.code === '22008')
    throw new AppError('validation_failed', 'a date or time is not valid');
  throw e;
}

/** Owners and admins write posts (0121's policies say so too; this gives members a clear 403). */
async function assertCanPost(tx: Tx, businessId: string): Promise<void> {
  const r = await tx.query<{ ok: boolean }>(`SELECT app.has_role($1, 'admin') AS ok`, [businessId]);
  if (!r.rows[0]?.ok) throw new AppError('forbidden', 'only owners and admins manage Business Profile posts');
}

async function locationOf(tx: Tx, businessId: string): Promise<{ id: string; status: string } | undefined> {
  const r = await tx.query<{ id: string; status: string }>(
    'SELECT id, status FROM app.gbp_locations WHERE business_id = $1',
    [businessId],
  );
  return r.rows[0];
}

export async function getPost(tx: Tx, businessId: string, id: string): Promise<Post> {
  const r = await tx.query<Row>(`${SELECT} WHERE p.business_id = $1 AND p.id = $2`, [businessId, id]);
  if (!r.rows[0]) throw new AppError('not_found', 'post not found');
  return shape(r.rows[0]);
}

export async function listPosts(
  tx: Tx,
  businessId: string,
  filter: { state?: PostState; from?: string; to?: string; limit?: number },
): Promise<Post[]> {
  const r = await tx.query<Row>(
    `${SELECT}
      WHERE p.business_id = $1 AND ($2::text IS NULL OR p.state = $2)
        AND ($3::timestamptz IS NULL OR coalesce(p.published_at, p.publish_at, p.created_at) >= $3)
        AND ($4::timestamptz IS NULL OR coalesce(p.published_at, p.publish_at, p.created_at) < $4)
      ORDER BY coalesce(p.published_at, p.publish_at, p.created_at) DESC, p.id LIMIT $5`,
    [businessId, filter.state ?? null, filter.from ?? null, filter.to ?? null, filter.limit ?? 200],
  );
  return r.rows.map(shape);
}

function stateFor(action: PostAction | undefined): 'draft' | 'scheduled' {
  return action === 'schedule' || action === 'publish_now' ? 'scheduled' : 'draft';
}

export async function createPost(
  tx: Tx,
  businessId: string,
  userId: string,
  input: PostInput & { summary: string },
): Promise<{ post: Post; work: PostWork | null }> {
  await assertCanPost(tx, businessId);
  const location = await locationOf(tx, businessId);
  const state = stateFor(input.action);
  if (state === 'scheduled' && !location)
    throw new AppError('gbp_location_required', 'attach a Business Profile location first');
  if (input.action === 'schedule' && !input.publish_at)
    throw new AppError('validation_failed', 'publish_at is required to schedule a post');
  const id = randomUUID();
  const topic = input.topic_type ?? 'update';
  await tx
    .query(
      `INSERT INTO app.gbp_posts (id, business_id, location_id, topic_type, summary, cta_type, cta_url, image_url,
                                  event_title, event_start, event_end, offer_coupon, offer_terms, offer_url, state,
                                  publish_at, created_by)
       VALUES ($2, $1, $3, $4, $5, $6, $7, $8, $9, ${AT('$10')}, ${AT('$11')}, $12, $13, $14, $15,
               CASE WHEN $16::boolean THEN now() ELSE ${AT('$17')} END, $18)`,
      [
        businessId,
        id,
        location?.id ?? null,
        topic,
        input.summary,
        input.call_to_action?.type ?? null,
        input.call_to_action?.url ?? null,
        input.image_url ?? null,
        topic === 'update' ? null : (input.event?.title ?? null),
        topic === 'update' ? null : (input.event?.start ?? null),
        topic === 'update' ? null : (input.event?.end ?? null),
        topic === 'offer' ? (input.offer?.coupon_code ?? null) : null,
        topic === 'offer' ? (input.offer?.terms ?? null) : null,
        topic === 'offer' ? (input.offer?.redeem_url ?? null) : null,
        state,
        input.action === 'publish_now',
        input.action === 'schedule' ? input.publish_at : null,
        userId,
      ],
    )
    .catch(mapDbError);
  const post = await getPost(tx, businessId, id);
  return { post, work: workOf(businessId, post) };
}

function workOf(businessId: string, post: Post): PostWork | null {
  if (!['scheduled', 'updating', 'deleting'].includes(post.state)) return null;
  return {
    postId: post.id,
    businessId,
    state: post.state,
    at: post.state === 'scheduled' && post.publish_at ? new Date(post.publish_at) : null,
    updatedAt: new Date(post.updated_at),
  };
}

/**
 * Edit a post. Before Google has it: content, and `action` moves it between draft and scheduled.
 * After: a content change becomes `updating` (the job patches it at Google).
 */
export async function updatePost(
  tx: Tx,
  businessId: string,
  id: string,
  input: PostInput,
): Promise<{ post: Post; work: PostWork | null }> {
  await assertCanPost(tx, businessId);
  const cur = await tx.query<{ state: PostState; google_name: string | null; topic_type: Post['topic_type'] }>(
    'SELECT state, google_name, topic_type FROM app.gbp_posts WHERE business_id = $1 AND id = $2 FOR UPDATE',
    [businessId, id],
  );
  const row = cur.rows[0];
  if (!row) throw new AppError('not_found', 'post not found');
  const atGoogle = row.google_name !== null;
  if (atGoogle && input.action) throw new AppError('invalid_transition', 'a published post is already at Google');
  if (atGoogle && input.topic_type && input.topic_type !== row.topic_type)
    throw new AppError('invalid_transition', 'the type of a published post cannot change');
  const location = await locationOf(tx, businessId);
  const state = atGoogle
    ? 'updating'
    : input.action
      ? stateFor(input.action)
      : row.state === 'scheduled'
        ? 'scheduled'
        : 'draft';
  if (state === 'scheduled' && !location)
    throw new AppError('gbp_location_required', 'attach a Business Profile location first');
  if (input.action === 'schedule' && !input.publish_at)
    throw new AppError('validation_failed', 'publish_at is required to schedule a post');
  const has = (k: keyof PostInput) => Object.hasOwn(input, k);
  const topic = input.topic_type ?? row.topic_type;
  await tx
    .query(
      `UPDATE app.gbp_posts SET
         topic_type = $3,
         summary = coalesce($4, summary),
         cta_type = CASE WHEN $5::boolean THEN $6 ELSE cta_type END,
         cta_url = CASE WHEN $5::boolean THEN $7 ELSE cta_url END,
         image_url = CASE WHEN $8::boolean THEN $9 ELSE image_url END,
         event_title = CASE WHEN $3 = 'update' THEN NULL WHEN $10::boolean THEN $11 ELSE event_title END,
         event_start = CASE WHEN $3 = 'update' THEN NULL WHEN $10::boolean THEN ${AT('$12')} ELSE event_start END,
         event_end = CASE WHEN $3 = 'update' THEN NULL WHEN $10::boolean THEN ${AT('$13')} ELSE event_end END,
         offer_coupon = CASE WHEN $3 <> 'offer' THEN NULL WHEN $14::boolean THEN $15 ELSE offer_coupon END,
         offer_terms = CASE WHEN $3 <> 'offer' THEN NULL WHEN $14::boolean THEN $16 ELSE offer_terms END,
         offer_url = CASE WHEN $3 <> 'offer' THEN NULL WHEN $14::boolean THEN $17 ELSE offer_url END,
         state = $18,
         location_id = CASE WHEN google_name IS NULL THEN $19 ELSE location_id END,
         publish_at = CASE WHEN $20 = 'publish_now' THEN now() WHEN $20 = 'schedule' THEN ${AT('$21')}
                           WHEN $20 = 'draft' THEN NULL ELSE publish_at END,
         updated_at = now()
       WHERE business_id = $1 AND id = $2`,
      [
        businessId,
        id,
        topic,
        input.summary ?? null,
        has('call_to_action'),
        input.call_to_action?.type ?? null,
        input.call_to_action?.url ?? null,
        has('image_url'),
        input.image_url ?? null,
        has('event'),
        input.event?.title ?? null,
        input.event?.start ?? null,
        input.event?.end ?? null,
        has('offer'),
        input.offer?.coupon_code ?? null,
        input.offer?.terms ?? null,
        input.offer?.redeem_url ?? null,
        state,
        location?.id ?? null,
        input.action ?? null,
        input.publish_at ?? null,
      ],
    )
    .catch(mapDbError);
  const post = await getPost(tx, businessId, id);
  return { post, work: workOf(businessId, post) };
}

/** Delete: a post Google never had goes at once; a published one becomes `deleting` (the job removes it). */
export async function deletePost(
  tx: Tx,
  businessId: string,
  id: string,
): Promise<{ deleted: boolean; work: PostWork | null }> {
  await assertCanPost(tx, businessId);
  const cur = await tx.query<{ state: PostState; google_name: string | null }>(
    'SELECT state, google_name FROM app.gbp_posts WHERE business_id = $1 AND id = $2 FOR UPDATE',
    [businessId, id],
  );
  const row = cur.rows[0];
  if (!row) throw new AppError('not_found', 'post not found');
  if (row.state === 'publishing' || row.state === 'deleting')
    throw new AppError('gbp_post_not_editable', 'the post is being sent to Google; try again in a moment');
  if (row.google_name === null) {
    const r = await tx
      .query('DELETE FROM app.gbp_posts WHERE business_id = $1 AND id = $2', [businessId, id])
      .catch(mapDbError);
    if (r.rowCount === 0) throw new AppError('forbidden', 'only owners and admins manage Business Profile posts');
    return { deleted: true, work: null };
  }
  await tx
    .query(`UPDATE app.gbp_posts SET state = 'deleting' WHERE business_id = $1 AND id = $2`, [businessId, id])
    .catch(mapDbError);
  const post = await getPost(tx, businessId, id);
  return { deleted: false, work: workOf(businessId, post) };
}
