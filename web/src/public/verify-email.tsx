import { useEffect, useRef, useState } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router';
import { api, errorMessage } from '../api/client.ts';
import { refreshSession } from '../auth/session.ts';
import { Alert, Loading } from '../components/states.tsx';
import { takeReturnAfterVerify } from './accept-invitation.tsx';
import { linkToken } from './password-reset.tsx';

export function VerifyEmailPage() {
  const [params] = useSearchParams();
  const token = linkToken(params);
  const [state, setState] = useState<'working' | 'ok' | 'error'>(token ? 'working' : 'error');
  const [message, setMessage] = useState<string>(token ? '' : 'This link has no verification token.');
  const started = useRef(false);
  const navigate = useNavigate();
  const [returnTo, setReturnTo] = useState<string | null>(null);
  useEffect(() => {
    // StrictMode runs effects twice in development: a token is single-use, send it once.
    if (!token || started.current) return;
    started.current = true;
    api('/auth/verify', { body: { token }, auth: false })
      .then(async () => {
        setState('ok');
        await refreshSession().catch(() => false);
        // Verified for an invitation: back to it, where "Accept invitation" now works.
        const back = takeReturnAfterVerify();
        if (back) {
          setReturnTo(back);
          navigate(back, { replace: true });
        }
      })
      .catch((e: unknown) => {
        setState('error');
        setMessage(errorMessage(e));
      });
  }, [token]);
  return (
    <div className="card auth-card">
      <h1>Verify your email</h1>
      {state === 'working' && <Loading label="Verifying…" />}
      {state === 'ok' && (
        <Alert kind="ok">
          Your email is verified.{' '}
          {returnTo ? <Link to={returnTo}>Back to your invitation</Link> : <Link to="/app">Continue to Capto</Link>}
        </Alert>
      )}
      {state === 'error' && <Alert kind="error">{message || 'This link is invalid or has expired.'}</Alert>}
    </div>
  );
}
