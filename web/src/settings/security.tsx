// My account's security: sessions (revoke one, or sign out everywhere), password change,
// and my recent authentication events (from auth.audit_events, P10).
import { useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, errorMessage, qs } from '../api/client.ts';
import { signOut } from '../auth/session.ts';
import { TextField } from '../components/field.tsx';
import { formatDateTime } from '../components/format.ts';
import { PasswordStrength } from '../components/password-strength.tsx';
import { Alert, Empty, QueryView } from '../components/states.tsx';
import { passwordProblem } from '../public/sign-up.tsx';
import { toPage } from '../crm/types.ts';

interface SessionRow {
  id: string;
  created_at: string;
  last_used_at?: string | null;
  refreshed_at?: string | null;
  ip?: string | null;
  user_agent?: string | null;
  current?: boolean;
  is_current?: boolean;
}

interface AuthEvent {
  id: string;
  type?: string;
  kind?: string;
  created_at?: string;
  occurred_at?: string;
  ip?: string | null;
  user_agent?: string | null;
}

function describeAgent(ua: string | null | undefined): string {
  if (!ua) return 'Unknown device';
  const browser = /Edg\//.test(ua)
    ? 'Edge'
    : /Chrome\//.test(ua)
      ? 'Chrome'
      : /Firefox\//.test(ua)
        ? 'Firefox'
        : /Safari\//.test(ua)
          ? 'Safari'
          : 'Browser';
  const os = /Windows/.test(ua)
    ? 'Windows'
    : /Mac OS X/.test(ua)
      ? 'macOS'
      : /Android/.test(ua)
        ? 'Android'
        : /iPhone|iPad/.test(ua)
          ? 'iOS'
          : /Linux/.test(ua)
            ? 'Linux'
            : '';
  return os ? `${browser} on ${os}` : browser;
}

function Sessions() {
  const queryClient = useQueryClient();
  const sessions = useQuery({
    queryKey: ['sessions'],
    queryFn: async () => toPage<SessionRow>(await api('/auth/sessions'), 'sessions').items,
  });
  const revoke = useMutation({
    mutationFn: (id: string) => api(`/auth/sessions/${encodeURIComponent(id)}`, { method: 'DELETE' }),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['sessions'] }),
  });
  return (
    <section aria-labelledby="sessions-h">
      <h2 id="sessions-h">Where you're signed in</h2>
      {revoke.isError && <Alert kind="error">{errorMessage(revoke.error)}</Alert>}
      <QueryView query={sessions}>
        {(items) =>
          items.length === 0 ? (
            <Empty>No active sessions.</Empty>
          ) : (
            <div className="table-wrap">
              <table data-testid="sessions">
                <thead>
                  <tr>
                    <th scope="col">Device</th>
                    <th scope="col">IP address</th>
                    <th scope="col">Signed in</th>
                    <th scope="col">Last active</th>
                    <th scope="col">
                      <span className="sr-only">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {items.map((s) => {
                    const current = s.current ?? s.is_current ?? false;
                    return (
                      <tr key={s.id}>
                        <td>
                          {describeAgent(s.user_agent)}{' '}
                          {current && <span className="badge badge-ok">This browser</span>}
                        </td>
                        <td>{s.ip ?? '—'}</td>
                        <td>{formatDateTime(s.created_at)}</td>
                        <td>{formatDateTime(s.refreshed_at ?? s.last_used_at)}</td>
                        <td>
                          {current ? (
                            <button type="button" onClick={() => void signOut()}>
                              Sign out
                            </button>
                          ) : (
                            <button type="button" onClick={() => revoke.mutate(s.id)}>
                              Revoke<span className="sr-only"> session from {describeAgent(s.user_agent)}</span>
                            </button>
                          )}
                        </td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
          )
        }
      </QueryView>
      <p>
        <button type="button" className="danger" onClick={() => void signOut({ everywhere: true })}>
          Sign out everywhere
        </button>
      </p>
    </section>
  );
}

function ChangePassword() {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [pwError, setPwError] = useState<string | null>(null);
  const change = useMutation({
    mutationFn: () => api('/auth/password', { body: { current_password: current, new_password: next } }),
    onSuccess: () => {
      setCurrent('');
      setNext('');
    },
    onError: (e) => setPwError(passwordProblem(e)),
  });
  return (
    <form
      className="card"
      aria-labelledby="pw-h"
      onSubmit={(e: FormEvent) => {
        e.preventDefault();
        setPwError(null);
        change.mutate();
      }}
    >
      <h2 id="pw-h">Change password</h2>
      {change.isSuccess && <Alert kind="ok">Password changed. Your other sessions were signed out.</Alert>}
      {change.isError && !pwError && <Alert kind="error">{errorMessage(change.error)}</Alert>}
      <TextField
        label="Current password"
        type="password"
        autoComplete="current-password"
        value={current}
        onChange={(e) => setCurrent(e.target.value)}
      />
      <TextField
        label="New password"
        type="password"
        autoComplete="new-password"
        value={next}
        onChange={(e) => {
          setNext(e.target.value);
          setPwError(null);
        }}
        error={pwError}
      />
      <PasswordStrength password={next} />
      <button type="submit" className="primary" disabled={change.isPending || !current || !next}>
        Change password
      </button>
    </form>
  );
}

function AuthEvents() {
  const events = useQuery({
    queryKey: ['auth-events'],
    queryFn: async () => toPage<AuthEvent>(await api('/auth/events' + qs({ limit: 20 })), 'events').items,
  });
  return (
    <section aria-labelledby="events-h">
      <h2 id="events-h">Recent sign-in activity</h2>
      <QueryView query={events}>
        {(items) =>
          items.length === 0 ? (
            <Empty>No recent activity.</Empty>
          ) : (
            <div className="table-wrap">
              <table data-testid="auth-events">
                <thead>
                  <tr>
                    <th scope="col">Time</th>
                    <th scope="col">Event</th>
                    <th scope="col">IP address</th>
                    <th scope="col">Device</th>
                  </tr>
                </thead>
                <tbody>
                  {items.map((ev) => (
                    <tr key={ev.id}>
                      <td>{formatDateTime(ev.occurred_at ?? ev.created_at)}</td>
                      <td>{(ev.type ?? ev.kind ?? '').replace(/[._]/g, ' ')}</td>
                      <td>{ev.ip ?? '—'}</td>
                      <td>{describeAgent(ev.user_agent)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )
        }
      </QueryView>
    </section>
  );
}

export function SecuritySettings() {
  return (
    <div className="stack">
      <Sessions />
      <ChangePassword />
      <AuthEvents />
    </div>
  );
}
