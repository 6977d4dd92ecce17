// One loan file: the people (borrower, co-borrower, referral partner), the loan (amount,
// rate, type, purpose, property, expected close), its milestones with dates, its notes
// and its stage history.
import { useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useNavigate, useParams } from 'react-router';
import { api, bpath, errorMessage, qs } from '../api/client.ts';
import { useBusiness } from '../app/me.ts';
import { usePageTitle } from '../app/title.ts';
import { ConfirmDialog } from '../components/confirm.tsx';
import { TextArea, TextField } from '../components/field.tsx';
import { formatDate, formatDateTime, formatMoney } from '../components/format.ts';
import { Alert, Empty, QueryView } from '../components/states.tsx';
import { CustomFieldsCard } from './custom-fields.tsx';
import { DealForm } from './deal-form.tsx';
import { MoveControl } from './move-control.tsx';
import { ReviewRequestCard } from './review-request.tsx';
import {
  MILESTONES,
  MILESTONE_LABELS,
  dealAmount,
  humanize,
  loanPurposeLabel,
  loanTypeLabel,
  toPage,
  type Deal,
  type Milestone,
  type Note,
  type StageChange,
} from './types.ts';

function Person({ bid, id, name, role }: { bid: string; id?: string | null; name?: string | null; role: string }) {
  return (
    <>
      <dt>{role}</dt>
      <dd>{id ? <Link to={`/b/${bid}/contacts/${id}`}>{name ?? 'Unnamed contact'}</Link> : '—'}</dd>
    </>
  );
}

function Milestones({
  bid,
  deal,
  saved,
  setSaved,
}: {
  bid: string;
  deal: Deal;
  saved: boolean;
  setSaved: (saved: boolean) => void;
}) {
  const queryClient = useQueryClient();
  const initial = Object.fromEntries(MILESTONES.map((m) => [m, deal.milestones?.[m] ?? ''])) as Record<
    Milestone,
    string
  >;
  const [dates, setDates] = useState(initial);
  const save = useMutation({
    mutationFn: () =>
      api<Deal>(bpath(bid, 'deals', deal.id), {
        method: 'PATCH',
        body: { milestones: Object.fromEntries(MILESTONES.map((m) => [m, dates[m] || null])) },
      }),
    onSuccess: async () => {
      setSaved(true);
      await queryClient.invalidateQueries({ queryKey: ['deal', bid, deal.id] });
      await queryClient.invalidateQueries({ queryKey: ['deals', bid] });
    },
  });
  const reached = MILESTONES.filter((m) => deal.milestones?.[m]).length;
  return (
    <form
      className="card"
      aria-labelledby="milestones-h"
      onSubmit={(e: FormEvent) => {
        e.preventDefault();
        save.mutate();
      }}
    >
      <h2 id="milestones-h">Milestones</h2>
      <p className="small muted" data-testid="milestones-progress">
        {reached} of {MILESTONES.length} reached
      </p>
      {save.isError && <Alert kind="error">{errorMessage(save.error)}</Alert>}
      {saved && <Alert kind="ok">Milestones saved.</Alert>}
      <ol className="milestones">
        {MILESTONES.map((m) => (
          <li key={m} className={deal.milestones?.[m] ? 'done' : ''}>
            <TextField
              label={MILESTONE_LABELS[m]}
              type="date"
              value={dates[m]}
              onChange={(e) => {
                setSaved(false);
                setDates((d) => ({ ...d, [m]: e.target.value }));
              }}
            />
          </li>
        ))}
      </ol>
      <button type="submit" disabled={save.isPending}>
        {save.isPending ? 'Saving…' : 'Save milestones'}
      </button>
    </form>
  );
}

function DealNotes({ bid, did }: { bid: string; did: string }) {
  const queryClient = useQueryClient();
  const [body, setBody] = useState('');
  const key = ['deal-notes', bid, did];
  const notes = useQuery({
    queryKey: key,
    queryFn: async () => toPage<Note>(await api(bpath(bid, 'deals', did, 'notes') + qs({ limit: 50 }))).items,
  });
  const add = useMutation({
    mutationFn: () => api(bpath(bid, 'deals', did, 'notes'), { body: { body } }),
    onSuccess: async () => {
      setBody('');
      await queryClient.invalidateQueries({ queryKey: key });
    },
  });
  return (
    <section className="card" aria-labelledby="deal-notes-h">
      <h2 id="deal-notes-h">Notes</h2>
      <form
        onSubmit={(e: FormEvent) => {
          e.preventDefault();
          if (body.trim()) add.mutate();
        }}
      >
        {add.isError && <Alert kind="error">{errorMessage(add.error)}</Alert>}
        <TextArea label="Add a note to this loan" value={body} onChange={(e) => setBody(e.target.value)} />
        <button type="submit" disabled={add.isPending || !body.trim()}>
          Add note
        </button>
      </form>
      <QueryView query={notes}>
        {(items) =>
          items.length === 0 ? (
            <Empty>No notes on this loan yet.</Empty>
          ) : (
            <ul className="list-plain">
              {items.map((n) => (
                <li key={n.id}>
                  <div className="pre-wrap">{n.body}</div>
                  <div className="small muted">{formatDateTime(n.created_at)}</div>
                </li>
              ))}
            </ul>
          )
        }
      </QueryView>
    </section>
  );
}

function StageHistory({ bid, did, stage }: { bid: string; did: string; stage: string }) {
  const history = useQuery({
    queryKey: ['deal-stages', bid, did, stage],
    queryFn: async () => toPage<StageChange>(await api(bpath(bid, 'deals', did, 'stage-changes'))).items,
  });
  return (
    <section className="card" aria-labelledby="stage-history-h">
      <h2 id="stage-history-h">Stage history</h2>
      <QueryView query={history}>
        {(items) => (
          <ol className="timeline" data-testid="stage-history">
            {[...items].reverse().map((c) => (
              <li key={c.id}>
                <strong>
                  {c.from_stage
                    ? `${humanize(c.from_stage)} → ${humanize(c.to_stage)}`
                    : `Created in ${humanize(c.to_stage)}`}
                </strong>
                <div className="small muted">{formatDateTime(c.changed_at)}</div>
              </li>
            ))}
          </ol>
        )}
      </QueryView>
    </section>
  );
}

export function DealDetail() {
  const { bid } = useBusiness();
  const { did = '' } = useParams();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [editing, setEditing] = useState(false);
  const [confirmDelete, setConfirmDelete] = useState(false);
  // Lives here: the milestones form is re-keyed by updated_at after a save.
  const [milestonesSaved, setMilestonesSaved] = useState(false);
  const deal = useQuery({
    queryKey: ['deal', bid, did],
    queryFn: () => api<Deal>(bpath(bid, 'deals', did)),
  });
  usePageTitle(deal.data?.title ?? 'Deal');
  const remove = useMutation({
    mutationFn: () => api(bpath(bid, 'deals', did), { method: 'DELETE' }),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: ['deals', bid] });
      navigate(`/b/${bid}/pipeline`);
    },
  });
  return (
    <QueryView
      query={deal}
      loadingLabel="Loading the loan file…"
      notFound={{ what: 'deal', back: `/b/${bid}/pipeline`, backLabel: 'Back to the pipeline' }}
    >
      {(d) => (
        <>
          <div className="row-between">
            <div>
              <p className="small">
                <Link to={`/b/${bid}/pipeline`}>← Pipeline</Link>
              </p>
              <h1>{d.title}</h1>
              <p className="muted">
                <span className="badge">{humanize(d.stage)}</span> {formatMoney(dealAmount(d))} ·{' '}
                {loanTypeLabel(d.loan_type)}
                {d.loan_purpose ? ` · ${loanPurposeLabel(d.loan_purpose)}` : ''}
              </p>
            </div>
            <div className="row">
              <MoveControl bid={bid} deal={d} />
              <button type="button" onClick={() => setConfirmDelete(true)}>
                Delete deal
              </button>
            </div>
          </div>
          {remove.isError && <Alert kind="error">{errorMessage(remove.error)}</Alert>}
          <div className="grid-2">
            <div className="stack">
              {editing ? (
                <DealForm bid={bid} deal={d} onSaved={() => setEditing(false)} onCancel={() => setEditing(false)} />
              ) : (
                <section className="card" aria-labelledby="loan-h">
                  <div className="row-between">
                    <h2 id="loan-h">Loan file</h2>
                    <button type="button" onClick={() => setEditing(true)}>
                      Edit loan file
                    </button>
                  </div>
                  <dl className="facts" data-testid="loan-file">
                    <Person bid={bid} id={d.contact_id} name={d.contact_name} role="Borrower" />
                    <Person bid={bid} id={d.co_borrower_id} name={d.co_borrower_name} role="Co-borrower" />
                    <Person bid={bid} id={d.partner_id} name={d.partner_name} role="Referral partner" />
                    <dt>Loan amount</dt>
                    <dd>{formatMoney(dealAmount(d))}</dd>
                    <dt>Rate</dt>
                    <dd>{d.rate_percent === null || d.rate_percent === undefined ? '—' : `${d.rate_percent}%`}</dd>
                    <dt>Loan type</dt>
                    <dd>{loanTypeLabel(d.loan_type)}</dd>
                    <dt>Purpose</dt>
                    <dd>{loanPurposeLabel(d.loan_purpose)}</dd>
                    <dt>Property</dt>
                    <dd>{d.property_address || '—'}</dd>
                    <dt>Expected close</dt>
                    <dd>{formatDate(d.expected_close_date)}</dd>
                  </dl>
                </section>
              )}
              <Milestones key={d.updated_at} bid={bid} deal={d} saved={milestonesSaved} setSaved={setMilestonesSaved} />
              <CustomFieldsCard bid={bid} entity="deal" recordId={d.id} values={d.custom ?? {}} />
            </div>
            <div className="stack">
              {d.stage === 'funded' && d.contact_id && <ReviewRequestCard bid={bid} did={did} />}
              <DealNotes bid={bid} did={did} />
              <StageHistory bid={bid} did={did} stage={d.stage} />
            </div>
          </div>
          <ConfirmDialog
            open={confirmDelete}
            title="Delete this deal?"
            confirmLabel="Delete deal"
            busy={remove.isPending}
            onConfirm={() => remove.mutate()}
            onCancel={() => setConfirmDelete(false)}
          >
            <p>{d.title}, its notes and its stage history will be deleted. This cannot be undone.</p>
          </ConfirmDialog>
        </>
      )}
    </QueryView>
  );
}
