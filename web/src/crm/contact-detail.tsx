// One contact: editable fields, timeline, SMS conversation, deals, lists, notes, tasks.
import { useState, type FormEvent } from 'react';
import { SendEmail } from '../outreach/send-email.tsx';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useNavigate, useParams } from 'react-router';
import { api, bpath, errorMessage, qs } from '../api/client.ts';
import { useBusiness } from '../app/me.ts';
import { usePageTitle } from '../app/title.ts';
import { PhoneLinks } from '../components/phone.tsx';
import { ConfirmDialog } from '../components/confirm.tsx';
import { SelectField, TextArea, TextField } from '../components/field.tsx';
import { formatDate, formatDateTime, formatMoney, fullName } from '../components/format.ts';
import { LoadMore, usePagedList } from '../components/load-more.tsx';
import { Alert, Empty, QueryView } from '../components/states.tsx';
import { ContactActivity } from './contact-activity.tsx';
import { ContactAutomations } from '../automations/contact-runs.tsx';
import { duplicateOf } from './contacts.tsx';
import { ContactSummary } from '../ai/contact-summary.tsx';
import { CustomFieldsCard } from './custom-fields.tsx';
import {
  CONTACT_KINDS,
  CONTACT_SOURCES,
  CONTACT_STATUSES,
  contactKindLabel,
  contactSourceLabel,
  dealAmount,
  humanize,
  loanTypeLabel,
  toPage,
  type Contact,
  type ContactDetailView,
  type Conversation,
  type Deal,
  type TimelineEvent,
} from './types.ts';

// `saved` lives in the page: the form is re-keyed by updated_at after a save (fresh
// values from the server), which would otherwise drop the "Saved." notice at once.
function ContactForm({
  bid,
  contact,
  saved,
  setSaved,
}: {
  bid: string;
  contact: Contact;
  saved: boolean;
  setSaved: (saved: boolean) => void;
}) {
  const queryClient = useQueryClient();
  const [form, setForm] = useState({
    first_name: contact.first_name ?? '',
    last_name: contact.last_name ?? '',
    email: contact.email ?? '',
    phone: contact.phone ?? '',
    status: contact.status,
    source: contact.source,
    kind: contact.kind ?? 'person',
    notes: contact.notes ?? '',
  });
  const save = useMutation({
    mutationFn: () =>
      api<Contact>(bpath(bid, 'contacts', contact.id), {
        method: 'PATCH',
        body: { ...form, email: form.email || null, phone: form.phone || null },
      }),
    onSuccess: async () => {
      setSaved(true);
      await queryClient.invalidateQueries({ queryKey: ['contacts', bid] });
      await queryClient.invalidateQueries({ queryKey: ['contact', bid, contact.id] });
      await queryClient.invalidateQueries({ queryKey: ['timeline', bid, contact.id] });
    },
  });
  const set = (k: keyof typeof form) => (e: { target: { value: string } }) => {
    setSaved(false);
    setForm((f) => ({ ...f, [k]: e.target.value }));
  };
  return (
    <form
      className="card"
      aria-label="Contact details"
      onSubmit={(e: FormEvent) => {
        e.preventDefault();
        save.mutate();
      }}
    >
      <h2>Details</h2>
      {save.isError && (
        <Alert kind="error">
          {errorMessage(save.error)}{' '}
          {duplicateOf(save.error) && (
            <Link to={`/b/${bid}/contacts/${duplicateOf(save.error)}`}>Open the existing contact</Link>
          )}
        </Alert>
      )}
      {saved && <Alert kind="ok">Saved.</Alert>}
      <div className="grid-2">
        <TextField label="First name" value={form.first_name} onChange={set('first_name')} />
        <TextField label="Last name" value={form.last_name} onChange={set('last_name')} />
        <TextField label="Email" type="email" value={form.email} onChange={set('email')} />
        <TextField label="Mobile phone" type="tel" value={form.phone} onChange={set('phone')} />
        <SelectField label="Status" value={form.status} onChange={set('status')}>
          {CONTACT_STATUSES.map((s) => (
            <option key={s} value={s}>
              {humanize(s)}
            </option>
          ))}
        </SelectField>
        <SelectField label="Source" value={form.source} onChange={set('source')}>
          {CONTACT_SOURCES.map((s) => (
            <option key={s} value={s}>
              {contactSourceLabel(s)}
            </option>
          ))}
        </SelectField>
        <SelectField
          label="Kind"
          value={form.kind}
          onChange={set('kind')}
          hint="Realtors and referral partners can be chosen as a deal's referral partner."
        >
          {CONTACT_KINDS.map((k) => (
            <option key={k} value={k}>
              {contactKindLabel(k)}
            </option>
          ))}
        </SelectField>
      </div>
      <TextArea
        label="Background notes"
        value={form.notes}
        onChange={set('notes')}
        rows={4}
        maxLength={10000}
        hint="Free text kept on the contact, including the notes column of an import."
      />
      <button type="submit" className="primary" disabled={save.isPending}>
        {save.isPending ? 'Saving…' : 'Save changes'}
      </button>
    </form>
  );
}

function Timeline({ bid, cid }: { bid: string; cid: string }) {
  const events = usePagedList<TimelineEvent>({
    queryKey: ['timeline', bid, cid],
    url: (cursor) => bpath(bid, 'contacts', cid, 'timeline') + qs({ limit: 50, cursor }),
  });
  return (
    <section className="card" aria-labelledby="timeline-h">
      <h2 id="timeline-h">Timeline</h2>
      <QueryView query={events}>
        {(items) =>
          items.length === 0 ? (
            <Empty>No activity yet.</Empty>
          ) : (
            <>
              <ol className="timeline">
                {items.map((ev) => (
                  <li key={ev.id}>
                    <strong>{humanize(ev.kind.replace(/[.]/g, ' '))}</strong>
                    {describeEvent(ev)}
                    <div className="small muted">{formatDateTime(ev.at)}</div>
                  </li>
                ))}
              </ol>
              <LoadMore list={events} noun="events" />
            </>
          )
        }
      </QueryView>
    </section>
  );
}

function describeEvent(ev: TimelineEvent): string {
  const d = ev.data ?? {};
  const pick = (k: string) => (typeof d[k] === 'string' || typeof d[k] === 'number' ? String(d[k]) : null);
  // A status change shows where it came from and where it went.
  if (ev.kind === 'status_changed' && pick('to')) return ` — ${humanize(pick('from'))} → ${humanize(pick('to'))}`;
  if (ev.kind === 'stage_changed' && pick('to_stage'))
    return ` — ${pick('deal_title') ? `${pick('deal_title')}: ` : ''}${pick('from_stage') ? `${humanize(pick('from_stage'))} → ` : ''}${humanize(pick('to_stage'))}`;
  const parts = [
    pick('campaign_name'),
    pick('subject'),
    pick('title'),
    pick('name'),
    pick('list_name'),
    pick('body'),
    pick('preview'),
    pick('to_stage') && `→ ${humanize(pick('to_stage'))}`,
    pick('status'),
  ].filter(Boolean) as string[];
  return parts.length ? ` — ${parts.join(' · ').slice(0, 160)}` : '';
}

function ContactDeals({ bid, cid }: { bid: string; cid: string }) {
  const deals = useQuery({
    queryKey: ['deals', bid, { party: cid }],
    queryFn: async () => toPage<Deal>(await api(bpath(bid, 'deals') + qs({ party_id: cid, limit: 100 }))).items,
  });
  const role = (d: Deal) =>
    d.contact_id === cid ? 'Borrower' : d.co_borrower_id === cid ? 'Co-borrower' : 'Referral partner';
  return (
    <section className="card" aria-labelledby="deals-h">
      <div className="row-between">
        <h2 id="deals-h">Deals</h2>
        <Link className="button" to={`/b/${bid}/pipeline?contact=${cid}`}>
          New deal
        </Link>
      </div>
      <QueryView query={deals}>
        {(items) =>
          items.length === 0 ? (
            <Empty>No deals yet.</Empty>
          ) : (
            <ul className="list-plain" data-testid="contact-deals">
              {items.map((d) => (
                <li key={d.id}>
                  <Link to={`/b/${bid}/deals/${d.id}`}>{d.title}</Link> — {humanize(d.stage)} ·{' '}
                  {formatMoney(dealAmount(d))} · {loanTypeLabel(d.loan_type)}
                  <div className="small muted">
                    {role(d)} · expected close {formatDate(d.expected_close_date)}
                  </div>
                </li>
              ))}
            </ul>
          )
        }
      </QueryView>
    </section>
  );
}

function ContactLists({
  bid,
  cid,
  lists,
}: {
  bid: string;
  cid: string;
  lists: { id: string; name: string }[] | undefined;
}) {
  return (
    <section className="card" aria-labelledby="lists-h">
      <h2 id="lists-h">Lists</h2>
      {lists === undefined ? (
        <p className="muted small">
          Add this contact to lists from the <Link to={`/b/${bid}/contacts`}>contacts table</Link>.
        </p>
      ) : lists.length === 0 ? (
        <Empty>Not on any list.</Empty>
      ) : (
        <ul className="list-plain">
          {lists.map((l) => (
            <li key={l.id}>
              <Link to={`/b/${bid}/lists/${l.id}`}>{l.name}</Link>
            </li>
          ))}
        </ul>
      )}
      <span className="sr-only">{cid}</span>
    </section>
  );
}

function ContactConversation({ bid, cid }: { bid: string; cid: string }) {
  const conversations = useQuery({
    queryKey: ['conversations', bid, { contact: cid }],
    queryFn: async () =>
      toPage<Conversation>(await api(bpath(bid, 'conversations') + qs({ contact_id: cid }))).items.filter(
        (c) => c.contact_id === cid,
      ),
  });
  return (
    <section className="card" aria-labelledby="conv-h">
      <h2 id="conv-h">Conversation</h2>
      <QueryView query={conversations}>
        {(items) =>
          items.length === 0 ? (
            <Empty>
              No SMS yet. <Link to={`/b/${bid}/inbox?contact=${cid}`}>Start a conversation</Link>
            </Empty>
          ) : (
            <ul className="list-plain">
              {items.map((c) => (
                <li key={c.id}>
                  <Link to={`/b/${bid}/inbox/${c.id}`}>Open conversation on {c.our_number}</Link>
                  {c.unread_count > 0 && <span className="badge"> {c.unread_count} unread</span>}
                  <div className="small muted">Last message {formatDateTime(c.last_message_at)}</div>
                </li>
              ))}
            </ul>
          )
        }
      </QueryView>
    </section>
  );
}

function TrashNotice({ bid, c, canManage }: { bid: string; c: Contact; canManage: boolean }) {
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const [confirm, setConfirm] = useState(false);
  const refresh = async () => {
    await queryClient.invalidateQueries({ queryKey: ['contacts', bid] });
    await queryClient.invalidateQueries({ queryKey: ['contact', bid, c.id] });
    await queryClient.invalidateQueries({ queryKey: ['timeline', bid, c.id] });
  };
  const restore = useMutation({
    mutationFn: () => api(bpath(bid, 'contacts', c.id, 'restore'), { method: 'POST', body: {} }),
    onSuccess: refresh,
  });
  const purge = useMutation({
    mutationFn: () => api(bpath(bid, 'contacts', c.id, 'permanent'), { method: 'DELETE' }),
    onSuccess: async () => {
      await refresh();
      navigate(`/b/${bid}/contacts/trash`);
    },
  });
  const purgeOn = c.deleted_at ? new Date(new Date(c.deleted_at).getTime() + 30 * 86_400_000) : null;
  return (
    <div className="alert alert-warn" role="status" data-testid="in-trash">
      <p>
        <strong>This contact is in the trash.</strong> It was deleted on {formatDateTime(c.deleted_at)} and will be
        deleted for good on {purgeOn ? purgeOn.toLocaleDateString() : '—'} unless you restore it.
      </p>
      {(restore.isError || purge.isError) && <p>{errorMessage(restore.error ?? purge.error)}</p>}
      <div className="row">
        <button type="button" className="primary" disabled={restore.isPending} onClick={() => restore.mutate()}>
          Restore contact
        </button>
        {canManage && (
          <button type="button" className="danger" onClick={() => setConfirm(true)}>
            Delete for good
          </button>
        )}
        <Link to={`/b/${bid}/contacts/trash`}>Open the trash</Link>
      </div>
      <ConfirmDialog
        open={confirm}
        title="Delete this contact for good?"
        confirmLabel="Delete for good"
        busy={purge.isPending}
        onConfirm={() => purge.mutate()}
        onCancel={() => setConfirm(false)}
      >
        <p>{fullName(c)}, their notes, tasks and messages are deleted and cannot be restored.</p>
      </ConfirmDialog>
    </div>
  );
}

export function ContactDetail() {
  const { bid, canManage } = useBusiness();
  const { cid = '' } = useParams();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [confirmDelete, setConfirmDelete] = useState(false);
  const [saved, setSaved] = useState(false);
  const contact = useQuery({
    queryKey: ['contact', bid, cid],
    queryFn: async () => {
      const raw = await api<ContactDetailView>(bpath(bid, 'contacts', cid));
      return { contact: raw, lists: raw.lists };
    },
  });
  usePageTitle(contact.data ? fullName(contact.data.contact) : contact.isError ? 'Contact not found' : 'Contact');
  const remove = useMutation({
    mutationFn: () => api(bpath(bid, 'contacts', cid), { method: 'DELETE' }),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: ['contacts', bid] });
      await queryClient.invalidateQueries({ queryKey: ['contact', bid, cid] });
      await queryClient.invalidateQueries({ queryKey: ['timeline', bid, cid] });
      navigate(`/b/${bid}/contacts`);
    },
  });
  return (
    <QueryView
      query={contact}
      loadingLabel="Loading contact…"
      notFound={{ what: 'contact', back: `/b/${bid}/contacts`, backLabel: 'Back to contacts' }}
    >
      {({ contact: c, lists }) => (
        <>
          <div className="row-between">
            <div>
              <p className="small">
                <Link to={`/b/${bid}/contacts`}>← Contacts</Link>
              </p>
              <h1>{fullName(c)}</h1>
              <p className="muted">
                {humanize(c.status)}
                {c.kind && c.kind !== 'person' ? ` · ${contactKindLabel(c.kind)}` : ''} · added{' '}
                {formatDate(c.created_at)}
                {c.sms_opt_outs?.length > 0 && (
                  <span className="badge badge-danger" data-testid="contact-opted-out">
                    {' '}
                    Opted out of SMS
                  </span>
                )}
              </p>
              {c.phone && (
                <p data-testid="contact-phone">
                  <PhoneLinks phone={c.phone} />
                </p>
              )}
            </div>
            {!c.deleted_at && (
              <button type="button" onClick={() => setConfirmDelete(true)}>
                Delete contact
              </button>
            )}
          </div>
          {c.deleted_at && <TrashNotice bid={bid} c={c} canManage={canManage} />}
          {remove.isError && <Alert kind="error">{errorMessage(remove.error)}</Alert>}
          <div className="grid-2">
            <div className="stack">
              {!c.deleted_at && (
                <ContactForm key={c.updated_at} bid={bid} contact={c} saved={saved} setSaved={setSaved} />
              )}
              {!c.deleted_at && <SendEmail bid={bid} cid={cid} email={c.email} />}
              {!c.deleted_at && <CustomFieldsCard bid={bid} entity="contact" recordId={c.id} values={c.custom ?? {}} />}
              <ContactConversation bid={bid} cid={cid} />
              <ContactDeals bid={bid} cid={cid} />
              <ContactLists bid={bid} cid={cid} lists={lists} />
            </div>
            <div className="stack">
              <ContactSummary cid={cid} />
              <ContactActivity bid={bid} cid={cid} />
              <ContactAutomations bid={bid} cid={cid} />
              <Timeline bid={bid} cid={cid} />
            </div>
          </div>
          <ConfirmDialog
            open={confirmDelete}
            title="Delete this contact?"
            confirmLabel="Delete contact"
            busy={remove.isPending}
            onConfirm={() => remove.mutate()}
            onCancel={() => setConfirmDelete(false)}
          >
            <p>{fullName(c)} moves to the trash. You can restore them there for 30 days.</p>
          </ConfirmDialog>
        </>
      )}
    </QueryView>
  );
}
