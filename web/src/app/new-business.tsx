import { useState, type FormEvent } from 'react';
import { Link, useNavigate } from 'react-router';
import { useQueryClient } from '@tanstack/react-query';
import { api, errorMessage } from '../api/client.ts';
import { TextField } from '../components/field.tsx';
import { Alert } from '../components/states.tsx';
import { signOut } from '../auth/session.ts';
import { useMe } from './me.ts';
import { usePathTitle } from './title.ts';

export function NewBusinessPage({ first = false }: { first?: boolean }) {
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const me = useMe();
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  usePathTitle();
  async function submit(e: FormEvent) {
    e.preventDefault();
    if (!name.trim()) {
      setError('Give your business a name.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const created = await api<{ id?: string; business?: { id: string } }>('/api/businesses', {
        body: { name: name.trim() },
      });
      await queryClient.invalidateQueries({ queryKey: ['me'] });
      const id = created.id ?? created.business?.id;
      navigate(id ? `/b/${id}` : '/app', { replace: true });
    } catch (err) {
      setError(errorMessage(err));
      setBusy(false);
    }
  }
  return (
    <div className="public">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="public-header">
        <Link to="/app" className="brand">
          Capto
        </Link>
        <nav aria-label="Account">
          <span className="small" data-testid="signed-in-as">
            {me.data?.user.email ?? ''}
          </span>
          <button type="button" onClick={() => void signOut()}>
            Sign out
          </button>
        </nav>
      </header>
      <main id="main" className="public-main">
        <div className="card auth-card">
          <h1>{first ? 'Welcome to Capto' : 'New business'}</h1>
          {first && (
            <p>
              Capto keeps each business — a brokerage, a branch, a team — in its own workspace. Create your first one to
              start adding contacts. Your 14-day trial starts now.
            </p>
          )}
          {error && <Alert kind="error">{error}</Alert>}
          <form onSubmit={(e) => void submit(e)} noValidate>
            <TextField
              label="Business name"
              required
              autoFocus
              value={name}
              onChange={(e) => setName(e.target.value)}
              hint="For example “Harbor Mortgage — Downtown branch”. You can change it later."
            />
            <div className="row">
              <button type="submit" className="primary" disabled={busy}>
                {busy ? 'Creating…' : 'Create business'}
              </button>
              {!first && (me.data?.businesses.length ?? 0) > 0 && <Link to="/app">Cancel</Link>}
            </div>
          </form>
          <p className="small muted">
            Signed in as {me.data?.user.email ?? '…'}. Invited to a team? Open the invitation link from your email
            instead.
          </p>
        </div>
      </main>
    </div>
  );
}
