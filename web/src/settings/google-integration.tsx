// Google connection for the business. Connecting is a redirect to Google (through the
// server, which keeps PKCE verifier, state and nonce); the API answers with the URL
// because a top-level navigation cannot carry the in-memory bearer token. Each scope is
// listed with what it is for; one the connection lacks is added by incremental consent
// (POST …/integrations/google/scopes), without disconnecting (docs/ARCHITECTURE.md §26).
import { useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useSearchParams } from 'react-router';
import { api, bpath, errorMessage } from '../api/client.ts';
import { ConfirmDialog } from '../components/confirm.tsx';
import { formatDateTime } from '../components/format.ts';
import { Alert, QueryView } from '../components/states.tsx';

interface ScopeAccess {
  key: string;
  scope: string;
  label: string;
  purpose: string;
  held: boolean;
  addable: boolean;
}

interface GoogleStatus {
  configured: boolean;
  connected: boolean;
  google_email: string | null;
  scopes: string[];
  access: ScopeAccess[];
  connected_by_email: string | null;
  connected_at: string | null;
}

const OUTCOMES: Record<string, { kind: 'ok' | 'error'; text: string }> = {
  connected: { kind: 'ok', text: 'Google is connected.' },
  denied: { kind: 'error', text: 'The Google consent screen was cancelled; nothing was connected.' },
  already_connected: {
    kind: 'error',
    text: 'A Google account is already connected to this business. Disconnect it first.',
  },
  failed: { kind: 'error', text: 'Google did not complete the connection. Try again.' },
  scopes_added: { kind: 'ok', text: 'Google granted the added access.' },
  scope_declined: {
    kind: 'error',
    text: 'Google did not grant the access (it was unticked on the consent screen); nothing changed.',
  },
  account_mismatch: {
    kind: 'error',
    text: 'Another Google account was chosen at Google. Choose the connected account to add access; nothing changed.',
  },
};

const ADD_LABEL: Record<string, string> = {
  business_manage: 'Add Business Profile access',
  gmail_send: 'Add Gmail sending',
};

export function GoogleIntegration({ bid, canManage }: { bid: string; canManage: boolean }) {
  const queryClient = useQueryClient();
  const [params] = useSearchParams();
  const [confirm, setConfirm] = useState(false);
  const status = useQuery({
    queryKey: ['google', bid],
    queryFn: () => api<GoogleStatus>(bpath(bid, 'integrations', 'google')),
  });
  const connect = useMutation({
    mutationFn: () => api<{ authorization_url: string }>(bpath(bid, 'integrations', 'google', 'connect')),
    onSuccess: (r) => window.location.assign(r.authorization_url),
  });
  const addScope = useMutation({
    mutationFn: (scope: string) =>
      api<{ authorization_url: string }>(bpath(bid, 'integrations', 'google', 'scopes'), {
        method: 'POST',
        body: { scopes: [scope] },
      }),
    onSuccess: (r) => window.location.assign(r.authorization_url),
  });
  const disconnect = useMutation({
    mutationFn: () => api(bpath(bid, 'integrations', 'google'), { method: 'DELETE' }),
    onSuccess: async () => {
      setConfirm(false);
      await queryClient.invalidateQueries({ queryKey: ['google', bid] });
      await queryClient.invalidateQueries({ queryKey: ['audit', bid] });
    },
  });
  const outcome = OUTCOMES[params.get('google') ?? ''];
  return (
    <section aria-labelledby="google-h">
      <h2 id="google-h">Google</h2>
      {outcome && <Alert kind={outcome.kind}>{outcome.text}</Alert>}
      {(connect.isError || disconnect.isError || addScope.isError) && (
        <Alert kind="error">{errorMessage(connect.error ?? disconnect.error ?? addScope.error)}</Alert>
      )}
      <div className="card">
        <QueryView query={status}>
          {(s) => (
            <div className="row-between">
              <div>
                {s.connected ? (
                  <>
                    Connected
                    {s.google_email ? (
                      <>
                        {' '}
                        as <strong data-testid="google-email">{s.google_email}</strong>
                      </>
                    ) : null}
                    <div className="small muted">
                      by {s.connected_by_email ?? 'a teammate'} on {formatDateTime(s.connected_at)}
                    </div>
                  </>
                ) : !s.configured ? (
                  'Google is not set up on this server (the operator sets GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET).'
                ) : (
                  'Not connected.'
                )}
              </div>
              {canManage &&
                (s.connected ? (
                  <button type="button" onClick={() => setConfirm(true)}>
                    Disconnect Google
                  </button>
                ) : (
                  s.configured && (
                    <button
                      type="button"
                      className="primary"
                      disabled={connect.isPending}
                      onClick={() => connect.mutate()}
                    >
                      Connect Google
                    </button>
                  )
                ))}
            </div>
          )}
        </QueryView>
        {status.data?.configured && (
          <table className="google-scopes" data-testid="google-scopes">
            <caption className="small muted">
              {status.data.connected
                ? 'What Capto may do with this Google account'
                : 'What connecting lets Capto do (Google asks you for each)'}
            </caption>
            <thead>
              <tr>
                <th scope="col">Access</th>
                <th scope="col">What it is for</th>
                <th scope="col">Status</th>
              </tr>
            </thead>
            <tbody>
              {status.data.access.map((a) => (
                <tr key={a.key} data-scope={a.key} data-held={a.held ? 'true' : 'false'}>
                  <th scope="row">
                    {a.label}
                    <div className="small muted">
                      <code>{a.scope}</code>
                    </div>
                  </th>
                  <td>{a.purpose}</td>
                  <td>
                    {a.held ? (
                      'Granted'
                    ) : !status.data.connected ? (
                      'Requested when you connect'
                    ) : a.addable && canManage ? (
                      <button
                        type="button"
                        className="primary"
                        disabled={addScope.isPending}
                        onClick={() => addScope.mutate(a.scope)}
                      >
                        {ADD_LABEL[a.key] ?? `Add ${a.label}`}
                      </button>
                    ) : (
                      'Not granted — an owner or admin can add it'
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
      <ConfirmDialog
        open={confirm}
        title="Disconnect Google?"
        confirmLabel="Disconnect"
        busy={disconnect.isPending}
        onConfirm={() => disconnect.mutate()}
        onCancel={() => setConfirm(false)}
      >
        <p>Capto deletes the stored Google tokens. This is recorded in the audit log.</p>
      </ConfirmDialog>
    </section>
  );
}
