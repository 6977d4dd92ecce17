// "Summarize" on the contact page: five lines from the thread, notes and open deal,
// with the date they were made. Shown as plain text.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, bpath, errorMessage } from '../api/client.ts';
import { useBusiness } from '../app/me.ts';
import { formatDateTime } from '../components/format.ts';
import { Alert } from '../components/states.tsx';
import { aiUnavailableReason, useAiStatus, type AiFlag } from './api.ts';
import { AiFlags } from './flags.tsx';

interface Summary {
  id: string;
  text: string;
  flags: AiFlag[];
  model: string;
  created_at: string;
}

export function ContactSummary({ cid }: { cid: string }) {
  const { bid, canManage } = useBusiness();
  const queryClient = useQueryClient();
  const status = useAiStatus(bid);
  const key = ['ai-summary', bid, cid];
  const latest = useQuery({
    queryKey: key,
    queryFn: () => api<{ summary: Summary | null }>(bpath(bid, 'contacts', cid, 'summary')),
  });
  const make = useMutation({
    mutationFn: () => api<Summary>(bpath(bid, 'contacts', cid, 'summary'), { body: {} }),
    onSuccess: (s) => queryClient.setQueryData(key, { summary: s }),
  });
  const reason = aiUnavailableReason(status.data, canManage);
  const summary = latest.data?.summary;
  return (
    <section className="card" aria-labelledby="ai-summary-h">
      <div className="row-between">
        <h2 id="ai-summary-h">AI summary</h2>
        {!reason && (
          <button type="button" onClick={() => make.mutate()} disabled={make.isPending || status.isPending}>
            {make.isPending ? 'Summarizing…' : 'Summarize'}
          </button>
        )}
      </div>
      {reason && <p className="small muted">{reason}</p>}
      {make.isError && <Alert kind="error">{errorMessage(make.error)}</Alert>}
      {summary ? (
        <>
          <p className="ai-text" data-testid="ai-summary">
            {summary.text}
          </p>
          <p className="small muted">Made {formatDateTime(summary.created_at)}</p>
          <AiFlags flags={summary.flags} />
        </>
      ) : (
        !reason && <p className="small muted">No summary yet.</p>
      )}
    </section>
  );
}
