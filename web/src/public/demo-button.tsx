// "Try the demo": POST /auth/demo creates a fresh demo user with a seeded, flagged
// workspace (P9) and signs the browser in as that user.
import { useState } from 'react';
import { useNavigate } from 'react-router';
import { api, errorMessage } from '../api/client.ts';
import { acceptTokens, type TokenResponse } from '../auth/session.ts';

export function DemoButton() {
  const navigate = useNavigate();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  async function start() {
    setBusy(true);
    setError(null);
    try {
      acceptTokens(await api<TokenResponse>('/auth/demo', { method: 'POST', body: {}, auth: false }));
      navigate('/app');
    } catch (e) {
      setError(errorMessage(e));
      setBusy(false);
    }
  }
  return (
    <>
      <button type="button" onClick={() => void start()} disabled={busy}>
        {busy ? 'Preparing the demo…' : 'Try the demo'}
      </button>
      {error && (
        <span className="field-error" role="alert">
          {error}
        </span>
      )}
    </>
  );
}
