// SMS inbox: conversations with unread counts and opt-out state, a thread view that
// polls for inbound replies, and a composer. Sending to an opted-out number is refused
// by the server (and disabled here) — STOP must be honoured.
import { useEffect, useLayoutEffect, useRef, useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useNavigate, useParams, useSearchParams } from 'react-router';
import { api, ApiError, bpath, errorMessage, qs } from '../api/client.ts';
import { useBusiness } from '../app/me.ts';
import { formatDateTime, fullName } from '../components/format.ts';
import { LoadMore, usePagedList } from '../components/load-more.tsx';
import { formatPhone } from '../components/phone.tsx';
import { Alert, Empty, ErrorState, Loading, QueryView } from '../components/states.tsx';
import { SuggestReply } from '../ai/suggest-reply.tsx';
import { IntentChip, IntentFilter } from '../ai/intent.tsx';
import { humanize, toPage, type Contact, type ContactDetailView, type Conversation, type Message } from './types.ts';

const POLL_MS = 3_000;

function conversationName(c: Conversation): string {
  return c.contact_name || (c.contact_phone ? formatPhone(c.contact_phone) : 'Contact');
}

/** STOP is per contact and per our number (sms_opt_outs): read it from the contact. */
function useOptedOut(bid: string, conversation: Conversation): boolean {
  const contact = useQuery({
    queryKey: ['contact', bid, conversation.contact_id],
    queryFn: () => api<ContactDetailView>(bpath(bid, 'contacts', conversation.contact_id)),
    refetchInterval: POLL_MS * 2,
  });
  return (contact.data?.sms_opt_outs ?? []).some((o) => o.our_number === conversation.our_number);
}

function Thread({ bid, conversation }: { bid: string; conversation: Conversation }) {
  const queryClient = useQueryClient();
  const [body, setBody] = useState('');
  const bottom = useRef<HTMLDivElement>(null);
  const log = useRef<HTMLDivElement>(null);
  // Distance from the log's bottom before older messages are put above, kept after.
  const fromBottom = useRef<number | null>(null);
  const optedOut = useOptedOut(bid, conversation);
  const key = ['messages', bid, conversation.id];
  // Newest first from the server, 100 a page; "Load earlier messages" adds older pages.
  const messages = usePagedList<Message>({
    queryKey: key,
    url: (cursor) => bpath(bid, 'conversations', conversation.id, 'messages') + qs({ limit: 100, cursor }),
    itemsKey: 'messages',
    // A message just sent is delivered by the outbox in the background: follow its status
    // (queued → sending → sent → delivered | failed) closely until it settles.
    refetchInterval: (rows) =>
      rows.some((m) => m.direction === 'outbound' && (m.status === 'queued' || m.status === 'sending'))
        ? 1_000
        : POLL_MS,
  });
  const ordered = [...(messages.data ?? [])].sort((a, b) => a.created_at.localeCompare(b.created_at));
  const newest = ordered[ordered.length - 1]?.id;
  const oldest = ordered[0]?.id;
  // Braces matter: newer Chromium returns a Promise from scrollIntoView, and an effect
  // must return nothing or a cleanup function. Only a new message scrolls to the bottom;
  // earlier ones loaded above leave the reader where she was.
  useEffect(() => {
    bottom.current?.scrollIntoView({ block: 'end' });
  }, [newest]);
  useLayoutEffect(() => {
    const el = log.current;
    if (el && fromBottom.current !== null) el.scrollTop = el.scrollHeight - fromBottom.current;
    fromBottom.current = null;
  }, [oldest]);
  useEffect(() => {
    // Opening a conversation reads it; the unread badge in the list refreshes after.
    if (conversation.unread_count > 0) {
      void api(bpath(bid, 'conversations', conversation.id, 'read'), { method: 'POST', body: {} })
        .catch(() => undefined)
        .then(() => queryClient.invalidateQueries({ queryKey: ['conversations', bid] }));
    }
  }, [bid, conversation.id, conversation.unread_count, queryClient]);
  const send = useMutation({
    mutationFn: () => api<Message>(bpath(bid, 'conversations', conversation.id, 'messages'), { body: { body } }),
    onSuccess: async () => {
      setBody('');
      await queryClient.invalidateQueries({ queryKey: key });
      await queryClient.invalidateQueries({ queryKey: ['conversations', bid] });
    },
  });
  const sendError =
    send.error instanceof ApiError && (send.error.code === 'contact_opted_out' || send.error.code === 'opted_out')
      ? 'This contact replied STOP. Capto will not send them messages until they reply START.'
      : send.isError
        ? errorMessage(send.error)
        : null;
  return (
    <section className="thread" aria-label={`Conversation with ${conversationName(conversation)}`}>
      <div className="row-between card">
        <div>
          <strong>{conversationName(conversation)}</strong>{' '}
          <Link to={`/b/${bid}/contacts/${conversation.contact_id}`} className="small">
            View contact
          </Link>
          <div className="small muted">From your number {formatPhone(conversation.our_number)}</div>
        </div>
        {optedOut && (
          <span className="badge badge-danger" data-testid="opted-out">
            Opted out (STOP)
          </span>
        )}
      </div>
      <div
        ref={log}
        className="messages"
        role="log"
        aria-label="Conversation thread"
        tabIndex={0}
        aria-live="polite"
        aria-relevant="additions"
      >
        {messages.isPending && <Loading label="Loading messages…" />}
        {messages.isError && <ErrorState error={messages.error} retry={() => void messages.refetch()} />}
        {messages.data && ordered.length === 0 && <Empty>No messages yet. Say hello.</Empty>}
        <LoadMore
          list={messages}
          noun="messages"
          label="Load earlier messages"
          onLoad={() => {
            const el = log.current;
            if (el) fromBottom.current = el.scrollHeight - el.scrollTop;
          }}
        />
        {ordered.map((m) => (
          <div
            key={m.id}
            className={`msg ${m.direction === 'inbound' ? 'msg-in' : 'msg-out'}`}
            data-direction={m.direction}
            data-status={m.status}
          >
            {m.body}
            <div className="msg-meta">
              {formatDateTime(m.created_at)}
              {m.direction === 'outbound' ? ` · ${humanize(m.status)}` : ''}
              {m.direction === 'inbound' && m.intent ? ' · ' : ''}
              <IntentChip intent={m.direction === 'inbound' ? m.intent : null} />
              {m.error_code ? ` · error ${m.error_code}` : ''}
            </div>
          </div>
        ))}
        <div ref={bottom} />
      </div>
      {sendError && <Alert kind="error">{sendError}</Alert>}
      <SuggestReply conversationId={conversation.id} disabled={optedOut || send.isPending} onText={setBody} />
      <form
        className="composer"
        onSubmit={(e: FormEvent) => {
          e.preventDefault();
          if (body.trim()) send.mutate();
        }}
      >
        <label htmlFor="composer" className="sr-only">
          Message
        </label>
        <textarea
          id="composer"
          value={body}
          maxLength={1600}
          onChange={(e) => setBody(e.target.value)}
          disabled={optedOut}
          placeholder={optedOut ? 'This contact opted out of SMS' : 'Write a text message…'}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && (e.metaKey || e.ctrlKey) && body.trim()) send.mutate();
          }}
        />
        <button type="submit" className="primary" disabled={send.isPending || !body.trim() || optedOut}>
          {send.isPending ? 'Sending…' : 'Send'}
        </button>
      </form>
    </section>
  );
}

function StartConversation({ bid, contactId }: { bid: string; contactId: string }) {
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [body, setBody] = useState('');
  // What texting needs, said before anyone types: a Twilio number, and a mobile phone.
  const numbers = useQuery({
    queryKey: ['twilio', bid],
    queryFn: async () => toPage<{ id: string }>(await api(bpath(bid, 'integrations', 'twilio'))).items,
  });
  const contact = useQuery({
    queryKey: ['contact-basic', bid, contactId],
    queryFn: () => api<Contact>(bpath(bid, 'contacts', contactId)),
  });
  const start = useMutation({
    mutationFn: async () => {
      // Opens (or finds) the conversation on the default Twilio number, then sends.
      const conv = await api<Conversation>(bpath(bid, 'conversations'), { body: { contact_id: contactId } });
      await api(bpath(bid, 'conversations', conv.id, 'messages'), { body: { body } });
      return conv;
    },
    onSuccess: async (c) => {
      await queryClient.invalidateQueries({ queryKey: ['conversations', bid] });
      navigate(`/b/${bid}/inbox/${c.id}`);
    },
  });
  const noNumber = numbers.isSuccess && numbers.data.length === 0;
  const noPhone = contact.isSuccess && !contact.data.phone;
  const blocked = noNumber || noPhone || !numbers.isSuccess || !contact.isSuccess;
  return (
    <form
      className="card"
      aria-labelledby="new-conv-h"
      onSubmit={(e: FormEvent) => {
        e.preventDefault();
        if (body.trim() && !blocked) start.mutate();
      }}
    >
      <h2 id="new-conv-h">New conversation</h2>
      {contact.isSuccess && (
        <p>
          To <Link to={`/b/${bid}/contacts/${contactId}`}>{fullName(contact.data)}</Link>
          {contact.data.phone ? ` at ${formatPhone(contact.data.phone)}` : ''}
        </p>
      )}
      {noNumber && (
        <Alert kind="warn">
          Texting needs a Twilio number, and this business has none yet. An owner or admin can connect one in{' '}
          <Link to={`/b/${bid}/settings/integrations`}>Settings → Integrations</Link>.
        </Alert>
      )}
      {noPhone && (
        <Alert kind="warn">
          This contact has no mobile phone. Add one on <Link to={`/b/${bid}/contacts/${contactId}`}>their page</Link>{' '}
          first.
        </Alert>
      )}
      {start.isError && <Alert kind="error">{errorMessage(start.error)}</Alert>}
      <label htmlFor="first-message">First message</label>
      <textarea id="first-message" value={body} disabled={blocked} onChange={(e) => setBody(e.target.value)} />
      <button type="submit" className="primary" disabled={blocked || !body.trim() || start.isPending}>
        Send
      </button>
    </form>
  );
}

export function InboxPage() {
  const { bid } = useBusiness();
  const { convId } = useParams();
  const [params, setParams] = useSearchParams();
  const intent = params.get('intent') ?? '';
  const conversations = usePagedList<Conversation>({
    queryKey: ['conversations', bid, 'inbox', intent],
    url: (cursor) => bpath(bid, 'conversations') + qs({ limit: 100, intent, cursor }),
    itemsKey: 'conversations',
    refetchInterval: () => POLL_MS * 2,
  });
  // A link to a conversation older than the pages loaded still opens it.
  const listed = conversations.data?.find((c) => c.id === convId);
  const linked = useQuery({
    queryKey: ['conversation', bid, convId],
    queryFn: () => api<Conversation>(bpath(bid, 'conversations', convId ?? '')),
    enabled: Boolean(convId) && conversations.data !== undefined && !listed,
    retry: false,
  });
  const startFor = params.get('contact');
  return (
    <>
      <h1>Inbox</h1>
      <IntentFilter
        value={intent}
        onChange={(v) =>
          setParams((p) => {
            if (v) p.set('intent', v);
            else p.delete('intent');
            return p;
          })
        }
      />
      <QueryView query={conversations} loadingLabel="Loading conversations…">
        {(items) => {
          const active = listed ?? (linked.data?.id === convId ? linked.data : undefined);
          return (
            <div className="inbox">
              <nav aria-label="Conversations">
                {items.length === 0 ? (
                  <Empty>
                    {intent
                      ? 'No conversations with this intent.'
                      : "No conversations yet. Start one from a contact's page."}
                  </Empty>
                ) : (
                  <ul className="conv-list">
                    {items.map((c) => (
                      <li key={c.id}>
                        <Link
                          to={`/b/${bid}/inbox/${c.id}`}
                          className={c.id === convId ? 'active' : undefined}
                          aria-current={c.id === convId ? 'page' : undefined}
                        >
                          <span className={c.unread_count > 0 ? 'unread' : undefined}>{conversationName(c)}</span>
                          {c.unread_count > 0 && (
                            <span className="badge">
                              {' '}
                              {c.unread_count}
                              <span className="sr-only"> unread</span>
                            </span>
                          )}
                          <IntentChip intent={c.intent} />
                          <div className="small muted">{c.last_message_preview ?? ''}</div>
                          <div className="small muted">{formatDateTime(c.last_message_at)}</div>
                        </Link>
                      </li>
                    ))}
                  </ul>
                )}
                <LoadMore list={conversations} noun="conversations" />
              </nav>
              {active ? (
                <Thread key={active.id} bid={bid} conversation={active} />
              ) : startFor ? (
                <StartConversation bid={bid} contactId={startFor} />
              ) : (
                <Empty>
                  {convId && linked.isPending
                    ? 'Loading the conversation…'
                    : convId
                      ? 'This conversation was not found.'
                      : 'Choose a conversation.'}
                </Empty>
              )}
            </div>
          );
        }}
      </QueryView>
    </>
  );
}
