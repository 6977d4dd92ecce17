import { useEffect, useState } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api, errorMessage } from '../api/client.ts';
import { useSession } from '../auth/use-session.ts';
import { Alert, Loading } from '../components/states.tsx';
import { linkToken } from './password-reset.tsx';

/**
 * Where the verify-email page goes after a successful verification. The invitation is
 * remembered in this browser's localStorage (the mail's link usually opens a new tab),
 * for a day at most and only as a same-site invitation path; it is removed when used.
 */
export const RETURN_AFTER_VERIFY = 'capto.returnAfterVerify';

export function rememberReturnAfterVerify(path: string): void {
  localStorage.setItem(RETURN_AFTER_VERIFY, JSON.stringify({ path, at: Date.now() }));
}

export function takeReturnAfterVerify(): string | null {
  const raw = localStorage.getItem(RETURN_AFTER_VERIFY);
  localStorage.removeItem(RETURN_AFTER_VERIFY);
  if (!raw) return null;
  try {
    const { path, at } = JSON.parse(raw) as { path?: unknown; at?: unknown };
    const fresh = typeof at === 'number' && Date.now() - at < 86_400_000;
    return fresh && typeof path === 'string' && /^\/(invite\/accept|accept-invitation)#/.test(path) ? path : null;
  } catch {
    return null;
  }
}

export function AcceptInvitationPage() {
  const [params] = useSearchParams();
  const token = linkToken(params);
  const { status, user } = useSession();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  // Coming back from the verification link returns here.
  useEffect(() => {
    if (token) rememberReturnAfterVerify(`/invite/accept#${window.location.hash.slice(1)}`);
  }, [token]);
  const invitedEmail = new URLSearchParams(window.location.hash.slice(1)).get('email') ?? params.get('email') ?? '';
  const here = `/accept-invitation#token=${encodeURIComponent(token)}${
    invitedEmail ? `&email=${encodeURIComponent(invitedEmail)}` : ''
  }`;
  const resend = useMutation({ mutationFn: () => api('/auth/verify/resend', { method: 'POST', body: {} }) });
  const unverified = status === 'signed-in' && user?.email_verified === false;

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
            <Link
              className="button"
              to={`/signup?next=${encodeURIComponent(here)}${invitedEmail ? `&email=${encodeURIComponent(invitedEmail)}` : ''}`}
            >
              Create account
            </Link>
          </div>
        </>
      )}
      {token && unverified && (
        <>
          <p>
            You are signed in as <strong>{user?.email}</strong>. Confirm this address first: open the link we mailed
            you, and you will come back here to accept the invitation.
          </p>
          {resend.isSuccess ? (
            <Alert kind="ok">We sent the link again. Check your inbox.</Alert>
          ) : resend.isError ? (
            <Alert kind="error">{errorMessage(resend.error)}</Alert>
          ) : null}
          <button type="button" disabled={resend.isPending} onClick={() => resend.mutate()}>
            {resend.isPending ? 'Sending…' : 'Resend verification email'}
          </button>
        </>
      )}
      {token && status === 'signed-in' && !unverified && (
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
