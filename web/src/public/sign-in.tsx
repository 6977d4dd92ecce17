import { useState, type FormEvent } from 'react';
import { useQuery } from '@tanstack/react-query';
import { Link, useNavigate, useSearchParams } from 'react-router';
import { api, ApiError } from '../api/client.ts';
import { acceptTokens, type TokenResponse } from '../auth/session.ts';
import { TextField } from '../components/field.tsx';
import { Alert } from '../components/states.tsx';
import { DemoButton } from './demo-button.tsx';

/** Only same-site paths: an attacker-supplied ?next= must not become an open redirect. */
export function safeNext(next: string | null): string {
  return next && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/\\') ? next : '/app';
}

/** The Google button, shown only when the server has a Google client configured. */
export function GoogleButton() {
  const providers = useQuery({
    queryKey: ['auth-providers'],
    queryFn: () => api<{ google: boolean }>('/auth/providers', { auth: false }),
    staleTime: Infinity,
  });
  if (!providers.data?.google) return null;
  return (
    <a className="button" href="/auth/google/start">
      <span aria-hidden="true">G</span> Continue with Google
    </a>
  );
}

function signInMessage(e: unknown): string {
  if (e instanceof ApiError) {
    if (e.code === 'invalid_credentials' || e.status === 401) return 'That email and password do not match an account.';
    if (e.code === 'rate_limited' || e.status === 429) return 'Too many attempts. Wait a minute and try again.';
    return e.message;
  }
  return 'Could not reach Capto. Check your connection and try again.';
}

export function SignInPage() {
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const oauthError = params.get('error');

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      acceptTokens(await api<TokenResponse>('/auth/signin', { body: { email, password }, auth: false }));
      navigate(safeNext(params.get('next')), { replace: true });
    } catch (err) {
      setError(signInMessage(err));
      setBusy(false);
    }
  }

  return (
    <div className="card auth-card">
      <h1>Sign in</h1>
      {oauthError && (
        <Alert kind="error">
          {oauthError === 'google_not_configured'
            ? 'Google sign-in is not set up on this server. Sign in with your email and password.'
            : oauthError === 'email_taken'
              ? 'An account with this email already exists. Sign in with your password.'
              : 'Google sign-in did not complete. Try again, or sign in with your email and password.'}
        </Alert>
      )}
      {params.get('reset') === '1' && <Alert kind="ok">Your password was changed. Sign in with the new one.</Alert>}
      {error && <Alert kind="error">{error}</Alert>}
      <form onSubmit={(e) => void submit(e)} noValidate>
        <TextField
          label="Email"
          type="email"
          autoComplete="email"
          required
          value={email}
          onChange={(e) => setEmail(e.target.value)}
        />
        <TextField
          label="Password"
          type="password"
          autoComplete="current-password"
          required
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
        <div className="row-between">
          <button type="submit" className="primary" disabled={busy}>
            {busy ? 'Signing in…' : 'Sign in'}
          </button>
          <Link to="/forgot-password">Forgot your password?</Link>
        </div>
      </form>
      <div className="divider">or</div>
      <div className="row">
        <GoogleButton />
        <DemoButton />
      </div>
      <p className="small muted">
        New to Capto? <Link to="/signup">Create an account</Link>.
      </p>
    </div>
  );
}
