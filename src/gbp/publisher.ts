// The `gbp.publish` job's work for one post (docs/ARCHITECTURE.md §26): publish a scheduled post
// once, patch an edited published post, delete a post at Google. Google's localPosts.create has no
// idempotency key, so "once across crashes and nodes" is made here, with §24's outbox rules:
//
//   claim     one service transaction locks the post (FOR UPDATE): a post not due, already done or
//             leased by another live attempt is left alone; otherwise it gets a lease and attempts+1.
//   mark      `committed_at` is set — fenced on the claim's attempt number, the state and a lease
//             with a call's timeout still left — and committed in the instant before the create
//             call can reach Google. It is never cleared.
//   reconcile an attempt that finds the mark set (a previous attempt may have created the post and
//             died, or lost Google's answer) lists the location's posts first and adopts one with the
//             same summary and type created since the mark that no other post of ours holds; only
//             when Google has none is the post created again.
//   record    the outcome commits only while the row is still this attempt's (`publishing`, same
//             attempts).
//
// Transient failures (429, 5xx, no answer) release the lease and throw `delivery_deferred`: pg-boss
// retries with backoff — except on the job's last attempt (the engine's retryCount has reached its
// retryLimit, docs/ARCHITECTURE.md §22), which ends the post `failed` with that last reason instead
// of leaving it `publishing` with no retry to come; the person sees why and can try again. Permanent ones (Google's 4xx) mark the post `failed` with Google's reason.
// A refused grant marks it `failed` (`google_reauth_required`) and the location `needs_reconnect`;
// later posts of that location fail at once without calling Google — no retry storm.
import type { Database } from '../db/index.ts';
import type { Logger } from '../observability/logger.ts';
import { AppError } from '../shared/errors.ts';
import type { GbpAccess } from './access.ts';
import { GbpApiError, type GbpClient, type LocalPostBody } from './client.ts';

export type PublishOutcome = 'published' | 'reconciled' | 'updated' | 'deleted' | 'failed' | 'skipped';

interface Claimed {
  id: string;
  business_id: string;
  state: 'publishing' | 'updating' | 'deleting';
  attempts: number;
  committed_at: Date | null;
  google_name: string | null;
  parent: string | null;
  body: LocalPostBody;
}

const TOPIC = { update: 'STANDARD', offer: 'OFFER', event: 'EVENT' } as const;

export function createGbpPublisher(deps: {
  db: Database;
  client: GbpClient;
  access: GbpAccess;
  logger?: Logger;
  leaseSeconds?: number;
}) {
  const { db, client, access } = deps;
  const lease = deps.leaseSeconds ?? 60;

  async function fail(postId: string, attempts: number, code: string, message: string): Promise<'failed'> {
    await db.asService('gbp.publish.fail', (tx) =>
      tx.query(
        `UPDATE app.gbp_posts SET state = 'failed', lease_until = NULL, error_code = $3, error_message = $4
          WHERE id = $1 AND attempts = $2 AND state IN ('publishing', 'updating', 'deleting')`,
        [postId, attempts, code.slice(0, 100), message.slice(0, 500)],
      ),
    );
    return 'failed';
  }

  async function release(postId: string, attempts: number): Promise<void> {
    await db.asService('gbp.publish.release', (tx) =>
      tx.query(`UPDATE app.gbp_posts SET lease_until = NULL WHERE id = $1 AND attempts = $2`, [postId, attempts]),
    );
  }

  /** Lock, check, lease. Returns undefined when there is nothing to do now. */
  async function claim(businessId: string, postId: string): Promise<Claimed | 'failed' | undefined> {
    return db.asService('gbp.publish.claim', async (tx) => {
      const r = await tx.query<{
        state: string;
        due: boolean;
        leased: boolean;
        attempts: number;
        committed_at: Date | null;
        google_name: string | null;
        account_name: string | null;
        location_name: string | null;
        location_status: string | null;
        topic_type: 'update' | 'offer' | 'event';
        summary: string;
        cta_type: string | null;
        cta_url: string | null;
        image_url: string | null;
        event_title: string | null;
        es: string | null;
        ee: string | null;
        offer_coupon: string | null;
        offer_terms: string | null;
        offer_url: string | null;
      }>(
        `SELECT p.state, p.publish_at <= now() AS due, coalesce(p.lease_until > now(), false) AS leased, p.attempts,
                p.committed_at, p.google_name, l.account_name, l.location_name, l.status AS location_status,
                p.topic_type, p.summary, p.cta_type, p.cta_url, p.image_url, p.event_title,
                to_char(p.event_start AT TIME ZONE b.time_zone, 'YYYY-MM-DD-HH24-MI') AS es,
                to_char(p.event_end AT TIME ZONE b.time_zone, 'YYYY-MM-DD-HH24-MI') AS ee,
                p.offer_coupon, p.offer_terms, p.offer_url
           FROM app.gbp_posts p JOIN app.businesses b ON b.id = p.business_id
           LEFT JOIN app.gbp_locations l ON l.id = p.location_id
          WHERE p.business_id = $1 AND p.id = $2
          FOR UPDATE OF p`,
        [businessId, postId],
      );
      const p = r.rows[0];
      if (!p) return undefined;
      if (!['scheduled', 'publishing', 'updating', 'deleting'].includes(p.state)) return undefined;
      if (p.state === 'scheduled' && !p.due) return undefined; // rescheduled: a later job is booked
      if (p.leased) throw new AppError('delivery_deferred', 'another attempt holds the post');
      const attempts = p.attempts + 1;
      const next = p.state === 'scheduled' ? 'publishing' : p.state;
      await tx.query(
        `UPDATE app.gbp_posts SET state = $2, attempts = $3, lease_until = now() + make_interval(secs => $4)
          WHERE id = $1`,
        [postId, next, attempts, lease],
      );
      const gone = !p.location_name || !p.account_name;
      if (gone && next !== 'deleting') {
        await tx.query(
          `UPDATE app.gbp_posts SET state = 'failed', lease_until = NULL, error_code = 'location_detached',
                  error_message = 'the Business Profile location was detached' WHERE id = $1`,
          [postId],
        );
        return 'failed' as const;
      }
      if (p.location_status === 'needs_reconnect') {
        await tx.query(
          `UPDATE app.gbp_posts SET state = 'failed', lease_until = NULL, error_code = 'google_reauth_required',
                  error_message = 'Google no longer accepts the connection; connect Google again' WHERE id = $1`,
          [postId],
        );
        return 'failed' as const;
      }
      // The business's wall clock, as Google's event schedule wants it (Date, TimeOfDay).
      const parts = (local: string) => {
        const [year, month, day, hours, minutes] = local.split('-').map(Number) as [
          number,
          number,
          number,
          number,
          number,
        ];
        return { date: { year, month, day }, time: { hours, minutes } };
      };
      const body: LocalPostBody = { languageCode: 'en-US', topicType: TOPIC[p.topic_type], summary: p.summary };
      if (p.cta_type && p.topic_type !== 'offer')
        body.callToAction = { actionType: p.cta_type, ...(p.cta_url ? { url: p.cta_url } : {}) };
      if (p.image_url) body.media = [{ mediaFormat: 'PHOTO', sourceUrl: p.image_url }];
      if (p.topic_type !== 'update' && p.event_title && p.es && p.ee) {
        const s = parts(p.es);
        const e = parts(p.ee);
        body.event = {
          title: p.event_title,
          schedule: { startDate: s.date, startTime: s.time, endDate: e.date, endTime: e.time },
        };
      }
      if (p.topic_type === 'offer')
        body.offer = {
          ...(p.offer_coupon ? { couponCode: p.offer_coupon } : {}),
          ...(p.offer_terms ? { termsConditions: p.offer_terms } : {}),
          ...(p.offer_url ? { redeemOnlineUrl: p.offer_url } : {}),
        };
      return {
        id: postId,
        business_id: businessId,
        state: next as Claimed['state'],
        attempts,
        committed_at: p.committed_at,
        google_name: p.google_name,
        parent: gone ? null : `${p.account_name}/${p.location_name}`,
        body,
      };
    });
  }

  async function markCommitted(c: Claimed): Promise<boolean> {
    const r = await db.asService('gbp.publish.mark', (tx) =>
      tx.query(
        `UPDATE app.gbp_posts SET committed_at = now()
          WHERE id = $1 AND attempts = $2 AND state = 'publishing' AND lease_until > now() + interval '12 seconds'`,
        [c.id, c.attempts],
      ),
    );
    return r.rowCount === 1;
  }

  async function recordPublished(c: Claimed, name: string, searchUrl: string | undefined): Promise<boolean> {
    const r = await db.asService('gbp.publish.record', (tx) =>
      tx.query(
        `UPDATE app.gbp_posts SET state = 'published', google_name = $3, search_url = $4, published_at = now(),
                lease_until = NULL, error_code = NULL, error_message = NULL
          WHERE id = $1 AND attempts = $2 AND state = 'publishing'`,
        [c.id, c.attempts, name.slice(0, 300), searchUrl?.slice(0, 2000) ?? null],
      ),
    );
    return r.rowCount === 1;
  }

  /** A post of ours that Google may already have: same summary and type, created since the mark. */
  async function findAtGoogle(
    c: Claimed,
    token: string,
    signal?: AbortSignal,
  ): Promise<{ name: string; searchUrl?: string } | undefined> {
    const since = c.committed_at!.getTime() - 60_000;
    const candidates = (await client.listPosts(token, c.parent!, signal))
      .filter(
        (p) =>
          p.summary === c.body.summary &&
          p.topicType === c.body.topicType &&
          (!p.createTime || Date.parse(p.createTime) >= since),
      )
      .sort((a, b) => Date.parse(a.createTime ?? '') - Date.parse(b.createTime ?? ''));
    for (const p of candidates) {
      const taken = await db.asService('gbp.publish.reconcile', (tx) =>
        tx.query('SELECT 1 FROM app.gbp_posts WHERE business_id = $1 AND google_name = $2', [c.business_id, p.name]),
      );
      if (taken.rowCount === 0) return { name: p.name, searchUrl: p.searchUrl };
    }
    return undefined;
  }

  async function publish(c: Claimed, signal?: AbortSignal): Promise<PublishOutcome> {
    return access.withToken(c.business_id, async (token) => {
      if (c.committed_at) {
        const found = await findAtGoogle(c, token, signal);
        if (found) {
          await recordPublished(c, found.name, found.searchUrl);
          return 'reconciled';
        }
      }
      if (!(await markCommitted(c))) throw new AppError('delivery_deferred', 'the lease ended before the call');
      c.committed_at = new Date();
      const created = await client.createPost(token, c.parent!, c.body, signal);
      await recordPublished(c, created.name, created.searchUrl);
      return 'published';
    });
  }

  async function update(c: Claimed, signal?: AbortSignal): Promise<PublishOutcome> {
    return access.withToken(c.business_id, async (token) => {
      await client.patchPost(token, c.google_name!, c.body, signal);
      await db.asService('gbp.publish.updated', (tx) =>
        tx.query(
          `UPDATE app.gbp_posts SET state = 'published', lease_until = NULL, error_code = NULL, error_message = NULL
            WHERE id = $1 AND attempts = $2 AND state = 'updating'`,
          [c.id, c.attempts],
        ),
      );
      return 'updated' as const;
    });
  }

  async function remove(c: Claimed, signal?: AbortSignal): Promise<PublishOutcome> {
    return access.withToken(c.business_id, async (token) => {
      try {
        await client.deletePost(token, c.google_name!, signal);
      } catch (e) {
        if (!(e instanceof GbpApiError && e.status === 404)) throw e; // already gone at Google
      }
      await db.asService('gbp.publish.deleted', (tx) =>
        tx.query(`DELETE FROM app.gbp_posts WHERE id = $1 AND attempts = $2 AND state = 'deleting'`, [
          c.id,
          c.attempts,
        ]),
      );
      return 'deleted' as const;
    });
  }

  return {
    /** `lastAttempt`: no retry follows this one, so a transient failure is final (the post fails). */
    async run(
      businessId: string,
      postId: string,
      signal?: AbortSignal,
      options: { lastAttempt?: boolean } = {},
    ): Promise<PublishOutcome> {
      const c = await claim(businessId, postId);
      if (c === undefined) return 'skipped';
      if (c === 'failed') return 'failed';
      try {
        if (c.state === 'publishing') return await publish(c, signal);
        if (c.state === 'updating') return await update(c, signal);
        return await remove(c, signal);
      } catch (e) {
        if (e instanceof AppError && (e.code === 'google_reauth_required' || e.code === 'google_scope_missing'))
          return fail(c.id, c.attempts, e.code, e.message);
        if (e instanceof AppError && e.code === 'not_found')
          return fail(c.id, c.attempts, 'google_not_connected', 'no Google account is connected');
        if (e instanceof GbpApiError && e.kind === 'permanent')
          return fail(c.id, c.attempts, `google_${e.reason}`.toLowerCase(), e.message);
        if (options.lastAttempt) {
          const [code, message] =
            e instanceof GbpApiError
              ? [`google_${e.reason}`.toLowerCase(), e.message]
              : e instanceof AppError
                ? [e.code, e.message]
                : ['google_unreachable', 'Google did not answer'];
          deps.logger?.warn(
            { post_id: c.id, code, attempts: c.attempts },
            'business profile post failed: retries exhausted',
          );
          return fail(c.id, c.attempts, code, `Gave up after ${c.attempts} attempts. Last answer: ${message}`);
        }
        await release(c.id, c.attempts);
        deps.logger?.warn(
          { post_id: c.id, code: e instanceof GbpApiError ? e.reason : e instanceof AppError ? e.code : 'error' },
          'business profile post deferred',
        );
        throw new AppError('delivery_deferred', 'Google did not answer; the post will be tried again', { cause: e });
      }
    },
  };
}

export type GbpPublisher = ReturnType<typeof createGbpPublisher>;
