import { useState } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router';
import { useQueryClient } from '@tanstack/react-query';
import { api, errorMessage } from '../api/client.ts';
import { useSession } from '../auth/use-session.ts';
import { Alert, Loading } from '../components/states.tsx';
import { linkToken } from './password-reset.tsx';

export function AcceptInvitationPage() {
  const [params] = useSearchParams();
  const token = linkToken(params);
  const { status, user } = useSession();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const here = `/accept-invitation#token=${encodeURIComponent(token)}`;

  async function accept() {
    setBusy(true);
    setError(null);
    try {
      const result = await api<{ business_id?: string; business?: { id: string } }>('/api/invitations/accept', {
        body: { token },
      });
      await queryClient.invalidateQueries({ queryKey: ['me'] });
      const bid = result?.business_id ?? result?.business?.id;
      navigate(bid ? `/b/${bid}` : '/app', { replace: true });
    } catch (e) {
      setError(errorMessage(e));
      setBusy(false);
    }
  }

  return (
    <div className="card auth-card">
      <h1>Join a team on Capto</h1>
      {!token && <Alert kind="error">This invitation link is incomplete. Ask for a new invitation.</Alert>}
      {token && status === 'unknown' && <Loading />}
      {token && status === 'signed-out' && (
        <>
          <p>Sign in or create an account with the email address the invitation was sent to, then accept it.</p>
          <div className="row">
            <Link className="button primary" to={`/signin?next=${encodeURIComponent(here)}`}>
              Sign in
            </Link>
            <Link className="button" to={`/signup?next=${encodeURIComponent(here)}`}>
              Create account
            </Link>
          </div>
        </>
      )}
      {token && status === 'signed-in' && (
        <>
          {error && <Alert kind="error">{error}</Alert>}
          <p>
            You are signed in as <strong>{user?.email}</strong>.
          </p>
          <button type="button" className="primary" disabled={busy} onClick={() => void accept()}>
            {busy ? 'Joining…' : 'Accept invitation'}
          </button>
        </>
      )}
    </div>
  );
}
