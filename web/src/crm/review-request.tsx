// "Ask for a review" on a funded deal (docs/ARCHITECTURE.md §26 "Review requests"): pick a text or
// email template that carries {{ business.review_link }}, send it to the borrower, and see when
// the borrower was last asked. The server decides who may ask and refuses with a clear reason
// (no Business Profile location, asked within 180 days, opted out, quiet hours…).
import { useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, bpath, errorMessage, qs } from '../api/client.ts';
import type { ApiResponse } from '../api/typed.ts';
import { SelectField } from '../components/field.tsx';
import { formatDateTime } from '../components/format.ts';
import { Alert } from '../components/states.tsx';
import { useTemplates } from '../outreach/templates.tsx';

type Requests = ApiResponse<'/api/businesses/{bid}/gbp/review-requests', 'get'>;

export function ReviewRequestCard({ bid, did }: { bid: string; did: string }) {
  const queryClient = useQueryClient();
  const [channel, setChannel] = useState<'sms' | 'email'>('sms');
  const [templateId, setTemplateId] = useState('');
  const [sent, setSent] = useState(false);
  const templates = useTemplates(bid);
  const key = ['review-requests', bid, did];
  const asked = useQuery({
    queryKey: key,
    queryFn: () => api<Requests>(bpath(bid, 'gbp', 'review-requests') + qs({ deal_id: did, limit: 5 })),
  });
  const usable = (templates.data ?? []).filter(
    (t) => t.channel === channel && `${t.subject ?? ''} ${t.body}`.includes('business.review_link'),
  );
  const chosen = usable.some((t) => t.id === templateId) ? templateId : (usable[0]?.id ?? '');
  const ask = useMutation({
    mutationFn: () =>
      api(bpath(bid, 'gbp', 'review-requests'), { body: { channel, template_id: chosen, deal_id: did } }),
    onSuccess: async () => {
      setSent(true);
      await queryClient.invalidateQueries({ queryKey: key });
    },
  });
  const last = asked.data?.items[0];
  return (
    <form
      className="card"
      aria-labelledby="review-request-h"
      onSubmit={(e: FormEvent) => {
        e.preventDefault();
        setSent(false);
        if (chosen) ask.mutate();
      }}
    >
      <h2 id="review-request-h">Ask for a review</h2>
      <p className="small muted" data-testid="review-last-asked">
        {last
          ? `Last asked ${formatDateTime(last.created_at)} by ${last.channel === 'sms' ? 'text' : 'email'}.`
          : 'The borrower has not been asked for a Google review yet.'}
      </p>
      {ask.isError && <Alert kind="error">{errorMessage(ask.error)}</Alert>}
      {sent && <Alert kind="ok">Review request queued.</Alert>}
      <div className="grid-2">
        <SelectField label="Send by" value={channel} onChange={(e) => setChannel(e.target.value as 'sms' | 'email')}>
          <option value="sms">Text</option>
          <option value="email">Email</option>
        </SelectField>
        <SelectField
          label="Template"
          value={chosen}
          onChange={(e) => setTemplateId(e.target.value)}
          hint={usable.length === 0 ? 'Create a template with {{ business.review_link }} first.' : undefined}
        >
          {usable.map((t) => (
            <option key={t.id} value={t.id}>
              {t.name}
            </option>
          ))}
        </SelectField>
      </div>
      <button type="submit" disabled={ask.isPending || !chosen}>
        {ask.isPending ? 'Sending…' : 'Ask for a review'}
      </button>
    </form>
  );
}
