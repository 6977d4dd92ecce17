// The bell (docs/ARCHITECTURE.md §12.1): unread count and recent notifications, kept live
// by the server-sent event stream. The stream is read with fetch() and the bearer header
// like every API call — never EventSource, which could only authenticate with a token in
// the URL (docs/SECURITY.md §Notification stream). On `reauth` or a dropped connection the
// client refreshes its token if needed and reconnects with backoff.
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link } from 'react-router';
import { api, errorMessage, qs } from '../api/client.ts';
import { currentAccessToken, refreshSession } from '../auth/session.ts';
import { SelectField, TextField } from '../components/field.tsx';
import { formatDateTime } from '../components/format.ts';
import { Alert, Empty, QueryView } from '../components/states.tsx';

export const NOTIFICATION_KINDS = [
  'inbound_text',
  'task_due',
  'assignment',
  'import_finished',
  'invitation_accepted',
  'automation',
  'gbp_review',
] as const;
type Kind = (typeof NOTIFICATION_KINDS)[number];
const KIND_LABEL: Record<Kind, string> = {
  inbound_text: 'New inbound texts',
  task_due: 'Tasks due',
  assignment: 'Assignments to me',
  import_finished: 'Imports finished',
  invitation_accepted: 'Invitations accepted',
  automation: 'Automation alerts (notify steps)',
  gbp_review: 'Google reviews of 3 stars or fewer',
};

export interface AppNotification {
  id: string;
  business_id: string;
  business_name: string;
  kind: Kind;
  title: string;
  body: string;
  link: string | null;
  created_at: string;
  read_at: string | null;
}
interface NotificationPage {
  items: AppNotification[];
  next_cursor: string | null;
  unread_count: number;
}

type StreamEvent = { event: 'unread'; data: { count: number } } | { event: string; data: unknown };

/** Reads `/api/notifications/stream` until aborted, reconnecting as needed. */
export async function followNotifications(onEvent: (e: StreamEvent) => void, signal: AbortSignal): Promise<void> {
  let delay = 1000;
  while (!signal.aborted) {
    try {
      let token = currentAccessToken();
      if (!token && (await refreshSession())) token = currentAccessToken();
      if (!token) return;
      const res = await fetch('/api/notifications/stream', {
        headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
        signal,
        cache: 'no-store',
      });
      if (res.status === 401) {
        if (!(await refreshSession())) return;
        continue;
      }
      if (!res.ok || !res.body) throw new Error(`stream ${res.status}`);
      delay = 1000;
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += decoder.decode(value, { stream: true });
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data) onEvent({ event, data: JSON.parse(data) as unknown } as StreamEvent);
        }
      }
    } catch {
      if (signal.aborted) return;
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 30_000);
  }
}

export function NotificationBell() {
  const queryClient = useQueryClient();
  const [open, setOpen] = useState(false);
  const [unread, setUnread] = useState<number | null>(null);
  const panel = useRef<HTMLDivElement>(null);
  const list = useQuery({
    queryKey: ['notifications'],
    queryFn: () => api<NotificationPage>(`/api/notifications${qs({ limit: 20 })}`),
  });
  useEffect(() => {
    const ctl = new AbortController();
    void followNotifications((e) => {
      if (e.event === 'unread') setUnread((e.data as { count: number }).count);
      if (e.event === 'notification') void queryClient.invalidateQueries({ queryKey: ['notifications'] });
    }, ctl.signal);
    return () => ctl.abort();
  }, [queryClient]);
  useEffect(() => {
    if (!open) return;
    const onKey = (e: KeyboardEvent) => e.key === 'Escape' && setOpen(false);
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [open]);
  const markRead = useMutation({
    mutationFn: (body: { ids: string[] } | { all: true }) =>
      api<{ unread_count: number }>('/api/notifications/read', { body }),
    onSuccess: async (r) => {
      setUnread(r.unread_count);
      await queryClient.invalidateQueries({ queryKey: ['notifications'] });
    },
  });
  // Until the list or the stream has answered, the count is unknown: the bell says nothing
  // rather than "0 unread", which a user (or a test taking a baseline) would believe.
  const known = unread !== null || list.data !== undefined;
  const count = unread ?? list.data?.unread_count ?? 0;
  return (
    <div className="bell">
      <button
        type="button"
        className="bell-button"
        aria-expanded={open}
        aria-controls="notification-panel"
        aria-label={known ? `Notifications, ${count} unread` : 'Notifications'}
        aria-busy={!known}
        data-unread={known ? count : undefined}
        data-testid="bell"
        onClick={() => setOpen((o) => !o)}
      >
        <svg className="bell-icon" viewBox="0 0 24 24" aria-hidden="true" focusable="false">
          <path d="M12 2a6 6 0 0 0-6 6v3.6L4.3 15a1 1 0 0 0 .9 1.5h13.6a1 1 0 0 0 .9-1.5L18 11.6V8a6 6 0 0 0-6-6Zm0 20a3 3 0 0 0 2.8-2H9.2A3 3 0 0 0 12 22Z" />
        </svg>
        {count > 0 && (
          <span className="bell-count" data-testid="bell-count">
            {count > 99 ? '99+' : count}
          </span>
        )}
      </button>
      {open && (
        <div className="bell-panel card" id="notification-panel" ref={panel} role="region" aria-label="Notifications">
          <div className="row-between">
            <h2 className="h3">Notifications</h2>
            <button type="button" disabled={count === 0} onClick={() => markRead.mutate({ all: true })}>
              Mark all read
            </button>
          </div>
          <QueryView query={list}>
            {(page) =>
              page.items.length === 0 ? (
                <Empty>Nothing yet. New texts, due tasks and assignments show up here.</Empty>
              ) : (
                <ul className="list-plain notification-list">
                  {page.items.map((n) => (
                    <li key={n.id} className={n.read_at ? 'read' : 'unread'}>
                      {n.link ? (
                        <Link
                          to={n.link}
                          onClick={() => {
                            setOpen(false);
                            if (!n.read_at) markRead.mutate({ ids: [n.id] });
                          }}
                        >
                          {n.title}
                        </Link>
                      ) : (
                        <span>{n.title}</span>
                      )}
                      {n.body && <div className="small">{n.body}</div>}
                      <div className="small muted">
                        {n.business_name} · {formatDateTime(n.created_at)}
                        {!n.read_at && <span className="sr-only"> (unread)</span>}
                      </div>
                    </li>
                  ))}
                </ul>
              )
            }
          </QueryView>
        </div>
      )}
    </div>
  );
}

interface Settings {
  time_zone: string;
  digest_hour: number;
  email_kinds: Kind[];
}

/** Settings → Notifications: which notifications also arrive by email, and when (per user). */
export function NotificationSettings() {
  const queryClient = useQueryClient();
  const settings = useQuery({
    queryKey: ['notification-settings'],
    queryFn: () => api<Settings>('/api/notifications/settings'),
  });
  return (
    <QueryView query={settings}>
      {(s) => (
        <SettingsForm
          initial={s}
          onSaved={() => queryClient.invalidateQueries({ queryKey: ['notification-settings'] })}
        />
      )}
    </QueryView>
  );
}

function SettingsForm({ initial, onSaved }: { initial: Settings; onSaved: () => unknown }) {
  const [form, setForm] = useState(initial);
  const [saved, setSaved] = useState(false);
  const save = useMutation({
    mutationFn: () => api<Settings>('/api/notifications/settings', { method: 'PUT', body: form }),
    onSuccess: async () => {
      setSaved(true);
      await onSaved();
    },
  });
  const toggle = (k: Kind) =>
    setForm((f) => ({
      ...f,
      email_kinds: f.email_kinds.includes(k) ? f.email_kinds.filter((x) => x !== k) : [...f.email_kinds, k],
    }));
  return (
    <form
      className="card"
      aria-labelledby="notif-settings-h"
      onSubmit={(e: FormEvent) => {
        e.preventDefault();
        setSaved(false);
        save.mutate();
      }}
    >
      <h2 id="notif-settings-h">Email digest</h2>
      <p className="muted small">
        Every notification appears under the bell. Choose which ones also arrive by email, in one daily digest.
      </p>
      {save.isError && <Alert kind="error">{errorMessage(save.error)}</Alert>}
      {saved && <Alert kind="ok">Saved.</Alert>}
      <fieldset>
        <legend>Also email me about</legend>
        {NOTIFICATION_KINDS.map((k) => (
          <div className="field field-check" key={k}>
            <input id={`kind-${k}`} type="checkbox" checked={form.email_kinds.includes(k)} onChange={() => toggle(k)} />
            <label htmlFor={`kind-${k}`}>{KIND_LABEL[k]}</label>
          </div>
        ))}
      </fieldset>
      <div className="grid-2">
        <SelectField
          label="Send the digest at"
          value={String(form.digest_hour)}
          onChange={(e) => setForm((f) => ({ ...f, digest_hour: Number(e.target.value) }))}
        >
          {Array.from({ length: 24 }, (_, h) => (
            <option key={h} value={h}>
              {`${String(h).padStart(2, '0')}:00`}
            </option>
          ))}
        </SelectField>
        <TextField
          label="Your time zone"
          hint="An IANA name, e.g. America/Chicago"
          value={form.time_zone}
          onChange={(e) => setForm((f) => ({ ...f, time_zone: e.target.value }))}
        />
      </div>
      <button type="submit" className="primary" disabled={save.isPending}>
        Save
      </button>
    </form>
  );
}
