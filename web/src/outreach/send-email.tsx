// "Send email" on a contact: subject + Markdown body through one of the business's email
// senders. The server queues it (202) and the timeline shows it with its status.
import { useState, type FormEvent } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api, bpath, errorMessage } from '../api/client.ts';
import { SelectField, TextArea, TextField } from '../components/field.tsx';
import { Alert } from '../components/states.tsx';
import { useEmailSenders } from '../settings/email-senders.tsx';

export function SendEmail({ bid, cid, email }: { bid: string; cid: string; email: string | null | undefined }) {
  const queryClient = useQueryClient();
  const senders = useEmailSenders(bid);
  const [open, setOpen] = useState(false);
  const [senderId, setSenderId] = useState('');
  const [subject, setSubject] = useState('');
  const [body, setBody] = useState('');
  const send = useMutation({
    mutationFn: () =>
      api(bpath(bid, 'contacts', cid, 'emails'), {
        body: { subject, body, ...(senderId ? { sender_id: senderId } : {}) },
      }),
    onSuccess: async () => {
      setSubject('');
      setBody('');
      setOpen(false);
      await queryClient.invalidateQueries({ queryKey: ['timeline', bid, cid] });
    },
  });
  const items = senders.data ?? [];
  return (
    <section className="card" aria-labelledby="email-h">
      <div className="row-between">
        <h2 id="email-h">Email</h2>
        {!open && (
          <button type="button" onClick={() => setOpen(true)} disabled={!email}>
            Send email
          </button>
        )}
      </div>
      {!email && <p className="small muted">This contact has no email address.</p>}
      {send.isSuccess && <Alert kind="ok">Email queued; it appears in the timeline when sent.</Alert>}
      {open && (
        <form
          aria-label="Send email"
          onSubmit={(e: FormEvent) => {
            e.preventDefault();
            send.mutate();
          }}
        >
          {send.isError && <Alert kind="error">{errorMessage(send.error)}</Alert>}
          {items.length === 0 ? (
            <Alert kind="warn">No email sender yet: an owner or admin adds one in Settings → Integrations.</Alert>
          ) : (
            <SelectField label="From" value={senderId} onChange={(e) => setSenderId(e.target.value)}>
              <option value="">Default sender</option>
              {items.map((s) => (
                <option key={s.id} value={s.id}>
                  {s.from_name} &lt;{s.from_email}&gt;
                </option>
              ))}
            </SelectField>
          )}
          <TextField label="Subject" required value={subject} onChange={(e) => setSubject(e.target.value)} />
          <TextArea
            label="Message"
            required
            rows={6}
            value={body}
            onChange={(e) => setBody(e.target.value)}
            hint="Markdown: **bold**, *italic*, [links](https://…). HTML is shown as text."
          />
          <div className="row">
            <button type="submit" className="primary" disabled={send.isPending || items.length === 0}>
              Send
            </button>
            <button type="button" onClick={() => setOpen(false)}>
              Cancel
            </button>
          </div>
        </form>
      )}
    </section>
  );
}
