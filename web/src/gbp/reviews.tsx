// Business Profile reviews (docs/ARCHITECTURE.md §26): as last synced, newest first, with the
// stars, text, reviewer, time and the current reply; "Unanswered only", "Sync now" (any member),
// and for owners and admins a reply or an edit of it, which a job sends to Google. "Draft a reply"
// asks the business's AI provider for a draft of that one review's reply and puts it in the box:
// nothing is sent until the person edits it and presses Send reply.
import { useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { call, typedApi } from '../api/typed.ts';
import { useBusiness } from '../app/me.ts';
import { TextArea } from '../components/field.tsx';
import { formatDateTime } from '../components/format.ts';
import { Alert, Empty, Loading } from '../components/states.tsx';
import type { Review } from './api.ts';
import { GbpError } from './location.tsx';

const REPLY_LIMIT = 4096;

function Stars({ n }: { n: number }) {
  return (
    <span className="gbp-stars" role="img" aria-label={`${n} out of 5 stars`} data-testid="gbp-stars">
      {'★'.repeat(n)}
      <span className="gbp-stars-off">{'★'.repeat(5 - n)}</span>
    </span>
  );
}

function ReplyForm({ bid, review, onDone }: { bid: string; review: Review; onDone: () => void }) {
  const queryClient = useQueryClient();
  const [text, setText] = useState(review.pending_reply?.comment ?? review.reply?.comment ?? '');
  const send = useMutation({
    mutationFn: () =>
      call(
        typedApi.PUT('/api/businesses/{bid}/google/reviews/{id}/reply', {
          params: { path: { bid, id: review.id } },
          body: { comment: text },
        }),
      ),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: ['gbp-reviews', bid] });
      onDone();
    },
  });
  const aiDraft = useMutation({
    mutationFn: () =>
      call(
        typedApi.POST('/api/businesses/{bid}/google/reviews/{id}/draft-reply', {
          params: { path: { bid, id: review.id } },
        }),
      ),
    onSuccess: (d) => setText(d.text),
  });
  const length = text.trim().length;
  const who = review.reviewer_name ?? 'an anonymous reviewer';
  const flagged = aiDraft.data?.flags ?? [];
  return (
    <form
      className="stack"
      aria-label={`Reply to ${who}`}
      onSubmit={(e: FormEvent) => {
        e.preventDefault();
        send.mutate();
      }}
    >
      {send.isError && <GbpError bid={bid} error={send.error} />}
      {aiDraft.isError && <GbpError bid={bid} error={aiDraft.error} />}
      {aiDraft.isSuccess && (
        <p className="small muted" role="status" data-testid="gbp-ai-draft-note">
          AI draft — read and edit it before you send; nothing is posted until you do.
          {flagged.length > 0 &&
            ` Check ${flagged.map((f) => f.value).join(', ')}: the review did not mention ${flagged.length === 1 ? 'it' : 'them'}.`}
        </p>
      )}
      <TextArea
        label={`Your public reply to ${who}`}
        rows={4}
        required
        value={text}
        onChange={(e) => setText(e.target.value)}
        hint={`${length.toLocaleString()} / ${REPLY_LIMIT.toLocaleString()} characters. Everyone who reads the review sees it.`}
        error={length > REPLY_LIMIT ? `Google allows ${REPLY_LIMIT.toLocaleString()} characters.` : null}
      />
      <div className="row">
        <button type="submit" className="primary" disabled={send.isPending || length === 0 || length > REPLY_LIMIT}>
          Send reply
        </button>
        <button
          type="button"
          data-testid="gbp-draft-reply"
          disabled={aiDraft.isPending || send.isPending}
          onClick={() => aiDraft.mutate()}
        >
          {aiDraft.isPending ? 'Drafting…' : 'Draft a reply'}
        </button>
        <button type="button" onClick={onDone}>
          Cancel
        </button>
      </div>
    </form>
  );
}

function ReviewItem({ bid, review, canManage }: { bid: string; review: Review; canManage: boolean }) {
  const [replying, setReplying] = useState(false);
  const pending = review.pending_reply;
  return (
    <li className="gbp-review" data-testid="gbp-review">
      <div className="row-between">
        <div>
          <Stars n={review.star_rating} /> <strong>{review.reviewer_name ?? 'Anonymous reviewer'}</strong>
          <div className="small muted">{formatDateTime(review.reviewed_at)}</div>
        </div>
        {canManage && !replying && pending?.state !== 'sending' && (
          <button type="button" onClick={() => setReplying(true)}>
            {review.reply || pending ? 'Edit reply' : 'Reply'}
          </button>
        )}
      </div>
      <p>{review.comment ?? <span className="muted">A rating without text.</span>}</p>
      {review.reply && (
        <blockquote className="gbp-reply" data-testid="gbp-reply">
          <div className="small muted">
            Your reply{review.reply.updated_at ? `, ${formatDateTime(review.reply.updated_at)}` : ''}
          </div>
          {review.reply.comment}
        </blockquote>
      )}
      {pending?.state === 'sending' && (
        <p className="small" role="status" data-testid="gbp-reply-sending">
          Sending your reply to Google: “{pending.comment}”
        </p>
      )}
      {pending?.state === 'failed' && (
        <Alert kind="error">
          Google did not take your reply{pending.error ? `: ${pending.error}` : '.'} Edit it and send it again.
        </Alert>
      )}
      {replying && <ReplyForm bid={bid} review={review} onDone={() => setReplying(false)} />}
    </li>
  );
}

export function ReviewsPane() {
  const { bid, canManage } = useBusiness();
  const queryClient = useQueryClient();
  const [unanswered, setUnanswered] = useState(false);
  const [synced, setSynced] = useState<string>('');
  const reviews = useQuery({
    queryKey: ['gbp-reviews', bid, unanswered],
    queryFn: async () =>
      (
        await call(
          typedApi.GET('/api/businesses/{bid}/google/reviews', {
            params: { path: { bid }, query: unanswered ? { unanswered: 'true' } : {} },
          }),
        )
      ).items,
    refetchInterval: (q) => ((q.state.data ?? []).some((r) => r.pending_reply?.state === 'sending') ? 2000 : false),
  });
  const sync = useMutation({
    mutationFn: () => call(typedApi.POST('/api/businesses/{bid}/google/reviews/sync', { params: { path: { bid } } })),
    onSuccess: async (r) => {
      setSynced(
        r.new_reviews === 0
          ? 'Up to date: no new reviews at Google.'
          : `Synced: ${r.new_reviews} new review${r.new_reviews === 1 ? '' : 's'}.`,
      );
      await queryClient.invalidateQueries({ queryKey: ['gbp-reviews', bid] });
    },
  });
  return (
    <section className="stack" aria-labelledby="gbp-reviews-h">
      <div className="row-between">
        <h2 id="gbp-reviews-h">Reviews</h2>
        <div className="row">
          <label className="checkbox">
            <input type="checkbox" checked={unanswered} onChange={(e) => setUnanswered(e.target.checked)} /> Unanswered
            only
          </label>
          <button
            type="button"
            disabled={sync.isPending}
            onClick={() => {
              setSynced('');
              sync.mutate();
            }}
          >
            {sync.isPending ? 'Syncing…' : 'Sync now'}
          </button>
        </div>
      </div>
      {synced && <Alert kind="ok">{synced}</Alert>}
      {sync.isError && <GbpError bid={bid} error={sync.error} />}
      {reviews.isPending ? (
        <Loading label="Loading reviews…" />
      ) : reviews.isError ? (
        <GbpError bid={bid} error={reviews.error} retry={() => void reviews.refetch()} />
      ) : reviews.data.length === 0 ? (
        <Empty>
          {unanswered
            ? 'Every review has a reply.'
            : 'No reviews yet. Reviews are read from Google every 15 minutes, or now with Sync now.'}
        </Empty>
      ) : (
        <div className="card">
          <ul className="list-plain" data-testid="gbp-reviews">
            {reviews.data.map((r) => (
              <ReviewItem key={r.id} bid={bid} review={r} canManage={canManage} />
            ))}
          </ul>
        </div>
      )}
      {!canManage && <p className="small muted">Owners and admins reply to reviews.</p>}
    </section>
  );
}
