// The AI drafts review queue: each draft waits for a person to edit and approve (which
// sends it, in her name) or discard it. Nothing in the queue is ever sent on its own.
import { useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link } from 'react-router';
import { api, bpath, errorMessage } from '../api/client.ts';
import { useBusiness } from '../app/me.ts';
import { formatDateTime } from '../components/format.ts';
import { Alert, Empty, QueryView } from '../components/states.tsx';
import { aiUnavailableReason, useAiStatus, type AiFlag } from './api.ts';
import { AiFlags } from './flags.tsx';

interface Draft {
  id: string;
  conversation_id: string;
  contact_id: string;
  contact_name: string;
  body: string;
  flags: AiFlag[];
  origin: 'manual' | 'automation';
  created_at: string;
}

function DraftCard({ bid, draft }: { bid: string; draft: Draft }) {
  const queryClient = useQueryClient();
  const [body, setBody] = useState(draft.body);
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['ai-drafts', bid] });
  const approve = useMutation({
    mutationFn: () => api(bpath(bid, 'ai', 'drafts', draft.id, 'approve'), { body: { body } }),
    onSuccess: refresh,
  });
  const discard = useMutation({
    mutationFn: () => api(bpath(bid, 'ai', 'drafts', draft.id, 'discard'), { method: 'POST', body: {} }),
    onSuccess: refresh,
  });
  const id = `draft-${draft.id}`;
  return (
    <li className="card" aria-label={`Draft for ${draft.contact_name || 'contact'}`}>
      <div className="row-between">
        <strong>
          <Link to={`/b/${bid}/inbox/${draft.conversation_id}`}>{draft.contact_name || 'Contact'}</Link>
        </strong>
        <span className="small muted">
          {draft.origin === 'automation' ? 'From an automation · ' : ''}
          {formatDateTime(draft.created_at)}
        </span>
      </div>
      <label htmlFor={id} className="sr-only">
        Draft text
      </label>
      <textarea id={id} value={body} maxLength={1600} onChange={(e) => setBody(e.target.value)} />
      <AiFlags flags={draft.flags} />
      {(approve.isError || discard.isError) && (
        <Alert kind="error">{errorMessage(approve.error ?? discard.error)}</Alert>
      )}
      <div className="row">
        <button
          type="button"
          className="primary"
          onClick={() => approve.mutate()}
          disabled={!body.trim() || approve.isPending || discard.isPending}
        >
          {approve.isPending ? 'Sending…' : 'Approve and send'}
        </button>
        <button type="button" onClick={() => discard.mutate()} disabled={approve.isPending || discard.isPending}>
          Discard
        </button>
      </div>
    </li>
  );
}

export function DraftsPage() {
  const { bid, canManage } = useBusiness();
  const status = useAiStatus(bid);
  const drafts = useQuery({
    queryKey: ['ai-drafts', bid],
    queryFn: async () => (await api<{ items: Draft[] }>(bpath(bid, 'ai', 'drafts'))).items,
  });
  const reason = aiUnavailableReason(status.data, canManage);
  return (
    <>
      <h1>AI drafts</h1>
      <p className="muted">
        Replies drafted by AI wait here for a person. Edit, then approve to send it in your name — or discard it.
      </p>
      {reason && <Alert kind="info">{reason}</Alert>}
      <QueryView query={drafts} loadingLabel="Loading drafts…">
        {(items) =>
          items.length === 0 ? (
            <Empty>No drafts waiting for review.</Empty>
          ) : (
            <ul className="list-plain stack">
              {items.map((d) => (
                <DraftCard key={d.id} bid={bid} draft={d} />
              ))}
            </ul>
          )
        }
      </QueryView>
    </>
  );
}
