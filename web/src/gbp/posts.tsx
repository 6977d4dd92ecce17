// Business Profile posts (docs/ARCHITECTURE.md §26): write an update, offer or event; save it as
// a draft, schedule it for a time in the business's time zone, or publish it now; edit and
// delete; and the calendar of drafts, scheduled and published posts with their state and, on a
// failure, Google's reason. Members read; only owners and admins are offered the controls.
import { useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { errorMessage } from '../api/client.ts';
import { call, typedApi } from '../api/typed.ts';
import { useBusiness } from '../app/me.ts';
import { ConfirmDialog } from '../components/confirm.tsx';
import { SelectField, TextArea, TextField } from '../components/field.tsx';
import { Alert, Empty, Loading } from '../components/states.tsx';
import { SUMMARY_LIMIT, useBusinessTimeZone, type Post, type PostBody } from './api.ts';
import { formatTimeIn, groupPostsByDay, whenOf } from './calendar.ts';
import { GbpError } from './location.tsx';

type Topic = 'update' | 'offer' | 'event';
type Action = 'draft' | 'schedule' | 'publish_now';
type Button = 'LEARN_MORE' | 'BOOK' | 'ORDER' | 'SHOP' | 'SIGN_UP' | 'CALL';

const TOPICS: [Topic, string][] = [
  ['update', 'Update'],
  ['offer', 'Offer'],
  ['event', 'Event'],
];
const BUTTONS: [Button, string][] = [
  ['LEARN_MORE', 'Learn more'],
  ['BOOK', 'Book'],
  ['ORDER', 'Order online'],
  ['SHOP', 'Buy'],
  ['SIGN_UP', 'Sign up'],
  ['CALL', 'Call now'],
];
const STATE_LABEL: Record<Post['state'], string> = {
  draft: 'Draft',
  scheduled: 'Scheduled',
  publishing: 'Publishing…',
  published: 'Published',
  updating: 'Updating at Google…',
  deleting: 'Deleting at Google…',
  failed: 'Failed',
  cancelled: 'Cancelled',
};
const STATE_BADGE: Partial<Record<Post['state'], string>> = {
  published: 'badge badge-ok',
  failed: 'badge badge-danger',
  cancelled: 'badge badge-warn',
};
/** States the job is working on: the list follows them until they settle. */
const IN_FLIGHT = new Set<Post['state']>(['scheduled', 'publishing', 'updating', 'deleting']);

interface Draft {
  topic_type: Topic;
  summary: string;
  button: '' | Button;
  button_url: string;
  image_url: string;
  event_title: string;
  event_start: string;
  event_end: string;
  coupon_code: string;
  terms: string;
  redeem_url: string;
  publish_at: string;
}

function draftOf(p: Post | null): Draft {
  return {
    topic_type: p?.topic_type ?? 'update',
    summary: p?.summary ?? '',
    button: (p?.call_to_action?.type as Button | undefined) ?? '',
    button_url: p?.call_to_action?.url ?? '',
    image_url: p?.image_url ?? '',
    event_title: p?.event?.title ?? '',
    event_start: p?.event?.start ?? '',
    event_end: p?.event?.end ?? '',
    coupon_code: p?.offer?.coupon_code ?? '',
    terms: p?.offer?.terms ?? '',
    redeem_url: p?.offer?.redeem_url ?? '',
    publish_at: p?.state === 'scheduled' || p?.state === 'failed' ? (p.publish_at_local ?? '') : '',
  };
}

/** The request body's content: every field sent, so an edit can also clear one. */
function contentOf(d: Draft): Omit<PostBody, 'action' | 'publish_at'> {
  const dated = d.topic_type !== 'update';
  return {
    topic_type: d.topic_type,
    summary: d.summary,
    call_to_action: d.button ? { type: d.button, url: d.button === 'CALL' ? null : d.button_url.trim() } : null,
    image_url: d.image_url.trim() || null,
    event: dated ? { title: d.event_title, start: d.event_start, end: d.event_end } : null,
    offer:
      d.topic_type === 'offer'
        ? {
            coupon_code: d.coupon_code.trim() || null,
            terms: d.terms.trim() || null,
            redeem_url: d.redeem_url.trim() || null,
          }
        : null,
  };
}

function PostForm({
  bid,
  timeZone,
  post,
  onDone,
}: {
  bid: string;
  timeZone: string;
  post: Post | null;
  onDone: (message: string) => void;
}) {
  const queryClient = useQueryClient();
  const [d, setD] = useState<Draft>(() => draftOf(post));
  const set =
    (k: keyof Draft) =>
    (e: { target: { value: string } }): void =>
      setD((cur) => ({ ...cur, [k]: e.target.value }));
  const atGoogle = post?.google_name != null;
  const save = useMutation({
    mutationFn: async (action: Action | null) => {
      const body = {
        ...contentOf(d),
        ...(action ? { action } : {}),
        ...(action === 'schedule' ? { publish_at: d.publish_at } : {}),
      };
      if (post)
        return call(
          typedApi.PATCH('/api/businesses/{bid}/google/posts/{id}', {
            params: { path: { bid, id: post.id } },
            body: atGoogle ? { ...body, topic_type: undefined } : body,
          }),
        );
      return call(typedApi.POST('/api/businesses/{bid}/google/posts', { params: { path: { bid } }, body }));
    },
    onSuccess: async (saved, action) => {
      await queryClient.invalidateQueries({ queryKey: ['gbp-posts', bid] });
      onDone(
        action === 'schedule'
          ? `Scheduled for ${saved.publish_at_local?.replace('T', ' ')} (${timeZone}).`
          : action === 'publish_now'
            ? 'Publishing to Google now.'
            : action === 'draft'
              ? 'Saved as a draft.'
              : 'Saved; Google is being updated.',
      );
    },
  });
  const length = d.summary.trim().length;
  const tooLong = length > SUMMARY_LIMIT;
  const blocked = save.isPending || length === 0 || tooLong;
  const submit = (action: Action | null) => (e?: FormEvent) => {
    e?.preventDefault();
    save.mutate(action);
  };
  const title = post ? 'Edit post' : 'New post';
  return (
    <form className="card stack" aria-label={title} onSubmit={submit(atGoogle ? null : 'draft')}>
      <h2>{title}</h2>
      {save.isError && <GbpError bid={bid} error={save.error} />}
      <div className="grid-2">
        <SelectField
          label="Type"
          value={d.topic_type}
          onChange={set('topic_type')}
          disabled={atGoogle}
          hint={atGoogle ? 'The type of a published post cannot change.' : undefined}
        >
          {TOPICS.map(([v, l]) => (
            <option key={v} value={v}>
              {l}
            </option>
          ))}
        </SelectField>
        <TextField
          label="Image URL (optional)"
          type="url"
          inputMode="url"
          placeholder="https://…"
          value={d.image_url}
          onChange={set('image_url')}
        />
      </div>
      <TextArea
        label="Text"
        required
        rows={5}
        value={d.summary}
        onChange={set('summary')}
        error={
          tooLong
            ? `Google allows ${SUMMARY_LIMIT.toLocaleString()} characters; remove ${length - SUMMARY_LIMIT}.`
            : null
        }
        hint={
          <span data-testid="gbp-summary-counter" className={tooLong ? 'counter-over' : undefined}>
            {length.toLocaleString()} / {SUMMARY_LIMIT.toLocaleString()} characters
          </span>
        }
      />
      {d.topic_type !== 'update' && (
        <div className="grid-2">
          <TextField
            label={d.topic_type === 'offer' ? 'Offer title' : 'Event title'}
            required
            maxLength={58}
            value={d.event_title}
            onChange={set('event_title')}
          />
          <div />
          <TextField
            label={`Starts (${timeZone})`}
            type="datetime-local"
            required
            value={d.event_start}
            onChange={set('event_start')}
          />
          <TextField
            label={`Ends (${timeZone})`}
            type="datetime-local"
            required
            value={d.event_end}
            onChange={set('event_end')}
          />
        </div>
      )}
      {d.topic_type === 'offer' && (
        <div className="grid-2">
          <TextField
            label="Coupon code (optional)"
            maxLength={58}
            value={d.coupon_code}
            onChange={set('coupon_code')}
          />
          <TextField
            label="Redeem online URL (optional)"
            type="url"
            placeholder="https://…"
            value={d.redeem_url}
            onChange={set('redeem_url')}
          />
          <TextArea label="Terms and conditions (optional)" rows={2} value={d.terms} onChange={set('terms')} />
        </div>
      )}
      <div className="grid-2">
        <SelectField label="Button (optional)" value={d.button} onChange={set('button')}>
          <option value="">No button</option>
          {BUTTONS.map(([v, l]) => (
            <option key={v} value={v}>
              {l}
            </option>
          ))}
        </SelectField>
        {d.button && d.button !== 'CALL' ? (
          <TextField
            label="Button link"
            type="url"
            required
            placeholder="https://…"
            value={d.button_url}
            onChange={set('button_url')}
          />
        ) : d.button === 'CALL' ? (
          <p className="small muted">Google calls the phone number on your Business Profile.</p>
        ) : null}
      </div>
      {!atGoogle && (
        <TextField
          label={`Publish at (${timeZone})`}
          type="datetime-local"
          value={d.publish_at}
          onChange={set('publish_at')}
          hint={`For Schedule: a time in the business's time zone, ${timeZone}.`}
        />
      )}
      <div className="row">
        {atGoogle ? (
          <button type="submit" className="primary" disabled={blocked}>
            Save changes
          </button>
        ) : (
          <>
            <button
              type="button"
              className="primary"
              disabled={blocked || !d.publish_at}
              onClick={() => submit('schedule')()}
            >
              Schedule
            </button>
            <button type="button" disabled={blocked} onClick={() => submit('publish_now')()}>
              Publish now
            </button>
            <button type="submit" disabled={blocked}>
              Save draft
            </button>
          </>
        )}
        <button type="button" onClick={() => onDone('')}>
          Cancel
        </button>
      </div>
    </form>
  );
}

function PostRow({
  post,
  timeZone,
  canManage,
  onEdit,
  onDelete,
}: {
  post: Post;
  timeZone: string;
  canManage: boolean;
  onEdit: () => void;
  onDelete: () => void;
}) {
  const editable = !['publishing', 'deleting', 'updating'].includes(post.state);
  return (
    <li className="gbp-post" data-testid="gbp-post" data-state={post.state}>
      <div className="row-between">
        <div className="small">
          {post.state === 'draft' ? 'Draft' : formatTimeIn(whenOf(post), timeZone)} ·{' '}
          {TOPICS.find(([v]) => v === post.topic_type)?.[1]} ·{' '}
          <span className={STATE_BADGE[post.state] ?? 'badge'} data-testid="gbp-post-state">
            {STATE_LABEL[post.state]}
          </span>
        </div>
        {canManage && (
          <div className="row">
            {editable && (
              <button type="button" onClick={onEdit}>
                Edit
              </button>
            )}
            {post.state !== 'publishing' && post.state !== 'deleting' && (
              <button type="button" className="danger" onClick={onDelete}>
                Delete
              </button>
            )}
          </div>
        )}
      </div>
      {post.event && (
        <div>
          <strong>{post.event.title}</strong>{' '}
          <span className="small muted">
            {post.event.start.replace('T', ' ')} – {post.event.end.replace('T', ' ')}
          </span>
        </div>
      )}
      <p className="gbp-summary">{post.summary}</p>
      {post.call_to_action && (
        <div className="small muted">
          Button: {BUTTONS.find(([v]) => v === post.call_to_action!.type)?.[1] ?? post.call_to_action.type}
          {post.call_to_action.url ? ` → ${post.call_to_action.url}` : ''}
        </div>
      )}
      {post.state === 'failed' && (
        <Alert kind="error">
          Google did not publish this post{post.error_message ? `: ${post.error_message}` : '.'} Edit it and schedule it
          again.
        </Alert>
      )}
      {post.state === 'cancelled' && (
        <p className="small muted">Cancelled when the location was detached. Edit it to schedule it again.</p>
      )}
      {post.search_url && post.state === 'published' && (
        <a className="small" href={post.search_url} target="_blank" rel="noreferrer noopener">
          View on Google
        </a>
      )}
    </li>
  );
}

export function PostsPane() {
  const { bid, canManage } = useBusiness();
  const queryClient = useQueryClient();
  const timeZone = useBusinessTimeZone(bid);
  const [editing, setEditing] = useState<Post | 'new' | null>(null);
  const [message, setMessage] = useState('');
  const [deleting, setDeleting] = useState<Post | null>(null);
  const posts = useQuery({
    queryKey: ['gbp-posts', bid],
    queryFn: async () =>
      (await call(typedApi.GET('/api/businesses/{bid}/google/posts', { params: { path: { bid }, query: {} } }))).items,
    refetchInterval: (q) => ((q.state.data ?? []).some((p) => IN_FLIGHT.has(p.state)) ? 2000 : false),
  });
  const remove = useMutation({
    mutationFn: (p: Post) =>
      call(typedApi.DELETE('/api/businesses/{bid}/google/posts/{id}', { params: { path: { bid, id: p.id } } })),
    onSuccess: async (_r, p) => {
      setDeleting(null);
      setMessage(p.google_name ? 'Deleting the post at Google.' : 'Post deleted.');
      await queryClient.invalidateQueries({ queryKey: ['gbp-posts', bid] });
    },
  });
  if (timeZone.isPending || posts.isPending) return <Loading label="Loading posts…" />;
  if (timeZone.isError) return <GbpError bid={bid} error={timeZone.error} retry={() => void timeZone.refetch()} />;
  if (posts.isError) return <GbpError bid={bid} error={posts.error} retry={() => void posts.refetch()} />;
  const zone = timeZone.data;
  const groups = groupPostsByDay(posts.data, zone);
  return (
    <section className="stack" aria-labelledby="gbp-posts-h">
      <div className="row-between">
        <h2 id="gbp-posts-h">Posts</h2>
        {canManage && editing === null && (
          <button
            type="button"
            className="primary"
            onClick={() => {
              setMessage('');
              setEditing('new');
            }}
          >
            New post
          </button>
        )}
      </div>
      {message && <Alert kind="ok">{message}</Alert>}
      {remove.isError && <Alert kind="error">{errorMessage(remove.error)}</Alert>}
      {editing !== null && (
        <PostForm
          key={editing === 'new' ? 'new' : editing.id}
          bid={bid}
          timeZone={zone}
          post={editing === 'new' ? null : editing}
          onDone={(m) => {
            setEditing(null);
            setMessage(m);
          }}
        />
      )}
      {groups.length === 0 ? (
        <Empty>
          No posts yet.{' '}
          {canManage
            ? 'Write an update, an offer or an event; publish it now or schedule it.'
            : 'Owners and admins write them.'}
        </Empty>
      ) : (
        <div className="stack" data-testid="gbp-calendar">
          <p className="small muted">Times are in the business's time zone, {zone}.</p>
          {groups.map((g) => (
            <section key={g.key} aria-label={g.label} className="card gbp-day">
              <h3>{g.label}</h3>
              <ul className="list-plain">
                {g.posts.map((p) => (
                  <PostRow
                    key={p.id}
                    post={p}
                    timeZone={zone}
                    canManage={canManage}
                    onEdit={() => {
                      setMessage('');
                      setEditing(p);
                    }}
                    onDelete={() => setDeleting(p)}
                  />
                ))}
              </ul>
            </section>
          ))}
        </div>
      )}
      <ConfirmDialog
        open={deleting !== null}
        title="Delete this post?"
        confirmLabel="Delete post"
        busy={remove.isPending}
        onConfirm={() => deleting && remove.mutate(deleting)}
        onCancel={() => setDeleting(null)}
      >
        <p>{deleting?.google_name ? 'It is removed from Google too.' : 'Google never had it; it is removed here.'}</p>
      </ConfirmDialog>
    </section>
  );
}
