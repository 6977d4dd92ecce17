// "Draft a reply" for a Business Profile review (docs/ARCHITECTURE.md §26) through the business's AI
// provider and src/ai's one-call path (§23): the switch and provider checked as the caller, the
// budget and the caller's per-minute limit at admission, the call recorded (feature `review_reply`).
// The prompt holds only that review — its text, its stars, the reviewer's first name — and the
// business's name: no FAQ, no contact, no other review. Nothing is posted: the draft goes back to
// the person, who edits it and replies (PUT …/reply).
import type { Tx } from '../db/index.ts';
import { completeCall, prepareCall, type AssistDeps, type AssistResult, type RunTx } from '../ai/assist.ts';
import { flagUnknownContacts } from '../ai/output-check.ts';
import { reviewReplyPrompt, type ReviewForReply } from '../ai/prompt.ts';
import { AppError, forbidden, notFound } from '../shared/errors.ts';

export const REVIEW_REPLY_MAX_TOKENS = 300;

/** The first word of the reviewer's display name (Google shows names as the reviewer chose them). */
export const firstNameOf = (name: string | null): string | null => name?.trim().split(/\s+/)[0]?.slice(0, 60) || null;

async function reviewForReply(tx: Tx, businessId: string, reviewId: string): Promise<ReviewForReply> {
  // Replies are public speech by owners and admins (0122); so is spending the budget on drafting one.
  const admin = await tx.query<{ ok: boolean }>(`SELECT app.has_role($1, 'admin') AS ok`, [businessId]);
  if (!admin.rows[0]?.ok) throw forbidden('only owners and admins reply to reviews');
  const r = await tx.query<{
    business_name: string;
    reviewer_name: string | null;
    star_rating: number;
    comment: string | null;
  }>(
    `SELECT b.name AS business_name, r.reviewer_name, r.star_rating, r.comment
       FROM app.gbp_reviews r JOIN app.businesses b ON b.id = r.business_id
      WHERE r.business_id = $1 AND r.id = $2`,
    [businessId, reviewId],
  );
  const row = r.rows[0];
  if (!row) throw notFound('review');
  return {
    businessName: row.business_name,
    reviewerFirstName: firstNameOf(row.reviewer_name),
    stars: row.star_rating,
    text: row.comment,
  };
}

export async function draftReviewReply(
  deps: AssistDeps,
  asCaller: RunTx,
  who: { businessId: string; userId: string },
  reviewId: string,
): Promise<AssistResult> {
  const prepared = await prepareCall(deps, asCaller, who, 'review_reply', REVIEW_REPLY_MAX_TOKENS, async (tx) => {
    const review = await reviewForReply(tx, who.businessId, reviewId);
    return { messages: reviewReplyPrompt(review), context: null };
  });
  const out = await completeCall(deps, prepared);
  const text = out.text.slice(0, 4096);
  if (!text) throw new AppError('ai_provider_error', 'the AI provider returned an empty draft; try again');
  // The prompt knows no phone number or email: any in the draft is the model's invention.
  return { ...out, text, flags: flagUnknownContacts(text, { knownContacts: { phones: [], emails: [] }, about: '' }) };
}
