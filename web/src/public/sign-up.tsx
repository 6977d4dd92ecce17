import { useState, type FormEvent } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router';
import { api, ApiError } from '../api/client.ts';
import { acceptTokens, type TokenResponse } from '../auth/session.ts';
import { TextField } from '../components/field.tsx';
import { PasswordStrength } from '../components/password-strength.tsx';
import { Alert } from '../components/states.tsx';
import { GoogleButton, safeNext } from './sign-in.tsx';

export function passwordProblem(e: unknown): string | null {
  if (!(e instanceof ApiError)) return null;
  if (e.code === 'password_breached') {
    return 'This password has appeared in a known data breach (Have I Been Pwned), so attackers try it first. Choose a different one — a few unrelated words work well.';
  }
  if (e.code === 'password_similar_to_email')
    return 'Your password is too close to your email address. Choose something unrelated.';
  if (e.code === 'password_check_unavailable')
    return 'We could not check this password against known breaches right now. Try again in a minute.';
  if (e.code.startsWith('password_')) return e.message;
  return null;
}

export function SignUpPage() {
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const [email, setEmail] = useState(params.get('email') ?? '');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [passwordError, setPasswordError] = useState<string | null>(null);
  const [checkEmail, setCheckEmail] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setPasswordError(null);
    try {
      const body = await api<Partial<TokenResponse>>('/auth/signup', { body: { email, password }, auth: false });
      if (body.access_token) {
        acceptTokens(body as TokenResponse);
        navigate(safeNext(params.get('next')), { replace: true });
      } else {
        setCheckEmail(true);
      }
    } catch (err) {
      const pw = passwordProblem(err);
      if (pw) setPasswordError(pw);
      else if (err instanceof ApiError && (err.code === 'email_taken' || err.code === 'conflict'))
        setError('An account with this email already exists. Sign in instead.');
      else setError(err instanceof ApiError ? err.message : 'Could not reach Capto. Try again.');
    } finally {
      setBusy(false);
    }
  }

  if (checkEmail) {
    return (
      <div className="card auth-card">
        <h1>Check your email</h1>
        <p>We sent a verification link to {email}. Open it to finish creating your account.</p>
      </div>
    );
  }

  return (
    <div className="card auth-card">
      <h1>Create your account</h1>
      {error && <Alert kind="error">{error}</Alert>}
      <form onSubmit={(e) => void submit(e)} noValidate>
        <TextField
          label="Work email"
          type="email"
          autoComplete="email"
          required
          value={email}
          onChange={(e) => setEmail(e.target.value)}
        />
        <TextField
          label="Password"
          type="password"
          autoComplete="new-password"
          required
          minLength={8}
          value={password}
          onChange={(e) => {
            setPassword(e.target.value);
            setPasswordError(null);
          }}
          hint="At least 8 characters. Passwords found in known breaches are refused."
          error={passwordError}
        />
        <PasswordStrength password={password} userInputs={[email]} />
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Creating account…' : 'Create account'}
        </button>
      </form>
      <GoogleButton />
      <p className="small muted">
        Already have an account? <Link to="/signin">Sign in</Link>. By creating an account you accept the{' '}
        <Link to="/terms">Terms of Service</Link> and the <Link to="/privacy">Privacy Policy</Link>.
      </p>
    </div>
  );
}
