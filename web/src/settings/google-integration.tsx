// Google connection for the business. Connecting is a redirect to Google (through the
// server, which keeps PKCE verifier, state and nonce); the API answers with the URL
// because a top-level navigation cannot carry the in-memory bearer token.
import { useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useSearchParams } from 'react-router';
import { api, bpath, errorMessage } from '../api/client.ts';
import { ConfirmDialog } from '../components/confirm.tsx';
import { formatDateTime } from '../components/format.ts';
import { Alert, QueryView } from '../components/states.tsx';

interface GoogleStatus {
  connected: boolean;
  email?: string | null;
  connected_at?: string | null;
  configured?: boolean;
}

export function GoogleIntegration({ bid, canManage }: { bid: string; canManage: boolean }) {
  const queryClient = useQueryClient();
  const [params] = useSearchParams();
  const [confirm, setConfirm] = useState(false);
  const status = useQuery({ queryKey: ['google', bid], queryFn: () => api<GoogleStatus>(bpath(bid, 'integrations', 'google')) });
  const connect = useMutation({
    mutationFn: () => api<{ url?: string; authorization_url?: string }>(bpath(bid, 'integrations', 'google', 'connect')),
    onSuccess: (r) => {
      const url = r.url ?? r.authorization_url;
      if (url) window.location.assign(url);
    },
  });
  const disconnect = useMutation({
    mutationFn: () => api(bpath(bid, 'integrations', 'google'), { method: 'DELETE' }),
    onSuccess: async () => {
      setConfirm(false);
      await queryClient.invalidateQueries({ queryKey: ['google', bid] });
      await queryClient.invalidateQueries({ queryKey: ['audit', bid] });
    },
  });
  const result = params.get('google');
  return (
    <section aria-labelledby="google-h">
      <h2 id="google-h">Google</h2>
      {result === 'connected' && <Alert kind="ok">Google is connected.</Alert>}
      {result === 'error' && <Alert kind="error">Google did not complete the connection. Try again.</Alert>}
      {(connect.isError || disconnect.isError) && <Alert kind="error">{errorMessage(connect.error ?? disconnect.error)}</Alert>}
      <div className="card">
        <QueryView query={status}>
          {(s) => (
            <div className="row-between">
              <div>
                {s.connected ? (
                  <>Connected{s.email ? <> as <strong>{s.email}</strong></> : null} <span className="small muted">since {formatDateTime(s.connected_at)}</span></>
                ) : s.configured === false ? 'Google sign-in is not configured on this server.' : 'Not connected.'}
              </div>
              {canManage && (s.connected
                ? <button type="button" onClick={() => setConfirm(true)}>Disconnect Google</button>
                : s.configured !== false && <button type="button" className="primary" disabled={connect.isPending} onClick={() => connect.mutate()}>Connect Google</button>)}
            </div>
          )}
        </QueryView>
      </div>
      <ConfirmDialog open={confirm} title="Disconnect Google?" confirmLabel="Disconnect" busy={disconnect.isPending}
        onConfirm={() => disconnect.mutate()} onCancel={() => setConfirm(false)}>
        <p>Capto deletes the stored Google tokens. This is recorded in the audit log.</p>
      </ConfirmDialog>
    </section>
  );
}
