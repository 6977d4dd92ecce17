// Campaigns: list with live counts, create (list + template + sender + when), review the
// audience after exclusions, send (owners/admins), pause (anyone), resume/cancel
// (owners/admins), progress and per-recipient results. The server enforces every rule;
// this screen hides only what would be refused.
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useParams } from 'react-router';
import { api, bpath, errorMessage, qs } from '../api/client.ts';
import { useBusiness } from '../app/me.ts';
import { SelectField, TextField } from '../components/field.tsx';
import { formatDateTime } from '../components/format.ts';
import { LoadMore, usePagedList } from '../components/load-more.tsx';
import { Alert, Empty, QueryView } from '../components/states.tsx';
import { toPage, type List } from '../crm/types.ts';
import { useEmailSenders } from '../settings/email-senders.tsx';
import type { TwilioConfig } from '../settings/integrations.tsx';
import { useTemplates } from './templates.tsx';

interface Counts {
  total: number;
  eligible: number;
  queued: number;
  sent: number;
  delivered: number;
  failed: number;
  skipped: number;
}
interface Campaign {
  id: string;
  name: string;
  channel: 'sms' | 'email';
  list_id: string | null;
  template_id: string;
  sender_id: string | null;
  send_at: string | null;
  status: 'draft' | 'scheduled' | 'sending' | 'paused' | 'completed' | 'cancelled';
  created_at: string;
  counts: Counts;
}
interface Review {
  list_members: number;
  eligible: number;
  excluded: Record<string, number>;
  postal_address: string | null;
}
interface Recipient {
  contact_id: string;
  first_name: string;
  last_name: string;
  address: string | null;
  status: string;
  reason: string | null;
}

const live = (s: Campaign['status']) => s === 'sending' || s === 'scheduled';

/** How many recipients the filter matches, where the counts say exactly (queued includes sending). */
function recipientTotal(c: Counts, filter: string): number | null {
  if (filter === '') return c.total;
  if (filter === 'sent' || filter === 'delivered' || filter === 'failed' || filter === 'skipped') return c[filter];
  return null;
}

function CountsLine({ c }: { c: Counts }) {
  // The API counts a text the carrier confirmed as delivered, not sent; both went out.
  return (
    <span data-testid="campaign-counts">
      {c.eligible} eligible · {c.queued} queued · {c.sent + c.delivered} sent
      {c.delivered > 0 && ` (${c.delivered} delivered)`} · {c.failed} failed · {c.skipped} skipped
    </span>
  );
}

function NewCampaign({ bid, onDone }: { bid: string; onDone: () => void }) {
  const queryClient = useQueryClient();
  const templates = useTemplates(bid);
  const senders = useEmailSenders(bid);
  const lists = useQuery({
    queryKey: ['lists', bid],
    queryFn: async () => toPage<List>(await api(bpath(bid, 'lists'))).items,
  });
  const numbers = useQuery({
    queryKey: ['twilio', bid],
    queryFn: async () => toPage<TwilioConfig>(await api(bpath(bid, 'integrations', 'twilio'))).items,
  });
  const [form, setForm] = useState({
    name: '',
    channel: 'email',
    list_id: '',
    template_id: '',
    sender_id: '',
    send_at: '',
  });
  const set = (k: keyof typeof form) => (e: { target: { value: string } }) =>
    setForm((f) => ({ ...f, [k]: e.target.value }));
  const create = useMutation({
    mutationFn: () =>
      api<Campaign>(bpath(bid, 'campaigns'), {
        body: {
          name: form.name,
          channel: form.channel,
          list_id: form.list_id,
          template_id: form.template_id,
          ...(form.sender_id ? { sender_id: form.sender_id } : {}),
          ...(form.send_at ? { send_at: new Date(form.send_at).toISOString() } : {}),
        },
      }),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: ['campaigns', bid] });
      onDone();
    },
  });
  const channelTemplates = (templates.data ?? []).filter((t) => t.channel === form.channel);
  return (
    <form
      className="card"
      aria-label="New campaign"
      onSubmit={(e: FormEvent) => {
        e.preventDefault();
        create.mutate();
      }}
    >
      <h2>New campaign</h2>
      {create.isError && <Alert kind="error">{errorMessage(create.error)}</Alert>}
      <div className="grid-2">
        <TextField label="Campaign name" required value={form.name} onChange={set('name')} />
        <SelectField label="Channel" value={form.channel} onChange={set('channel')}>
          <option value="email">Email</option>
          <option value="sms">SMS</option>
        </SelectField>
        <SelectField label="Audience list" required value={form.list_id} onChange={set('list_id')}>
          <option value="">Choose a list…</option>
          {(lists.data ?? []).map((l) => (
            <option key={l.id} value={l.id}>
              {l.name}
              {l.member_count !== undefined ? ` (${l.member_count})` : ''}
            </option>
          ))}
        </SelectField>
        <SelectField label="Template" required value={form.template_id} onChange={set('template_id')}>
          <option value="">Choose a template…</option>
          {channelTemplates.map((t) => (
            <option key={t.id} value={t.id}>
              {t.name}
            </option>
          ))}
        </SelectField>
        <SelectField
          label={form.channel === 'email' ? 'Email sender' : 'Twilio number'}
          value={form.sender_id}
          onChange={set('sender_id')}
        >
          <option value="">Default</option>
          {form.channel === 'email'
            ? (senders.data ?? []).map((s) => (
                <option key={s.id} value={s.id}>
                  {s.from_name} &lt;{s.from_email}&gt;
                </option>
              ))
            : (numbers.data ?? []).map((n) => (
                <option key={n.id} value={n.id}>
                  {n.friendly_name} {n.phone_number}
                </option>
              ))}
        </SelectField>
        <TextField
          label="Send at (optional)"
          type="datetime-local"
          value={form.send_at}
          onChange={set('send_at')}
          hint="Leave empty to send when started."
        />
      </div>
      <div className="row">
        <button type="submit" className="primary" disabled={create.isPending}>
          Create draft
        </button>
        <button type="button" onClick={onDone}>
          Cancel
        </button>
      </div>
    </form>
  );
}

export function CampaignsPage() {
  const { bid } = useBusiness();
  const [creating, setCreating] = useState(false);
  const campaigns = useQuery({
    queryKey: ['campaigns', bid],
    queryFn: async () => toPage<Campaign>(await api(bpath(bid, 'campaigns'))).items,
    refetchInterval: (q) => ((q.state.data ?? []).some((c) => live(c.status)) ? 1000 : false),
  });
  return (
    <div className="stack">
      <div className="row-between">
        <h1>Campaigns</h1>
        {!creating && (
          <button type="button" className="primary" onClick={() => setCreating(true)}>
            New campaign
          </button>
        )}
      </div>
      {creating && <NewCampaign bid={bid} onDone={() => setCreating(false)} />}
      <QueryView query={campaigns}>
        {(items) =>
          items.length === 0 ? (
            <Empty>
              No campaigns yet. A campaign sends one email or text template to everyone on a list, now or at a time you
              choose; opted-out contacts are skipped.
            </Empty>
          ) : (
            <div className="table-wrap">
              <table data-testid="campaigns">
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">Channel</th>
                    <th scope="col">Status</th>
                    <th scope="col">Progress</th>
                    <th scope="col">Created</th>
                  </tr>
                </thead>
                <tbody>
                  {items.map((c) => (
                    <tr key={c.id}>
                      <td>
                        <Link to={`/b/${bid}/campaigns/${c.id}`}>{c.name}</Link>
                      </td>
                      <td>{c.channel === 'sms' ? 'SMS' : 'Email'}</td>
                      <td>
                        <span className="badge">{c.status}</span>
                      </td>
                      <td className="small">
                        <CountsLine c={c.counts} />
                      </td>
                      <td>{formatDateTime(c.created_at)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )
        }
      </QueryView>
    </div>
  );
}

export function CampaignDetail() {
  const { bid, canManage } = useBusiness();
  const { campaignId = '' } = useParams();
  const queryClient = useQueryClient();
  const [filter, setFilter] = useState('');
  const campaign = useQuery({
    queryKey: ['campaign', bid, campaignId],
    queryFn: () => api<Campaign>(bpath(bid, 'campaigns', campaignId)),
    refetchInterval: (q) => (q.state.data && live(q.state.data.status) ? 1000 : false),
  });
  const review = useQuery({
    queryKey: ['campaign-review', bid, campaignId],
    queryFn: () => api<Review>(bpath(bid, 'campaigns', campaignId, 'review')),
    enabled: campaign.data?.status === 'draft',
  });
  const recipients = usePagedList<Recipient>({
    queryKey: ['campaign-recipients', bid, campaignId, filter],
    url: (cursor) =>
      bpath(bid, 'campaigns', campaignId, 'recipients') + qs({ status: filter || undefined, limit: 200, cursor }),
    enabled: campaign.data !== undefined && campaign.data.status !== 'draft',
  });
  // The counts move while a campaign sends: refetch the pages already loaded rather than
  // starting over at the first (the counts were part of the key, which reset "Load more").
  const counts = JSON.stringify(campaign.data?.counts ?? null);
  const { refetch: refetchRecipients } = recipients;
  const hasRecipients = recipients.data !== undefined;
  const seenCounts = useRef(counts);
  useEffect(() => {
    if (seenCounts.current === counts) return;
    seenCounts.current = counts;
    if (hasRecipients) void refetchRecipients();
  }, [counts, hasRecipients, refetchRecipients]);
  const act = useMutation({
    mutationFn: (action: 'start' | 'pause' | 'resume' | 'cancel') =>
      api(bpath(bid, 'campaigns', campaignId, action), { method: 'POST', body: {} }),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: ['campaign', bid, campaignId] });
      await queryClient.invalidateQueries({ queryKey: ['campaigns', bid] });
    },
  });
  return (
    <QueryView query={campaign}>
      {(c) => (
        <div className="stack">
          <p className="small">
            <Link to={`/b/${bid}/campaigns`}>← Campaigns</Link>
          </p>
          <h1>{c.name}</h1>
          <p>
            {c.channel === 'sms' ? 'SMS' : 'Email'} campaign ·{' '}
            <span className="badge" data-testid="campaign-status">
              {c.status}
            </span>
            {c.send_at ? ` · scheduled for ${formatDateTime(c.send_at)}` : ''}
          </p>
          {act.isError && <Alert kind="error">{errorMessage(act.error)}</Alert>}
          {c.status === 'draft' && (
            <section className="card" aria-labelledby="review-h">
              <h2 id="review-h">Review</h2>
              <QueryView query={review}>
                {(r) => (
                  <>
                    <p data-testid="review-eligible">
                      <strong>{r.eligible}</strong> of {r.list_members} list members will receive this campaign.
                    </p>
                    <ul className="list-plain small">
                      {Object.entries(r.excluded)
                        .filter(([, n]) => n > 0)
                        .map(([k, n]) => (
                          <li key={k}>
                            {n} excluded: {k.replace(/_/g, ' ')}
                          </li>
                        ))}
                    </ul>
                    {c.channel === 'email' && (
                      <p className="small muted">
                        Footer address: {r.postal_address ?? 'missing — add it in Settings → General'}
                      </p>
                    )}
                  </>
                )}
              </QueryView>
              {canManage ? (
                <button type="button" className="primary" disabled={act.isPending} onClick={() => act.mutate('start')}>
                  {c.send_at ? 'Schedule' : 'Send now'}
                </button>
              ) : (
                <p className="small muted">An owner or admin sends campaigns.</p>
              )}
            </section>
          )}
          {c.status !== 'draft' && (
            <section className="card" aria-labelledby="progress-h">
              <h2 id="progress-h">Progress</h2>
              <p>
                <CountsLine c={c.counts} />
              </p>
              <div className="row">
                {live(c.status) && (
                  <button type="button" onClick={() => act.mutate('pause')}>
                    Pause
                  </button>
                )}
                {canManage && c.status === 'paused' && (
                  <button type="button" onClick={() => act.mutate('resume')}>
                    Resume
                  </button>
                )}
                {canManage && (live(c.status) || c.status === 'paused') && (
                  <button type="button" className="danger" onClick={() => act.mutate('cancel')}>
                    Cancel campaign
                  </button>
                )}
              </div>
            </section>
          )}
          {c.status !== 'draft' && (
            <section className="card" aria-labelledby="recipients-h">
              <div className="row-between">
                <h2 id="recipients-h">Recipients</h2>
                <SelectField label="Show" value={filter} onChange={(e) => setFilter(e.target.value)}>
                  <option value="">All</option>
                  {['queued', 'sending', 'sent', 'delivered', 'failed', 'skipped'].map((s) => (
                    <option key={s} value={s}>
                      {s}
                    </option>
                  ))}
                </SelectField>
              </div>
              <QueryView query={recipients}>
                {(items) => (
                  <>
                    <div className="table-wrap">
                      <table data-testid="campaign-recipients">
                        <thead>
                          <tr>
                            <th scope="col">Contact</th>
                            <th scope="col">Address</th>
                            <th scope="col">Status</th>
                            <th scope="col">Why</th>
                          </tr>
                        </thead>
                        <tbody>
                          {items.map((r) => (
                            <tr key={r.contact_id}>
                              <td>
                                <Link to={`/b/${bid}/contacts/${r.contact_id}`}>
                                  {[r.first_name, r.last_name].filter(Boolean).join(' ') || '—'}
                                </Link>
                              </td>
                              <td>{r.address ?? '—'}</td>
                              <td>{r.status}</td>
                              <td className="small">{r.reason ?? ''}</td>
                            </tr>
                          ))}
                        </tbody>
                      </table>
                    </div>
                    <LoadMore
                      list={recipients}
                      total={recipientTotal(c.counts, filter)}
                      noun={filter ? `${filter} recipients` : 'recipients'}
                    />
                  </>
                )}
              </QueryView>
            </section>
          )}
        </div>
      )}
    </QueryView>
  );
}
