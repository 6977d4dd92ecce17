// The loan file form: create a deal (from the pipeline, or from a contact with the
// borrower pre-filled) or edit one. The borrower is chosen from the contacts or created
// with the deal (one request: the server creates both in one transaction); the
// co-borrower is another contact, the referral partner a contact marked as a realtor or
// partner. Amounts are typed in dollars and cents ("$612,500.50") and sent as cents.
import { useId, useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link } from 'react-router';
import { ApiError, api, bpath, errorMessage, qs } from '../api/client.ts';
import { SelectField, TextField } from '../components/field.tsx';
import { centsToInput, fullName, parseMoneyToCents } from '../components/format.ts';
import { Alert } from '../components/states.tsx';
import {
  DEAL_STAGES,
  LOAN_PURPOSES,
  NEW_LOAN_TYPES,
  contactKindLabel,
  humanize,
  loanPurposeLabel,
  loanTypeLabel,
  toPage,
  type Contact,
  type Deal,
} from './types.ts';

export interface PickedContact {
  id: string;
  name: string;
}

/** Search the business's contacts and pick one (optionally only referral partners). */
export function ContactPicker({
  bid,
  label,
  value,
  onChange,
  partnersOnly = false,
  exclude = [],
}: {
  bid: string;
  label: string;
  value: PickedContact | null;
  onChange: (c: PickedContact | null) => void;
  partnersOnly?: boolean;
  exclude?: (string | undefined)[];
}) {
  const [q, setQ] = useState('');
  const listId = useId();
  const results = useQuery({
    queryKey: ['contact-picker', bid, partnersOnly, q],
    queryFn: async () =>
      toPage<Contact>(
        await api(bpath(bid, 'contacts') + qs({ q: q.trim(), limit: 6, kind: partnersOnly ? 'realtor,partner' : '' })),
      ).items,
    enabled: partnersOnly || q.trim().length > 0,
  });
  if (value) {
    return (
      <div className="field picked">
        <span className="label-like">{label}</span>
        <div className="row">
          <strong data-testid={`picked-${label}`}>{value.name}</strong>
          <button type="button" className="link-button" onClick={() => onChange(null)} aria-label={`Change ${label}`}>
            Change
          </button>
        </div>
      </div>
    );
  }
  const items = (results.data ?? []).filter((c) => !exclude.includes(c.id));
  return (
    <div className="picker">
      <TextField
        label={label}
        type="search"
        value={q}
        onChange={(e) => setQ(e.target.value)}
        placeholder={partnersOnly ? 'Realtors and partners — type to filter' : 'Search by name, email or phone'}
        aria-controls={listId}
        autoComplete="off"
      />
      <ul className="picker-results list-plain" id={listId} aria-label={`${label} matches`}>
        {items.map((c) => (
          <li key={c.id}>
            <button type="button" className="link-button" onClick={() => onChange({ id: c.id, name: fullName(c) })}>
              Choose {fullName(c)}
            </button>{' '}
            <span className="small muted">
              {partnersOnly ? contactKindLabel(c.kind) : (c.email ?? c.phone ?? humanize(c.status))}
            </span>
          </li>
        ))}
        {results.isSuccess && items.length === 0 && (q.trim() || partnersOnly) && (
          <li className="small muted">
            {partnersOnly
              ? 'No realtors or partners match. Mark a contact as a realtor or partner on its page.'
              : 'No contacts match.'}
          </li>
        )}
      </ul>
    </div>
  );
}

const RATE = /^\d{1,2}(\.\d{1,3})?$/;

export function DealForm({
  bid,
  deal,
  borrower: initialBorrower = null,
  onSaved,
  onCancel,
}: {
  bid: string;
  deal?: Deal;
  borrower?: PickedContact | null;
  onSaved: (deal: Deal) => void;
  onCancel: () => void;
}) {
  const queryClient = useQueryClient();
  const editing = Boolean(deal);
  const [form, setForm] = useState({
    title: deal?.title ?? '',
    amount: centsToInput(deal?.amount_cents),
    rate: deal?.rate_percent === null || deal?.rate_percent === undefined ? '' : String(deal.rate_percent),
    loan_type: deal?.loan_type ?? 'conventional',
    loan_purpose: deal?.loan_purpose ?? 'purchase',
    stage: deal?.stage ?? 'lead',
    expected_close_date: deal?.expected_close_date ?? '',
    property_address: deal?.property_address ?? '',
  });
  const [borrower, setBorrower] = useState<PickedContact | null>(
    deal?.contact_id ? { id: deal.contact_id, name: deal.contact_name ?? 'Borrower' } : initialBorrower,
  );
  const [coBorrower, setCoBorrower] = useState<PickedContact | null>(
    deal?.co_borrower_id ? { id: deal.co_borrower_id, name: deal.co_borrower_name ?? 'Co-borrower' } : null,
  );
  const [partner, setPartner] = useState<PickedContact | null>(
    deal?.partner_id ? { id: deal.partner_id, name: deal.partner_name ?? 'Partner' } : null,
  );
  const [newBorrower, setNewBorrower] = useState(false);
  const [nb, setNb] = useState({ first_name: '', last_name: '', email: '', phone: '' });
  const [problems, setProblems] = useState<Record<string, string>>({});

  const amountCents = parseMoneyToCents(form.amount);
  const save = useMutation({
    mutationFn: () => {
      const body: Record<string, unknown> = {
        title: form.title.trim(),
        amount_cents: amountCents ?? 0,
        rate_percent: form.rate.trim() ? Number(form.rate.trim()) : null,
        loan_type: form.loan_type,
        loan_purpose: form.loan_purpose || null,
        expected_close_date: form.expected_close_date || null,
        property_address: form.property_address.trim(),
        co_borrower_id: coBorrower?.id ?? null,
        partner_id: partner?.id ?? null,
      };
      if (!editing) body.stage = form.stage;
      if (newBorrower && !editing) {
        body.borrower = {
          first_name: nb.first_name.trim(),
          last_name: nb.last_name.trim(),
          email: nb.email.trim() || null,
          phone: nb.phone.trim() || null,
        };
      } else body.contact_id = borrower?.id ?? null;
      return editing
        ? api<Deal>(bpath(bid, 'deals', deal!.id), { method: 'PATCH', body })
        : api<Deal>(bpath(bid, 'deals'), { body });
    },
    onSuccess: async (saved) => {
      await queryClient.invalidateQueries({ queryKey: ['deals', bid] });
      await queryClient.invalidateQueries({ queryKey: ['deal', bid] });
      if (newBorrower) await queryClient.invalidateQueries({ queryKey: ['contacts', bid] });
      onSaved(saved);
    },
  });
  const set = (k: keyof typeof form) => (e: { target: { value: string } }) =>
    setForm((f) => ({ ...f, [k]: e.target.value }));
  const setN = (k: keyof typeof nb) => (e: { target: { value: string } }) =>
    setNb((f) => ({ ...f, [k]: e.target.value }));

  function submit(e: FormEvent) {
    e.preventDefault();
    const p: Record<string, string> = {};
    if (!form.title.trim()) p.title = 'Give the deal a title, e.g. the borrower and the property.';
    if (amountCents === null) p.amount = 'Loan amount must be a dollar amount, like 612,500 or 612,500.50.';
    if (form.rate.trim() && !RATE.test(form.rate.trim()))
      p.rate = 'Rate must be a percentage with up to three decimals, like 6.875.';
    if (newBorrower && !nb.first_name.trim() && !nb.last_name.trim() && !nb.email.trim() && !nb.phone.trim())
      p.borrower = 'The new borrower needs a name, an email or a phone.';
    setProblems(p);
    if (Object.keys(p).length === 0) save.mutate();
  }

  const error = save.error;
  const duplicateId =
    error instanceof ApiError && error.code === 'duplicate_contact'
      ? (error.details as { existing_id?: string } | undefined)?.existing_id
      : undefined;

  return (
    <form className="card" aria-label={editing ? 'Edit deal' : 'New deal'} onSubmit={submit} noValidate>
      <h2>{editing ? 'Edit loan file' : 'New deal'}</h2>
      {error && (
        <Alert kind="error">
          {duplicateId ? (
            <>
              A contact with this email or phone already exists.{' '}
              <Link to={`/b/${bid}/contacts/${duplicateId}`}>Open the existing contact</Link>{' '}
              <button
                type="button"
                className="link-button"
                onClick={() => {
                  setNewBorrower(false);
                  setBorrower({
                    id: duplicateId,
                    name: [nb.first_name, nb.last_name].join(' ').trim() || 'Existing contact',
                  });
                  save.reset();
                }}
              >
                Use them as the borrower
              </button>
            </>
          ) : (
            errorMessage(error)
          )}
        </Alert>
      )}
      <div className="grid-2">
        <TextField
          label="Title"
          required
          value={form.title}
          onChange={set('title')}
          autoFocus
          error={problems.title}
          hint="e.g. Lovelace — 12 Harbor Rd"
        />
        <TextField
          label="Loan amount (USD)"
          inputMode="decimal"
          value={form.amount}
          onChange={set('amount')}
          error={problems.amount}
          placeholder="612,500.00"
        />
      </div>
      <fieldset className="fieldset">
        <legend>Borrower</legend>
        {newBorrower && !editing ? (
          <>
            {problems.borrower && <p className="field-error">{problems.borrower}</p>}
            <div className="grid-2">
              <TextField label="Borrower first name" value={nb.first_name} onChange={setN('first_name')} />
              <TextField label="Borrower last name" value={nb.last_name} onChange={setN('last_name')} />
              <TextField label="Borrower email" type="email" value={nb.email} onChange={setN('email')} />
              <TextField label="Borrower mobile phone" type="tel" value={nb.phone} onChange={setN('phone')} />
            </div>
            <button type="button" className="link-button" onClick={() => setNewBorrower(false)}>
              Choose an existing contact instead
            </button>
          </>
        ) : (
          <>
            <ContactPicker
              bid={bid}
              label="Borrower"
              value={borrower}
              onChange={setBorrower}
              exclude={[coBorrower?.id]}
            />
            {!editing && !borrower && (
              <button type="button" className="link-button" onClick={() => setNewBorrower(true)}>
                Create a new borrower
              </button>
            )}
          </>
        )}
        <ContactPicker
          bid={bid}
          label="Co-borrower"
          value={coBorrower}
          onChange={setCoBorrower}
          exclude={[borrower?.id]}
        />
        <ContactPicker bid={bid} label="Referral partner" value={partner} onChange={setPartner} partnersOnly />
      </fieldset>
      <div className="grid-2">
        <SelectField label="Loan type" value={form.loan_type} onChange={set('loan_type')}>
          {(NEW_LOAN_TYPES as readonly string[])
            .concat((NEW_LOAN_TYPES as readonly string[]).includes(form.loan_type) ? [] : [form.loan_type])
            .map((t) => (
              <option key={t} value={t}>
                {loanTypeLabel(t)}
              </option>
            ))}
        </SelectField>
        <SelectField label="Loan purpose" value={form.loan_purpose} onChange={set('loan_purpose')}>
          {LOAN_PURPOSES.map((p) => (
            <option key={p} value={p}>
              {loanPurposeLabel(p)}
            </option>
          ))}
        </SelectField>
        <TextField
          label="Rate (%)"
          inputMode="decimal"
          value={form.rate}
          onChange={set('rate')}
          error={problems.rate}
          placeholder="6.875"
        />
        <TextField
          label="Expected close date"
          type="date"
          value={form.expected_close_date}
          onChange={set('expected_close_date')}
        />
        {!editing && (
          <SelectField label="Stage" value={form.stage} onChange={set('stage')}>
            {DEAL_STAGES.map((s) => (
              <option key={s} value={s}>
                {humanize(s)}
              </option>
            ))}
          </SelectField>
        )}
        <TextField
          label="Property address"
          value={form.property_address}
          onChange={set('property_address')}
          maxLength={300}
          autoComplete="street-address"
        />
      </div>
      <div className="row">
        <button type="submit" className="primary" disabled={save.isPending}>
          {save.isPending ? 'Saving…' : editing ? 'Save loan file' : 'Save deal'}
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
