// Business Profile reviews (docs/ARCHITECTURE.md §26): sync from Google (periodically by the
// `gbp.reviews-sync` job and on demand), list with an "unanswered" filter, and replies. Google is
// the truth for reviews and their current reply; a reply an owner/admin writes is stored as a
// draft in her request and sent by the `gbp.reply` job (updateReply is a PUT: sending it twice is
// harmless), so nothing is sent inside a request. A review of 3 stars or fewer that is new — first
// seen by a sync and written after the location was attached — notifies the business's owners and
// admins in-app, in the sync's own transaction, once (the insert of its row decides).
import type { Database, Tx } from '../db/index.ts';
import type { Logger } from '../observability/logger.ts';
import { AppError } from '../shared/errors.ts';
import { asUpstream, type GbpAccess } from './access.ts';
import { GbpApiError, type GbpClient, type GbpReview } from './client.ts';

const STARS: Record<string, number> = { ONE: 1, TWO: 2, THREE: 3, FOUR: 4, FIVE: 5 };

export interface Review {
  id: string;
  star_rating: number;
  comment: string | null;
  reviewer_name: string | null;
  reviewed_at: string;
  reply: { comment: string; updated_at: string | null } | null;
  pending_reply: { comment: string; state: 'sending' | 'failed'; error: string | null } | null;
}

interface Row {
  id: string;
  star_rating: number;
  comment: string | null;
  reviewer_name: string | null;
  reviewed_at: Date;
  reply_comment: string | null;
  reply_updated_at: Date | null;
  reply_draft: string | null;
  reply_state: 'sending' | 'failed' | null;
  reply_error: string | null;
}

const shape = (r: Row): Review => ({
  id: r.id,
  star_rating: r.star_rating,
  comment: r.comment,
  reviewer_name: r.reviewer_name,
  reviewed_at: r.reviewed_at.toISOString(),
  reply: r.reply_comment ? { comment: r.reply_comment, updated_at: r.reply_updated_at?.toISOString() ?? null } : null,
  pending_reply:
    r.reply_draft && r.reply_state ? { comment: r.reply_draft, state: r.reply_state, error: r.reply_error } : null,
});
const COLUMNS = `id, star_rating, comment, reviewer_name, reviewed_at, reply_comment, reply_updated_at, reply_draft,
                 reply_state, reply_error`;

export async function listReviews(
  tx: Tx,
  businessId: string,
  filter: { unanswered?: boolean; limit?: number },
): Promise<Review[]> {
  const r = await tx.query<Row>(
    `SELECT ${COLUMNS} FROM app.gbp_reviews
      WHERE business_id = $1 AND (NOT $2::boolean OR reply_comment IS NULL)
      ORDER BY reviewed_at DESC, id LIMIT $3`,
    [businessId, filter.unanswered ?? false, filter.limit ?? 200],
  );
  return r.rows.map(shape);
}

/** As the caller: ask for a reply (owners/admins; 0122's policy). Returns the review. */
export async function requestReply(tx: Tx, businessId: string, reviewId: string, comment: string): Promise<Review> {
  const ok = await tx.query<{ ok: boolean }>(`SELECT app.has_role($1, 'admin') AS ok`, [businessId]);
  if (!ok.rows[0]?.ok) throw new AppError('forbidden', 'only owners and admins reply to reviews');
  const r = await tx.query<Row>(
    `UPDATE app.gbp_reviews SET reply_draft = $3, reply_state = 'sending', reply_requested_by = (select app.uid())
      WHERE business_id = $1 AND id = $2 RETURNING ${COLUMNS}`,
    [businessId, reviewId, comment],
  );
  if (!r.rows[0]) throw new AppError('not_found', 'review not found');
  return shape(r.rows[0]);
}

export function createGbpReviews(deps: { db: Database; client: GbpClient; access: GbpAccess; logger?: Logger }) {
  const { db, client, access } = deps;

  async function store(businessId: string, location: { id: string; attached_at: Date }, reviews: GbpReview[]) {
    return db.asService('gbp.reviews.store', async (tx) => {
      let added = 0;
      for (const g of reviews) {
        const stars = STARS[g.starRating ?? ''];
        if (!stars || !g.name) continue;
        const r = await tx.query<{ id: string; inserted: boolean; reviewed_at: Date }>(
          `INSERT INTO app.gbp_reviews (business_id, location_id, google_name, star_rating, comment, reviewer_name,
                                        reviewed_at, review_updated_at, reply_comment, reply_updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
           ON CONFLICT (business_id, google_name) DO UPDATE SET
             star_rating = EXCLUDED.star_rating, comment = EXCLUDED.comment, reviewer_name = EXCLUDED.reviewer_name,
             review_updated_at = EXCLUDED.review_updated_at, reply_comment = EXCLUDED.reply_comment,
             reply_updated_at = EXCLUDED.reply_updated_at, location_id = EXCLUDED.location_id, synced_at = now()
           RETURNING id, (xmax = 0) AS inserted, reviewed_at`,
          [
            businessId,
            location.id,
            g.name.slice(0, 400),
            stars,
            g.comment?.slice(0, 10000) ?? null,
            g.reviewer?.isAnonymous ? null : (g.reviewer?.displayName?.slice(0, 300) ?? null),
            g.createTime ?? new Date().toISOString(),
            g.updateTime ?? null,
            g.reviewReply?.comment?.slice(0, 4096) ?? null,
            g.reviewReply?.updateTime ?? null,
          ],
        );
        const row = r.rows[0]!;
        if (!row.inserted) continue;
        added++;
        // Older reviews found by the first sync are history, not news.
        if (stars > 3 || row.reviewed_at.getTime() < location.attached_at.getTime() - 86_400_000) continue;
        const who = g.reviewer?.isAnonymous ? 'someone' : (g.reviewer?.displayName ?? 'someone');
        await tx.query(
          `INSERT INTO app.notifications (business_id, user_id, kind, title, body, link, subject_id)
           SELECT m.business_id, m.user_id, 'gbp_review', left($2, 200), left($3, 500), $4, $5
             FROM app.memberships m WHERE m.business_id = $1 AND m.role >= 'admin'`,
          [
            businessId,
            `New ${stars}-star Google review from ${who}`,
            g.comment ?? '',
            `/business-profile?review=${row.id}`,
            row.id,
          ],
        );
      }
      return added;
    });
  }

  return {
    /** Sync one business's reviews now (service role). Returns how many were new. */
    async sync(businessId: string, signal?: AbortSignal): Promise<number> {
      const loc = await db.asService('gbp.reviews.location', (tx) =>
        tx.query<{ id: string; account_name: string; location_name: string; status: string; attached_at: Date }>(
          'SELECT id, account_name, location_name, status, attached_at FROM app.gbp_locations WHERE business_id = $1',
          [businessId],
        ),
      );
      const location = loc.rows[0];
      if (!location) throw new AppError('gbp_location_required', 'attach a Business Profile location first');
      if (location.status !== 'active')
        throw new AppError('google_reauth_required', 'Google no longer accepts this connection; connect again');
      const reviews = await access.withToken(businessId, (token) =>
        client.listReviews(token, `${location.account_name}/${location.location_name}`, signal),
      );
      return store(businessId, location, reviews);
    },

    /** Every active location, each on its own (the periodic job). */
    async syncAll(signal?: AbortSignal): Promise<void> {
      const r = await db.asService('gbp.reviews.all', (tx) =>
        tx.query<{ business_id: string }>(`SELECT business_id FROM app.gbp_locations WHERE status = 'active'`),
      );
      for (const { business_id } of r.rows) {
        if (signal?.aborted) return;
        await this.sync(business_id, signal).catch((e: unknown) =>
          deps.logger?.warn(
            { business_id, code: e instanceof AppError ? e.code : e instanceof GbpApiError ? e.reason : 'error' },
            'business profile review sync failed',
          ),
        );
      }
    },

    /** The reply job: send the pending draft (idempotent PUT), then record it. */
    async sendReply(businessId: string, reviewId: string): Promise<'sent' | 'failed' | 'skipped'> {
      const r = await db.asService('gbp.reply.read', (tx) =>
        tx.query<{ google_name: string; reply_draft: string | null; reply_state: string | null }>(
          'SELECT google_name, reply_draft, reply_state FROM app.gbp_reviews WHERE business_id = $1 AND id = $2',
          [businessId, reviewId],
        ),
      );
      const review = r.rows[0];
      if (!review?.reply_draft || review.reply_state !== 'sending') return 'skipped';
      const draft = review.reply_draft;
      const fail = async (message: string) => {
        await db.asService('gbp.reply.fail', (tx) =>
          tx.query(
            `UPDATE app.gbp_reviews SET reply_state = 'failed', reply_error = left($4, 500)
              WHERE business_id = $1 AND id = $2 AND reply_draft = $3 AND reply_state = 'sending'`,
            [businessId, reviewId, draft, message],
          ),
        );
        return 'failed' as const;
      };
      try {
        const sent = await access.withToken(businessId, (token) =>
          client.updateReply(token, review.google_name, draft),
        );
        // Only the draft that was sent is cleared: a newer edit waits for its own job.
        await db.asService('gbp.reply.record', (tx) =>
          tx.query(
            `UPDATE app.gbp_reviews SET reply_comment = $3, reply_updated_at = coalesce($4::timestamptz, now()),
                    reply_draft = CASE WHEN reply_draft = $3 THEN NULL ELSE reply_draft END,
                    reply_state = CASE WHEN reply_draft = $3 THEN NULL ELSE reply_state END, reply_error = NULL
              WHERE business_id = $1 AND id = $2`,
            [businessId, reviewId, draft, sent.updateTime ?? null],
          ),
        );
        return 'sent';
      } catch (e) {
        if (e instanceof AppError && ['google_reauth_required', 'google_scope_missing', 'not_found'].includes(e.code))
          return fail(e.message);
        if (e instanceof GbpApiError && e.kind === 'permanent') return fail(`Google refused: ${e.message}`);
        throw new AppError('delivery_deferred', 'Google did not answer; the reply will be sent again', { cause: e });
      }
    },

    asUpstream,
  };
}

export type GbpReviews = ReturnType<typeof createGbpReviews>;
