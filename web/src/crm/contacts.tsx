// Contacts table: search, filters, paging, multi-select and "add to list" in bulk.
import { useEffect, useState, type FormEvent } from 'react';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useSearchParams } from 'react-router';
import { ApiError, api, bpath, errorMessage, qs } from '../api/client.ts';
import { useBusiness } from '../app/me.ts';
import { SelectField, TextField } from '../components/field.tsx';
import { CustomFieldFilter } from './custom-fields.tsx';
import { fullName } from '../components/format.ts';
import { Pager } from '../components/pager.tsx';
import { PhoneLinks } from '../components/phone.tsx';
import { Alert, Empty, ErrorState, Loading } from '../components/states.tsx';
import { ExportContactsButton } from './export-button.tsx';
import {
  CONTACT_KINDS,
  CONTACT_SOURCES,
  CONTACT_STATUSES,
  contactKindLabel,
  contactSourceLabel,
  humanize,
  toPage,
  type Contact,
  type List,
} from './types.ts';

const PAGE_SIZE = 25;

export function useLists(bid: string) {
  return useQuery({
    queryKey: ['lists', bid],
    queryFn: async () => toPage<List>(await api(bpath(bid, 'lists')), 'lists').items,
  });
}

/** The existing contact's id when a create or edit collided with it (409 duplicate_contact). */
export function duplicateOf(error: unknown): string | undefined {
  return error instanceof ApiError && error.code === 'duplicate_contact'
    ? (error.details as { existing_id?: string } | undefined)?.existing_id
    : undefined;
}

function NewContactForm({ bid, onDone }: { bid: string; onDone: () => void }) {
  const queryClient = useQueryClient();
  const [form, setForm] = useState({
    first_name: '',
    last_name: '',
    email: '',
    phone: '',
    status: 'lead',
    kind: 'person',
  });
  const create = useMutation({
    mutationFn: () =>
      api<Contact>(bpath(bid, 'contacts'), {
        body: { ...form, email: form.email || undefined, phone: form.phone || undefined },
      }),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: ['contacts', bid] });
      onDone();
    },
  });
  const set = (k: keyof typeof form) => (e: { target: { value: string } }) =>
    setForm((f) => ({ ...f, [k]: e.target.value }));
  return (
    <form
      className="card"
      aria-label="New contact"
      onSubmit={(e: FormEvent) => {
        e.preventDefault();
        create.mutate();
      }}
    >
      <h2>New contact</h2>
      {create.isError && (
        <Alert kind="error">
          {errorMessage(create.error)}{' '}
          {duplicateOf(create.error) && (
            <Link to={`/b/${bid}/contacts/${duplicateOf(create.error)}`}>Open the existing contact</Link>
          )}
        </Alert>
      )}
      <div className="grid-2">
        <TextField label="First name" value={form.first_name} onChange={set('first_name')} autoFocus />
        <TextField label="Last name" value={form.last_name} onChange={set('last_name')} />
        <TextField label="Email" type="email" value={form.email} onChange={set('email')} />
        <TextField
          label="Mobile phone"
          type="tel"
          value={form.phone}
          onChange={set('phone')}
          hint="e.g. (415) 555-0100, or +44 20 7946 0958 abroad"
        />
        <SelectField label="Status" value={form.status} onChange={set('status')}>
          {CONTACT_STATUSES.map((s) => (
            <option key={s} value={s}>
              {humanize(s)}
            </option>
          ))}
        </SelectField>
        <SelectField label="Kind" value={form.kind} onChange={set('kind')}>
          {CONTACT_KINDS.map((k) => (
            <option key={k} value={k}>
              {contactKindLabel(k)}
            </option>
          ))}
        </SelectField>
      </div>
      <div className="row">
        <button type="submit" className="primary" disabled={create.isPending}>
          {create.isPending ? 'Saving…' : 'Save contact'}
        </button>
        <button type="button" onClick={onDone}>
          Cancel
        </button>
      </div>
    </form>
  );
}

export function ContactsPage() {
  const { bid, canManage } = useBusiness();
  const queryClient = useQueryClient();
  const [params, setParams] = useSearchParams();
  const q = params.get('q') ?? '';
  const status = params.get('status') ?? '';
  const source = params.get('source') ?? '';
  const listId = params.get('list') ?? '';
  const importJob = params.get('import') ?? '';
  // A custom-field filter, key:value; sent only once a value is chosen.
  const customParam = params.get('custom') ?? '';
  const custom = /^[^:]+:.+$/.test(customParam) ? customParam : '';
  const [draft, setDraft] = useState(q);
  const [adding, setAdding] = useState(false);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [targetList, setTargetList] = useState('');
  const [notice, setNotice] = useState<string | null>(null);
  // Keyset paging: the server hands out an opaque next_cursor; keep the trail to go back.
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const cursor = cursors[cursors.length - 1] ?? null;
  const page = cursors.length - 1;
  useEffect(() => setDraft(q), [q]);
  useEffect(() => setCursors([null]), [q, status, source, listId, importJob, custom]);

  const update = (changes: Record<string, string>) => {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) {
      if (v) next.set(k, v);
      else next.delete(k);
    }
    setParams(next);
    setSelected(new Set());
  };

  const contacts = useQuery({
    queryKey: ['contacts', bid, { q, status, source, listId, importJob, custom, cursor }],
    queryFn: async () =>
      toPage<Contact>(
        await api(
          bpath(bid, 'contacts') +
            qs({ q, status, source, list_id: listId, import_job_id: importJob, custom, limit: PAGE_SIZE, cursor }),
        ),
        'contacts',
      ),
    placeholderData: keepPreviousData,
  });
  const lists = useLists(bid);

  const addToList = useMutation({
    mutationFn: () => api(bpath(bid, 'lists', targetList, 'members'), { body: { contact_ids: [...selected] } }),
    onSuccess: async () => {
      const name = lists.data?.find((l) => l.id === targetList)?.name ?? 'the list';
      setNotice(`Added ${selected.size} contact${selected.size === 1 ? '' : 's'} to ${name}.`);
      setSelected(new Set());
      await queryClient.invalidateQueries({ queryKey: ['lists', bid] });
    },
  });

  const items = contacts.data?.items ?? [];
  const allChecked = items.length > 0 && items.every((c) => selected.has(c.id));
  const toggle = (id: string) =>
    setSelected((s) => {
      const n = new Set(s);
      if (n.has(id)) n.delete(id);
      else n.add(id);
      return n;
    });

  return (
    <>
      <div className="row-between">
        <h1>Contacts</h1>
        <div className="row">
          {canManage && <ExportContactsButton bid={bid} />}
          <Link className="button" to={`/b/${bid}/import`}>
            Import CSV
          </Link>
          <Link className="button" to={`/b/${bid}/contacts/trash`}>
            Trash
          </Link>
          <button type="button" className="primary" onClick={() => setAdding(true)}>
            New contact
          </button>
        </div>
      </div>
      {adding && <NewContactForm bid={bid} onDone={() => setAdding(false)} />}
      <form
        className="inline-form"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          update({ q: draft.trim() });
        }}
      >
        <TextField
          label="Search contacts"
          type="search"
          value={draft}
          onChange={(e) => setDraft(e.target.value)}
          placeholder="Name, email or phone"
        />
        <SelectField label="Status" value={status} onChange={(e) => update({ status: e.target.value })}>
          <option value="">Any status</option>
          {CONTACT_STATUSES.map((s) => (
            <option key={s} value={s}>
              {humanize(s)}
            </option>
          ))}
        </SelectField>
        <SelectField label="Source" value={source} onChange={(e) => update({ source: e.target.value })}>
          <option value="">Any source</option>
          {CONTACT_SOURCES.map((s) => (
            <option key={s} value={s}>
              {contactSourceLabel(s)}
            </option>
          ))}
        </SelectField>
        <SelectField label="List" value={listId} onChange={(e) => update({ list: e.target.value })}>
          <option value="">Any list</option>
          {(lists.data ?? []).map((l) => (
            <option key={l.id} value={l.id}>
              {l.name}
            </option>
          ))}
        </SelectField>
        <CustomFieldFilter bid={bid} value={customParam} onChange={(v) => update({ custom: v })} />
        <button type="submit">Search</button>
      </form>

      {importJob && (
        <Alert kind="info">
          Showing the contacts of one CSV import.{' '}
          <button type="button" className="link-button" onClick={() => update({ import: '' })}>
            Show all contacts
          </button>
        </Alert>
      )}
      {notice && <Alert kind="ok">{notice}</Alert>}
      {addToList.isError && <Alert kind="error">{errorMessage(addToList.error)}</Alert>}
      {selected.size > 0 && (
        <div className="card row" aria-label="Bulk actions">
          <strong>{selected.size} selected</strong>
          <label htmlFor="bulk-list" className="sr-only">
            List to add the selected contacts to
          </label>
          <select id="bulk-list" value={targetList} onChange={(e) => setTargetList(e.target.value)}>
            <option value="">Choose a list…</option>
            {(lists.data ?? []).map((l) => (
              <option key={l.id} value={l.id}>
                {l.name}
              </option>
            ))}
          </select>
          <button
            type="button"
            className="primary"
            disabled={!targetList || addToList.isPending}
            onClick={() => addToList.mutate()}
          >
            Add to list
          </button>
          <button type="button" onClick={() => setSelected(new Set())}>
            Clear selection
          </button>
        </div>
      )}

      {contacts.isPending ? (
        <Loading label="Loading contacts…" />
      ) : contacts.isError ? (
        <ErrorState error={contacts.error} retry={() => void contacts.refetch()} />
      ) : items.length === 0 ? (
        <Empty>
          {q || status || source || listId || importJob || custom
            ? 'No contacts match these filters.'
            : 'No contacts yet. Add one or import a CSV.'}
        </Empty>
      ) : (
        <>
          <div className="table-wrap">
            <table data-testid="contacts-table">
              <caption className="sr-only">Contacts</caption>
              <thead>
                <tr>
                  <th scope="col">
                    <input
                      type="checkbox"
                      aria-label="Select all on this page"
                      checked={allChecked}
                      onChange={() => setSelected(allChecked ? new Set() : new Set(items.map((c) => c.id)))}
                    />
                  </th>
                  <th scope="col">Name</th>
                  <th scope="col">Email</th>
                  <th scope="col">Phone</th>
                  <th scope="col">Status</th>
                  <th scope="col">Source</th>
                </tr>
              </thead>
              <tbody>
                {items.map((c) => (
                  <tr key={c.id}>
                    <td>
                      <input
                        type="checkbox"
                        aria-label={`Select ${fullName(c)}`}
                        checked={selected.has(c.id)}
                        onChange={() => toggle(c.id)}
                      />
                    </td>
                    <td>
                      <Link to={`/b/${bid}/contacts/${c.id}`}>{fullName(c)}</Link>
                    </td>
                    <td>{c.email ?? '—'}</td>
                    <td>
                      <PhoneLinks phone={c.phone} />
                    </td>
                    <td>{humanize(c.status)}</td>
                    <td>{contactSourceLabel(c.source)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Pager
            page={page}
            pageSize={PAGE_SIZE}
            total={contacts.data?.total}
            hasMore={Boolean(contacts.data?.nextCursor)}
            onPage={(p) => {
              setSelected(new Set());
              const nextCursor = contacts.data?.nextCursor ?? null;
              setCursors((c) => (p < page ? c.slice(0, -1) : nextCursor ? [...c, nextCursor] : c));
            }}
          />
        </>
      )}
    </>
  );
}
