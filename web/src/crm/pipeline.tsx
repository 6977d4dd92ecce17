// Pipeline kanban. Drag a card to another column (HTML5 drag and drop) or, from the
// keyboard, choose the stage in the card's "Move to" select and press Move — both send
// one move; the server records the stage change. The board scrolls sideways inside
// itself, never the page; on a phone it shows one stage at a time with a stage picker.
// A card's title opens the loan file.
import { useState, type DragEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useNavigate, useSearchParams } from 'react-router';
import { api, bpath, errorMessage, qs } from '../api/client.ts';
import { useBusiness } from '../app/me.ts';
import { usePageTitle } from '../app/title.ts';
import { formatMoney, fullName } from '../components/format.ts';
import { Alert, ErrorState, Loading } from '../components/states.tsx';
import { DealForm } from './deal-form.tsx';
import { MoveControl } from './move-control.tsx';
import {
  DEAL_STAGES,
  dealAmount,
  fetchAll,
  humanize,
  loanTypeLabel,
  type Contact,
  type Deal,
  type DealStage,
} from './types.ts';

/** "New deal" from a contact (`?contact=<id>`): the borrower is pre-filled. */
function NewDeal({ bid, contactId, onDone }: { bid: string; contactId: string | null; onDone: () => void }) {
  const navigate = useNavigate();
  const contact = useQuery({
    queryKey: ['contact-basic', bid, contactId],
    queryFn: () => api<Contact>(bpath(bid, 'contacts', contactId!)),
    enabled: Boolean(contactId),
  });
  if (contactId && contact.isPending) return <Loading label="Loading the borrower…" />;
  const borrower = contact.data ? { id: contact.data.id, name: fullName(contact.data) } : null;
  return (
    <DealForm
      bid={bid}
      borrower={borrower}
      onSaved={(deal) => (contactId ? navigate(`/b/${bid}/deals/${deal.id}`) : onDone())}
      onCancel={onDone}
    />
  );
}

export function PipelinePage() {
  const { bid } = useBusiness();
  usePageTitle('Pipeline');
  const queryClient = useQueryClient();
  const [params, setParams] = useSearchParams();
  const contactId = params.get('contact');
  const key = ['deals', bid];
  const deals = useQuery({
    queryKey: key,
    queryFn: async () => ({ items: await fetchAll<Deal>(bpath(bid, 'deals') + qs({ limit: 200 }), (u) => api(u)) }),
  });
  const [dragging, setDragging] = useState<string | null>(null);
  const [over, setOver] = useState<DealStage | null>(null);
  const [adding, setAdding] = useState(Boolean(contactId) || params.get('new') === '1');
  const [announce, setAnnounce] = useState('');
  const [shown, setShown] = useState<DealStage>('lead');

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

  const closeForm = () => {
    setAdding(false);
    if (contactId || params.get('new')) setParams({}, { replace: true });
  };

  return (
    <>
      <div className="row-between">
        <h1>Pipeline</h1>
        <button type="button" className="primary" onClick={() => setAdding(true)}>
          New deal
        </button>
      </div>
      {adding && <NewDeal bid={bid} contactId={contactId} onDone={closeForm} />}
      <p className="sr-only" aria-live="polite">
        {announce}
      </p>
      {move.isError && <Alert kind="error">Could not move the deal: {errorMessage(move.error)}</Alert>}
      {deals.isPending ? (
        <Loading label="Loading deals…" />
      ) : deals.isError ? (
        <ErrorState error={deals.error} retry={() => void deals.refetch()} />
      ) : (
        <>
          <div className="stage-picker">
            <label htmlFor="stage-picker">Stage</label>
            <select id="stage-picker" value={shown} onChange={(e) => setShown(e.target.value as DealStage)}>
              {DEAL_STAGES.map((s) => (
                <option key={s} value={s}>
                  {humanize(s)} ({deals.data.items.filter((d) => d.stage === s).length})
                </option>
              ))}
            </select>
          </div>
          <div className="kanban" data-testid="kanban" role="region" aria-label="Pipeline board" tabIndex={0}>
            {DEAL_STAGES.map((stage) => {
              const cards = deals.data.items.filter((d) => d.stage === stage);
              const total = cards.reduce((s, d) => s + dealAmount(d), 0);
              return (
                <section
                  key={stage}
                  className={`kanban-col${over === stage ? ' drop-target' : ''}${shown === stage ? ' shown' : ''}`}
                  aria-labelledby={`stage-${stage}-h`}
                  data-stage={stage}
                  onDragOver={(e) => {
                    e.preventDefault();
                    e.dataTransfer.dropEffect = 'move';
                    setOver(stage);
                  }}
                  onDragLeave={() => setOver((o) => (o === stage ? null : o))}
                  onDrop={(e) => onDrop(e, stage)}
                >
                  <h2 id={`stage-${stage}-h`}>
                    <span>{humanize(stage)}</span>
                    <span className="stage-sum">
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
                      <Link to={`/b/${bid}/deals/${d.id}`} className="deal-title">
                        {d.title}
                      </Link>
                      <div className="small muted">
                        {loanTypeLabel(d.loan_type)} · {formatMoney(dealAmount(d))}
                      </div>
                      {d.contact_name && <div className="small">{d.contact_name}</div>}
                      <MoveControl bid={bid} deal={d} onMove={(stage) => move.mutate({ deal: d, stage })} />
                    </article>
                  ))}
                </section>
              );
            })}
          </div>
        </>
      )}
    </>
  );
}
