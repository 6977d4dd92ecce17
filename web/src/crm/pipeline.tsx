// Pipeline kanban. Drag a card to another column (HTML5 drag and drop) or, from the
// keyboard, pick the stage in the card's "Move to" select — both send one PATCH with
// the new stage; the server records the stage change.
import { useState, type DragEvent, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, bpath, errorMessage, qs } from '../api/client.ts';
import { useBusiness } from '../app/me.ts';
import { SelectField, TextField } from '../components/field.tsx';
import { formatMoney } from '../components/format.ts';
import { Alert, ErrorState, Loading } from '../components/states.tsx';
import { DEAL_STAGES, LOAN_TYPES, dealAmount, fetchAll, humanize, type Deal, type DealStage } from './types.ts';

function NewDealForm({ bid, onDone }: { bid: string; onDone: () => void }) {
  const queryClient = useQueryClient();
  const [form, setForm] = useState({ title: '', amount: '', loan_type: 'conventional', stage: 'lead' });
  const create = useMutation({
    mutationFn: () =>
      api(bpath(bid, 'deals'), {
        body: {
          title: form.title,
          loan_type: form.loan_type,
          stage: form.stage,
          amount_cents: Math.round(Number(form.amount || '0') * 100),
        },
      }),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: ['deals', bid] });
      onDone();
    },
  });
  const set = (k: keyof typeof form) => (e: { target: { value: string } }) =>
    setForm((f) => ({ ...f, [k]: e.target.value }));
  return (
    <form
      className="card"
      aria-label="New deal"
      onSubmit={(e: FormEvent) => {
        e.preventDefault();
        create.mutate();
      }}
    >
      <h2>New deal</h2>
      {create.isError && <Alert kind="error">{errorMessage(create.error)}</Alert>}
      <div className="grid-2">
        <TextField label="Title" required value={form.title} onChange={set('title')} autoFocus />
        <TextField
          label="Loan amount (USD)"
          type="number"
          min="0"
          step="1000"
          value={form.amount}
          onChange={set('amount')}
        />
        <SelectField label="Loan type" value={form.loan_type} onChange={set('loan_type')}>
          {LOAN_TYPES.map((t) => (
            <option key={t} value={t}>
              {humanize(t)}
            </option>
          ))}
        </SelectField>
        <SelectField label="Stage" value={form.stage} onChange={set('stage')}>
          {DEAL_STAGES.map((s) => (
            <option key={s} value={s}>
              {humanize(s)}
            </option>
          ))}
        </SelectField>
      </div>
      <div className="row">
        <button type="submit" className="primary" disabled={create.isPending || !form.title.trim()}>
          Save deal
        </button>
        <button type="button" onClick={onDone}>
          Cancel
        </button>
      </div>
    </form>
  );
}

export function PipelinePage() {
  const { bid } = useBusiness();
  const queryClient = useQueryClient();
  const key = ['deals', bid];
  const deals = useQuery({
    queryKey: key,
    queryFn: async () => ({ items: await fetchAll<Deal>(bpath(bid, 'deals') + qs({ limit: 200 }), (u) => api(u)) }),
  });
  const [dragging, setDragging] = useState<string | null>(null);
  const [over, setOver] = useState<DealStage | null>(null);
  const [adding, setAdding] = useState(false);
  const [announce, setAnnounce] = useState('');

  const move = useMutation({
    mutationFn: ({ deal, stage }: { deal: Deal; stage: DealStage }) =>
      api<Deal>(bpath(bid, 'deals', deal.id, 'move'), { body: { stage } }),
    onMutate: async ({ deal, stage }) => {
      // Optimistic: the card lands at once; the previous page comes back on failure.
      await queryClient.cancelQueries({ queryKey: key });
      const previous = queryClient.getQueryData(key);
      queryClient.setQueryData(key, (old: typeof deals.data) =>
        old ? { ...old, items: old.items.map((d) => (d.id === deal.id ? { ...d, stage } : d)) } : old,
      );
      setAnnounce(`Moved ${deal.title} to ${humanize(stage)}.`);
      return { previous };
    },
    onError: (_e, _v, ctx) => {
      if (ctx?.previous) queryClient.setQueryData(key, ctx.previous);
      setAnnounce('');
    },
    onSettled: () => void queryClient.invalidateQueries({ queryKey: key }),
  });

  function onDrop(e: DragEvent, stage: DealStage) {
    e.preventDefault();
    setOver(null);
    const id = e.dataTransfer.getData('text/plain') || dragging;
    const deal = deals.data?.items.find((d) => d.id === id);
    if (deal && deal.stage !== stage) move.mutate({ deal, stage });
    setDragging(null);
  }

  return (
    <>
      <div className="row-between">
        <h1>Pipeline</h1>
        <button type="button" className="primary" onClick={() => setAdding(true)}>
          New deal
        </button>
      </div>
      {adding && <NewDealForm bid={bid} onDone={() => setAdding(false)} />}
      <p className="sr-only" aria-live="polite">
        {announce}
      </p>
      {move.isError && <Alert kind="error">Could not move the deal: {errorMessage(move.error)}</Alert>}
      {deals.isPending ? (
        <Loading label="Loading deals…" />
      ) : deals.isError ? (
        <ErrorState error={deals.error} retry={() => void deals.refetch()} />
      ) : (
        <div className="kanban">
          {DEAL_STAGES.map((stage) => {
            const cards = deals.data.items.filter((d) => d.stage === stage);
            const total = cards.reduce((s, d) => s + dealAmount(d), 0);
            return (
              <section
                key={stage}
                className={`kanban-col${over === stage ? ' drop-target' : ''}`}
                aria-label={`${humanize(stage)} stage`}
                data-stage={stage}
                onDragOver={(e) => {
                  e.preventDefault();
                  e.dataTransfer.dropEffect = 'move';
                  setOver(stage);
                }}
                onDragLeave={() => setOver((o) => (o === stage ? null : o))}
                onDrop={(e) => onDrop(e, stage)}
              >
                <h2>
                  <span>{humanize(stage)}</span>
                  <span className="muted small">
                    {cards.length} · {formatMoney(total)}
                  </span>
                </h2>
                {cards.length === 0 && <p className="small muted">No deals</p>}
                {cards.map((d) => (
                  <article
                    key={d.id}
                    className={`deal-card${dragging === d.id ? ' dragging' : ''}`}
                    draggable
                    data-deal-id={d.id}
                    onDragStart={(e) => {
                      e.dataTransfer.setData('text/plain', d.id);
                      e.dataTransfer.effectAllowed = 'move';
                      setDragging(d.id);
                    }}
                    onDragEnd={() => {
                      setDragging(null);
                      setOver(null);
                    }}
                  >
                    <strong>{d.title}</strong>
                    <div className="small muted">
                      {humanize(d.loan_type)} · {formatMoney(dealAmount(d))}
                    </div>
                    {d.contact_name && <div className="small">{d.contact_name}</div>}
                    <label className="sr-only" htmlFor={`move-${d.id}`}>
                      Move {d.title} to stage
                    </label>
                    <select
                      id={`move-${d.id}`}
                      value={d.stage}
                      onChange={(e) => move.mutate({ deal: d, stage: e.target.value as DealStage })}
                    >
                      {DEAL_STAGES.map((s) => (
                        <option key={s} value={s}>
                          {s === d.stage ? `In ${humanize(s)}` : `Move to ${humanize(s)}`}
                        </option>
                      ))}
                    </select>
                  </article>
                ))}
              </section>
            );
          })}
        </div>
      )}
    </>
  );
}
