// Templates: SMS and email templates with merge fields ({{ contact.first_name | default: "there" }}),
// checked by the server when saved (an unknown field is refused), previewed for a contact.
import { useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, bpath, errorMessage, qs } from '../api/client.ts';
import { useBusiness } from '../app/me.ts';
import { SelectField, TextArea, TextField } from '../components/field.tsx';
import { Alert, Empty, QueryView } from '../components/states.tsx';
import { toPage, type Contact } from '../crm/types.ts';

export interface Template {
  id: string;
  name: string;
  channel: 'sms' | 'email';
  subject: string | null;
  body: string;
  can_edit: boolean;
  updated_at: string;
}

interface Preview {
  subject?: string;
  text: string;
  html?: string;
  encoding?: string;
  segments?: number;
  characters?: number;
}

export function useTemplates(bid: string) {
  return useQuery({
    queryKey: ['templates', bid],
    queryFn: async () => toPage<Template>(await api(bpath(bid, 'templates'))).items,
  });
}

const FIELDS =
  'contact.first_name, contact.last_name, contact.full_name, contact.email, contact.phone, business.name, business.postal_address, business.review_link, user.email, deal.title, deal.amount, deal.stage';

function PreviewPane({ bid, draft }: { bid: string; draft: { channel: string; subject: string; body: string } }) {
  const contacts = useQuery({
    queryKey: ['contacts', bid, 'preview-picker'],
    queryFn: async () => toPage<Contact>(await api(bpath(bid, 'contacts') + qs({ limit: 50 }))).items,
  });
  const [contactId, setContactId] = useState('');
  const preview = useMutation({
    mutationFn: () =>
      api<Preview>(bpath(bid, 'templates', 'preview'), {
        body: {
          channel: draft.channel,
          body: draft.body,
          ...(draft.channel === 'email' ? { subject: draft.subject } : {}),
          contact_id: contactId,
        },
      }),
  });
  const items = contacts.data ?? [];
  return (
    <div className="card" aria-label="Preview">
      <h3>Preview</h3>
      <div className="row">
        <SelectField label="Preview for" value={contactId} onChange={(e) => setContactId(e.target.value)}>
          <option value="">Choose a contact…</option>
          {items.map((c) => (
            <option key={c.id} value={c.id}>
              {[c.first_name, c.last_name].filter(Boolean).join(' ') || c.email || c.phone}
            </option>
          ))}
        </SelectField>
        <button type="button" disabled={!contactId || preview.isPending} onClick={() => preview.mutate()}>
          Preview
        </button>
      </div>
      {preview.isError && <Alert kind="error">{errorMessage(preview.error)}</Alert>}
      {preview.data && (
        <div data-testid="template-preview">
          {preview.data.subject !== undefined && (
            <p>
              <strong>Subject:</strong> {preview.data.subject}
            </p>
          )}
          <pre className="preview-text">{preview.data.text}</pre>
          {preview.data.encoding && (
            <p className="small muted" data-testid="sms-segments">
              {preview.data.encoding} · {preview.data.characters} characters · {preview.data.segments} segment
              {preview.data.segments === 1 ? '' : 's'}
            </p>
          )}
        </div>
      )}
    </div>
  );
}

function TemplateForm({ bid, initial, onDone }: { bid: string; initial?: Template; onDone: () => void }) {
  const queryClient = useQueryClient();
  const [name, setName] = useState(initial?.name ?? '');
  const [channel, setChannel] = useState<'sms' | 'email'>(initial?.channel ?? 'email');
  const [subject, setSubject] = useState(initial?.subject ?? '');
  const [body, setBody] = useState(initial?.body ?? '');
  const save = useMutation({
    mutationFn: () =>
      initial
        ? api(bpath(bid, 'templates', initial.id), {
            method: 'PATCH',
            body: { name, body, ...(initial.channel === 'email' ? { subject } : {}) },
          })
        : api(bpath(bid, 'templates'), {
            body: { name, channel, body, ...(channel === 'email' ? { subject } : {}) },
          }),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: ['templates', bid] });
      onDone();
    },
  });
  return (
    <div className="grid-2">
      <form
        className="card"
        aria-label={initial ? `Edit ${initial.name}` : 'New template'}
        onSubmit={(e: FormEvent) => {
          e.preventDefault();
          save.mutate();
        }}
      >
        <h2>{initial ? `Edit “${initial.name}”` : 'New template'}</h2>
        {save.isError && <Alert kind="error">{errorMessage(save.error)}</Alert>}
        <TextField label="Template name" required value={name} onChange={(e) => setName(e.target.value)} />
        {!initial && (
          <SelectField
            label="Channel"
            value={channel}
            onChange={(e) => setChannel(e.target.value === 'sms' ? 'sms' : 'email')}
          >
            <option value="email">Email</option>
            <option value="sms">SMS</option>
          </SelectField>
        )}
        {channel === 'email' && (
          <TextField label="Subject" required value={subject} onChange={(e) => setSubject(e.target.value)} />
        )}
        <TextArea
          label="Body"
          required
          rows={8}
          value={body}
          onChange={(e) => setBody(e.target.value)}
          hint={`Merge fields: {{ contact.first_name | default: "there" }}. Available: ${FIELDS}.${channel === 'email' ? ' Markdown formatting; HTML is shown as text.' : ''}`}
        />
        <div className="row">
          <button type="submit" className="primary" disabled={save.isPending}>
            Save template
          </button>
          <button type="button" onClick={onDone}>
            Cancel
          </button>
        </div>
      </form>
      <PreviewPane bid={bid} draft={{ channel, subject, body }} />
    </div>
  );
}

export function TemplatesPage() {
  const { bid } = useBusiness();
  const queryClient = useQueryClient();
  const templates = useTemplates(bid);
  const [editing, setEditing] = useState<Template | 'new' | null>(null);
  const remove = useMutation({
    mutationFn: (id: string) => api(bpath(bid, 'templates', id), { method: 'DELETE' }),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['templates', bid] }),
  });
  return (
    <div className="stack">
      <div className="row-between">
        <h1>Templates</h1>
        {editing === null && (
          <button type="button" className="primary" onClick={() => setEditing('new')}>
            New template
          </button>
        )}
      </div>
      {remove.isError && <Alert kind="error">{errorMessage(remove.error)}</Alert>}
      {editing !== null && (
        <TemplateForm
          key={editing === 'new' ? 'new' : editing.id}
          bid={bid}
          initial={editing === 'new' ? undefined : editing}
          onDone={() => setEditing(null)}
        />
      )}
      <QueryView query={templates}>
        {(items) =>
          items.length === 0 ? (
            <Empty>
              No templates yet. A template is an email or text with merge fields such as{' '}
              <code>{'{{ contact.first_name }}'}</code>; campaigns and automations send it.
            </Empty>
          ) : (
            <div className="table-wrap">
              <table data-testid="templates">
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">Channel</th>
                    <th scope="col">Subject / text</th>
                    <th scope="col">
                      <span className="sr-only">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {items.map((t) => (
                    <tr key={t.id}>
                      <td>{t.name}</td>
                      <td>{t.channel === 'sms' ? 'SMS' : 'Email'}</td>
                      <td className="small">{(t.subject ?? t.body).slice(0, 80)}</td>
                      <td>
                        {t.can_edit && (
                          <div className="row">
                            <button type="button" onClick={() => setEditing(t)}>
                              Edit<span className="sr-only"> {t.name}</span>
                            </button>
                            <button type="button" onClick={() => remove.mutate(t.id)}>
                              Delete<span className="sr-only"> {t.name}</span>
                            </button>
                          </div>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )
        }
      </QueryView>
    </div>
  );
}
