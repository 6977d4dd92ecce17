import { useState, type FormEvent } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router';
import { api, ApiError, errorMessage } from '../api/client.ts';
import { TextField } from '../components/field.tsx';
import { PasswordStrength } from '../components/password-strength.tsx';
import { Alert } from '../components/states.tsx';
import { passwordProblem } from './sign-up.tsx';

/**
 * Mail links carry their token in the fragment (#token=…): a fragment never reaches a
 * server log or a Referer header. `?token=` is accepted too.
 */
export function linkToken(params: URLSearchParams): string {
  const fromHash = new URLSearchParams(window.location.hash.slice(1)).get('token');
  return fromHash ?? params.get('token') ?? '';
}

export function ForgotPasswordPage() {
  const [email, setEmail] = useState('');
  const [busy, setBusy] = useState(false);
  const [sent, setSent] = useState(false);
  const [error, setError] = useState<string | null>(null);
  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api('/auth/password/forgot', { body: { email }, auth: false });
      setSent(true);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  }
  return (
    <div className="card auth-card">
      <h1>Reset your password</h1>
      {sent ? (
        // Same answer whether or not the account exists: the form must not reveal who has an account.
        <Alert kind="ok">
          If an account exists for {email}, a reset link is on its way. It expires soon, so use it today.
        </Alert>
      ) : (
        <form onSubmit={(e) => void submit(e)} noValidate>
          {error && <Alert kind="error">{error}</Alert>}
          <TextField
            label="Email"
            type="email"
            autoComplete="email"
            required
            value={email}
            onChange={(e) => setEmail(e.target.value)}
          />
          <button type="submit" className="primary" disabled={busy}>
            {busy ? 'Sending…' : 'Send reset link'}
          </button>
        </form>
      )}
      <p className="small">
        <Link to="/signin">Back to sign in</Link>
      </p>
    </div>
  );
}

export function ResetPasswordPage() {
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const token = linkToken(params);
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [passwordError, setPasswordError] = useState<string | null>(null);
  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setPasswordError(null);
    try {
      await api('/auth/password/reset', { body: { token, new_password: password }, auth: false });
      navigate('/signin?reset=1', { replace: true });
    } catch (err) {
      const pw = passwordProblem(err);
      if (pw) setPasswordError(pw);
      else if (err instanceof ApiError && (err.code === 'token_invalid' || err.code === 'token_expired'))
        setError('This reset link is invalid or has expired. Ask for a new one.');
      else setError(errorMessage(err));
      setBusy(false);
    }
  }
  if (!token) {
    return (
      <div className="card auth-card">
        <h1>Choose a new password</h1>
        <Alert kind="error">
          This link has no reset token. Use the link from the email, or{' '}
          <Link to="/forgot-password">ask for a new one</Link>.
        </Alert>
      </div>
    );
  }
  return (
    <div className="card auth-card">
      <h1>Choose a new password</h1>
      {error && (
        <Alert kind="error">
          {error} <Link to="/forgot-password">Request a new link</Link>
        </Alert>
      )}
      <form onSubmit={(e) => void submit(e)} noValidate>
        <TextField
          label="New password"
          type="password"
          autoComplete="new-password"
          required
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          error={passwordError}
          hint="Signing in with the new password signs out your other sessions."
        />
        <PasswordStrength password={password} />
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Saving…' : 'Set password'}
        </button>
      </form>
    </div>
  );
}
