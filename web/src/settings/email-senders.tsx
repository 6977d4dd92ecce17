// Settings → Integrations → Email senders: an SMTP relay (the login is verified before
// saving; the password is write-only) or the connected Gmail account. Owners and admins
// manage; members see the list. Changing the host, port, security or username asks
// for the password again (the server refuses it otherwise).
import { useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, bpath, errorMessage } from '../api/client.ts';
import { ConfirmDialog } from '../components/confirm.tsx';
import { SelectField, TextField } from '../components/field.tsx';
import { formatDateTime } from '../components/format.ts';
import { Alert, Empty, QueryView } from '../components/states.tsx';
import { toPage } from '../crm/types.ts';

export interface EmailSender {
  id: string;
  kind: 'smtp' | 'gmail';
  from_name: string;
  from_email: string;
  host: string | null;
  port: number | null;
  security: 'tls' | 'starttls' | 'none' | null;
  username: string | null;
  rate_per_second: number;
  is_default: boolean;
  created_at: string;
}

export function useEmailSenders(bid: string) {
  return useQuery({
    queryKey: ['email-senders', bid],
    queryFn: async () => toPage<EmailSender>(await api(bpath(bid, 'integrations', 'email'))).items,
  });
}

const emptySmtp = {
  from_name: '',
  from_email: '',
  host: '',
  port: '587',
  security: 'starttls',
  username: '',
  password: '',
};

function AddSmtpForm({ bid, onDone }: { bid: string; onDone: () => Promise<void> }) {
  const [form, setForm] = useState(emptySmtp);
  const add = useMutation({
    mutationFn: () =>
      api(bpath(bid, 'integrations', 'email'), {
        body: { kind: 'smtp', ...form, port: Number(form.port) },
      }),
    onSuccess: async () => {
      setForm(emptySmtp); // the password leaves memory with the request
      await onDone();
    },
  });
  const set = (k: keyof typeof form) => (e: { target: { value: string } }) =>
    setForm((f) => ({ ...f, [k]: e.target.value }));
  return (
    <form
      className="card"
      aria-label="Add an SMTP sender"
      autoComplete="off"
      onSubmit={(e: FormEvent) => {
        e.preventDefault();
        add.mutate();
      }}
    >
      <h3>Add an SMTP sender</h3>
      {add.isError && <Alert kind="error">{errorMessage(add.error)}</Alert>}
      <div className="grid-2">
        <TextField label="From name" required value={form.from_name} onChange={set('from_name')} />
        <TextField label="From email" required type="email" value={form.from_email} onChange={set('from_email')} />
        <TextField label="SMTP host" required value={form.host} onChange={set('host')} spellCheck={false} />
        <TextField label="Port" required inputMode="numeric" value={form.port} onChange={set('port')} />
        <SelectField label="Security" value={form.security} onChange={set('security')}>
          <option value="starttls">STARTTLS (port 587)</option>
          <option value="tls">TLS (port 465)</option>
          <option value="none">None — private relay only</option>
        </SelectField>
        <TextField label="Username" required value={form.username} onChange={set('username')} spellCheck={false} />
        <TextField
          label="SMTP password"
          required
          type="password"
          autoComplete="off"
          value={form.password}
          onChange={set('password')}
          hint="Stored encrypted and never shown again. Capto logs in once to check it before saving."
        />
      </div>
      <button type="submit" className="primary" disabled={add.isPending}>
        {add.isPending ? 'Checking the login…' : 'Add sender'}
      </button>
    </form>
  );
}

function AddGmailForm({ bid, onDone }: { bid: string; onDone: () => Promise<void> }) {
  const [name, setName] = useState('');
  const add = useMutation({
    mutationFn: () => api(bpath(bid, 'integrations', 'email'), { body: { kind: 'gmail', from_name: name } }),
    onSuccess: async () => {
      setName('');
      await onDone();
    },
  });
  return (
    <form
      className="card"
      aria-label="Send with Gmail"
      onSubmit={(e: FormEvent) => {
        e.preventDefault();
        add.mutate();
      }}
    >
      <h3>Send with the connected Gmail account</h3>
      {add.isError && <Alert kind="error">{errorMessage(add.error)}</Alert>}
      <TextField label="Gmail from name" required value={name} onChange={(e) => setName(e.target.value)} />
      <button type="submit" disabled={add.isPending}>
        Add Gmail sender
      </button>
    </form>
  );
}

function EditSender({ bid, sender, onDone }: { bid: string; sender: EmailSender; onDone: () => Promise<void> }) {
  const [form, setForm] = useState({
    from_name: sender.from_name,
    host: sender.host ?? '',
    port: String(sender.port ?? ''),
    username: sender.username ?? '',
    password: '',
    rate_per_second: String(sender.rate_per_second),
  });
  const save = useMutation({
    mutationFn: () => {
      const body: Record<string, unknown> = {
        from_name: form.from_name,
        rate_per_second: Number(form.rate_per_second),
      };
      if (sender.kind === 'smtp') {
        if (form.host !== sender.host) body.host = form.host;
        if (Number(form.port) !== sender.port) body.port = Number(form.port);
        if (form.username !== sender.username) body.username = form.username;
        if (form.password) body.password = form.password;
      }
      return api(bpath(bid, 'integrations', 'email', sender.id), { method: 'PATCH', body });
    },
    onSuccess: onDone,
  });
  const set = (k: keyof typeof form) => (e: { target: { value: string } }) =>
    setForm((f) => ({ ...f, [k]: e.target.value }));
  const moved =
    sender.kind === 'smtp' &&
    (form.host !== sender.host || Number(form.port) !== sender.port || form.username !== sender.username);
  return (
    <form
      className="card"
      aria-label={`Edit ${sender.from_email}`}
      autoComplete="off"
      onSubmit={(e: FormEvent) => {
        e.preventDefault();
        save.mutate();
      }}
    >
      {save.isError && <Alert kind="error">{errorMessage(save.error)}</Alert>}
      <div className="grid-2">
        <TextField label="From name" value={form.from_name} onChange={set('from_name')} />
        <TextField
          label="Sends per second"
          inputMode="numeric"
          value={form.rate_per_second}
          onChange={set('rate_per_second')}
        />
        {sender.kind === 'smtp' && (
          <>
            <TextField label="SMTP host" value={form.host} onChange={set('host')} />
            <TextField label="Port" inputMode="numeric" value={form.port} onChange={set('port')} />
            <TextField label="Username" value={form.username} onChange={set('username')} />
            <TextField
              label="SMTP password"
              type="password"
              autoComplete="off"
              value={form.password}
              onChange={set('password')}
              required={moved}
              hint={moved ? 'Required: the stored password is never sent to a new server.' : 'Leave empty to keep it.'}
            />
          </>
        )}
      </div>
      <button type="submit" className="primary" disabled={save.isPending}>
        Save sender
      </button>
    </form>
  );
}

export function EmailSenders({ bid, canManage }: { bid: string; canManage: boolean }) {
  const queryClient = useQueryClient();
  const senders = useEmailSenders(bid);
  const [removing, setRemoving] = useState<EmailSender | null>(null);
  const [editing, setEditing] = useState<string | null>(null);
  const after = async () => {
    setEditing(null);
    await queryClient.invalidateQueries({ queryKey: ['email-senders', bid] });
    await queryClient.invalidateQueries({ queryKey: ['audit', bid] });
  };
  const remove = useMutation({
    mutationFn: (id: string) => api(bpath(bid, 'integrations', 'email', id), { method: 'DELETE' }),
    onSuccess: async () => {
      setRemoving(null);
      await after();
    },
  });
  const makeDefault = useMutation({
    mutationFn: (id: string) => api(bpath(bid, 'integrations', 'email', id, 'default'), { method: 'POST', body: {} }),
    onSuccess: after,
  });
  return (
    <section aria-labelledby="email-h">
      <h2 id="email-h">Email senders</h2>
      <p className="muted">
        One-to-one emails and email campaigns go out through your own mail server (SMTP) or the connected Gmail account.
      </p>
      {(remove.isError || makeDefault.isError) && (
        <Alert kind="error">{errorMessage(remove.error ?? makeDefault.error)}</Alert>
      )}
      <QueryView query={senders}>
        {(items) =>
          items.length === 0 ? (
            <Empty>No email senders yet.{canManage ? ' Add one below.' : ' Ask an admin to add one.'}</Empty>
          ) : (
            <div className="table-wrap">
              <table data-testid="email-senders">
                <thead>
                  <tr>
                    <th scope="col">From</th>
                    <th scope="col">Via</th>
                    <th scope="col">Rate</th>
                    <th scope="col">Added</th>
                    {canManage && (
                      <th scope="col">
                        <span className="sr-only">Actions</span>
                      </th>
                    )}
                  </tr>
                </thead>
                <tbody>
                  {items.map((s) => (
                    <tr key={s.id}>
                      <td>
                        {s.from_name} &lt;{s.from_email}&gt;{' '}
                        {s.is_default && <span className="badge badge-ok">Default</span>}
                        {editing === s.id && <EditSender bid={bid} sender={s} onDone={after} />}
                      </td>
                      <td>{s.kind === 'gmail' ? 'Gmail' : `${s.host}:${s.port} (${s.security})`}</td>
                      <td>{s.rate_per_second}/s</td>
                      <td>{formatDateTime(s.created_at)}</td>
                      {canManage && (
                        <td>
                          <div className="row">
                            <button type="button" onClick={() => setEditing(editing === s.id ? null : s.id)}>
                              {editing === s.id ? 'Close' : 'Edit'}
                              <span className="sr-only"> {s.from_email}</span>
                            </button>
                            {!s.is_default && (
                              <button type="button" onClick={() => makeDefault.mutate(s.id)}>
                                Set default<span className="sr-only"> {s.from_email}</span>
                              </button>
                            )}
                            <button type="button" onClick={() => setRemoving(s)}>
                              Remove<span className="sr-only"> {s.from_email}</span>
                            </button>
                          </div>
                        </td>
                      )}
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )
        }
      </QueryView>
      {canManage && (
        <>
          <AddSmtpForm bid={bid} onDone={after} />
          <AddGmailForm bid={bid} onDone={after} />
        </>
      )}
      <ConfirmDialog
        open={removing !== null}
        title="Remove this email sender?"
        confirmLabel="Remove sender"
        busy={remove.isPending}
        onConfirm={() => removing && remove.mutate(removing.id)}
        onCancel={() => setRemoving(null)}
      >
        <p>
          Capto will stop sending as {removing?.from_email}; a stored SMTP password is destroyed. This is recorded in
          the audit log.
        </p>
      </ConfirmDialog>
    </section>
  );
}
