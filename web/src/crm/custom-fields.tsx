// Custom fields in the web app (docs/ARCHITECTURE.md §12): the card that shows and edits a
// record's values, the contact-list filter, and Settings → Custom fields for admins.
import { useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, bpath, errorMessage, qs } from '../api/client.ts';
import { useBusiness } from '../app/me.ts';
import { ConfirmDialog } from '../components/confirm.tsx';
import { SelectField, TextArea, TextField } from '../components/field.tsx';
import { formatDate, formatMoney } from '../components/format.ts';
import { Alert, Empty, QueryView } from '../components/states.tsx';

export const CUSTOM_FIELD_TYPES = ['text', 'number', 'money', 'date', 'choice', 'checkbox'] as const;
export type CustomFieldType = (typeof CUSTOM_FIELD_TYPES)[number];
export type CustomEntity = 'contact' | 'deal';
export type CustomValues = Record<string, string | number | boolean>;

export interface CustomField {
  id: string;
  entity: CustomEntity;
  key: string;
  label: string;
  type: CustomFieldType;
  options: string[];
  position: number;
}

const TYPE_LABEL: Record<CustomFieldType, string> = {
  text: 'Text',
  number: 'Number',
  money: 'Money',
  date: 'Date',
  choice: 'Single choice',
  checkbox: 'Checkbox',
};

export function useCustomFields(bid: string, entity: CustomEntity) {
  return useQuery({
    queryKey: ['custom-fields', bid, entity],
    queryFn: async () => (await api<{ items: CustomField[] }>(bpath(bid, 'custom-fields') + qs({ entity }))).items,
    staleTime: 60_000,
  });
}

/** A stored value as a person reads it. */
export function displayValue(field: CustomField, value: CustomValues[string] | undefined): string {
  if (value === undefined || value === '') return '—';
  switch (field.type) {
    case 'money':
      return formatMoney(Number(value) / 100);
    case 'date':
      return formatDate(String(value));
    case 'checkbox':
      return value ? 'Yes' : 'No';
    default:
      return String(value);
  }
}

/** The form's text for a value, and back: money is typed in dollars, stored in cents. */
function toInput(field: CustomField, value: CustomValues[string] | undefined): string {
  if (value === undefined) return '';
  if (field.type === 'money') return (Number(value) / 100).toFixed(2);
  return String(value);
}
function fromInput(field: CustomField, text: string): string | number | boolean | null {
  if (field.type === 'checkbox') return text === 'true';
  const t = text.trim();
  if (t === '') return null;
  if (field.type === 'number') return Number(t.replace(/,/g, ''));
  if (field.type === 'money') return Math.round(Number(t.replace(/[$,\s]/g, '')) * 100);
  return t;
}

function ValueInput({ field, value, onChange }: { field: CustomField; value: string; onChange: (v: string) => void }) {
  if (field.type === 'checkbox') {
    const id = `cf-${field.key}`;
    return (
      <div className="field field-check">
        <input
          id={id}
          type="checkbox"
          checked={value === 'true'}
          onChange={(e) => onChange(String(e.target.checked))}
        />
        <label htmlFor={id}>{field.label}</label>
      </div>
    );
  }
  if (field.type === 'choice') {
    return (
      <SelectField label={field.label} value={value} onChange={(e) => onChange(e.target.value)}>
        <option value="">—</option>
        {field.options.map((o) => (
          <option key={o} value={o}>
            {o}
          </option>
        ))}
      </SelectField>
    );
  }
  return (
    <TextField
      label={field.type === 'money' ? `${field.label} ($)` : field.label}
      type={field.type === 'date' ? 'date' : 'text'}
      inputMode={field.type === 'number' || field.type === 'money' ? 'decimal' : undefined}
      value={value}
      onChange={(e) => onChange(e.target.value)}
    />
  );
}

/** Shows a record's custom values and edits them in place (any member). */
export function CustomFieldsCard({
  bid,
  entity,
  recordId,
  values,
}: {
  bid: string;
  entity: CustomEntity;
  recordId: string;
  values: CustomValues;
}) {
  const fields = useCustomFields(bid, entity);
  const queryClient = useQueryClient();
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState<Record<string, string>>({});
  const save = useMutation({
    mutationFn: (patch: Record<string, unknown>) =>
      api(bpath(bid, entity === 'contact' ? 'contacts' : 'deals', recordId), {
        method: 'PATCH',
        body: { custom: patch },
      }),
    onSuccess: async () => {
      setEditing(false);
      await queryClient.invalidateQueries({ queryKey: [entity, bid, recordId] });
      await queryClient.invalidateQueries({ queryKey: [`${entity}s`, bid] });
    },
  });
  return (
    <section className="card" aria-labelledby={`custom-${recordId}`} data-testid="custom-fields-card">
      <div className="row-between">
        <h2 id={`custom-${recordId}`}>Custom fields</h2>
        {!editing && (fields.data?.length ?? 0) > 0 && (
          <button
            type="button"
            onClick={() => {
              setDraft(Object.fromEntries((fields.data ?? []).map((f) => [f.key, toInput(f, values[f.key])])));
              setEditing(true);
            }}
          >
            Edit fields
          </button>
        )}
      </div>
      <QueryView query={fields}>
        {(list) =>
          list.length === 0 ? (
            <Empty>No custom fields yet. Owners and admins add them in Settings → Custom fields.</Empty>
          ) : editing ? (
            <form
              aria-label="Edit custom fields"
              onSubmit={(e: FormEvent) => {
                e.preventDefault();
                save.mutate(Object.fromEntries(list.map((f) => [f.key, fromInput(f, draft[f.key] ?? '')])));
              }}
            >
              {save.isError && <Alert kind="error">{errorMessage(save.error)}</Alert>}
              <div className="grid-2">
                {list.map((f) => (
                  <ValueInput
                    key={f.id}
                    field={f}
                    value={draft[f.key] ?? ''}
                    onChange={(v) => setDraft((d) => ({ ...d, [f.key]: v }))}
                  />
                ))}
              </div>
              <div className="row">
                <button type="submit" className="primary" disabled={save.isPending}>
                  Save fields
                </button>
                <button type="button" onClick={() => setEditing(false)}>
                  Cancel
                </button>
              </div>
            </form>
          ) : (
            <dl className="dl-grid">
              {list.map((f) => (
                <div key={f.id}>
                  <dt>{f.label}</dt>
                  <dd data-testid={`custom-${f.key}`}>{displayValue(f, values[f.key])}</dd>
                </div>
              ))}
            </dl>
          )
        }
      </QueryView>
    </section>
  );
}

/** The contact list's filter on one custom field: key:value for `?custom=`. */
export function CustomFieldFilter({
  bid,
  value,
  onChange,
}: {
  bid: string;
  value: string;
  onChange: (next: string) => void;
}) {
  const fields = useCustomFields(bid, 'contact');
  const [key, ...rest] = value ? value.split(':') : [''];
  const current = rest.join(':');
  const field = fields.data?.find((f) => f.key === key);
  if (!fields.data || fields.data.length === 0) return null;
  return (
    <>
      <SelectField
        label="Custom field"
        value={key ?? ''}
        onChange={(e) => onChange(e.target.value ? `${e.target.value}:` : '')}
      >
        <option value="">Any custom field</option>
        {fields.data.map((f) => (
          <option key={f.id} value={f.key}>
            {f.label}
          </option>
        ))}
      </SelectField>
      {field &&
        (field.type === 'choice' || field.type === 'checkbox' ? (
          <SelectField
            label={`${field.label} is`}
            value={current}
            onChange={(e) => onChange(`${field.key}:${e.target.value}`)}
          >
            <option value="">Choose…</option>
            {(field.type === 'checkbox' ? ['true', 'false'] : field.options).map((o) => (
              <option key={o} value={o}>
                {field.type === 'checkbox' ? (o === 'true' ? 'Yes' : 'No') : o}
              </option>
            ))}
          </SelectField>
        ) : (
          <TextField
            label={`${field.label} is`}
            type={field.type === 'date' ? 'date' : 'text'}
            value={field.type === 'money' && current ? String(Number(current) / 100) : current}
            onChange={(e) =>
              onChange(
                `${field.key}:${field.type === 'money' && e.target.value ? Math.round(Number(e.target.value) * 100) : e.target.value}`,
              )
            }
          />
        ))}
    </>
  );
}

/** Settings → Custom fields: every member sees the list; owners and admins change it. */
export function CustomFieldsSettings() {
  const { bid, business } = useBusiness();
  const canEdit = business?.role === 'owner' || business?.role === 'admin';
  const queryClient = useQueryClient();
  const all = useQuery({
    queryKey: ['custom-fields', bid, 'all'],
    queryFn: async () => (await api<{ items: CustomField[] }>(bpath(bid, 'custom-fields'))).items,
  });
  const [form, setForm] = useState({
    entity: 'contact' as CustomEntity,
    label: '',
    type: 'text' as CustomFieldType,
    options: '',
  });
  const [removing, setRemoving] = useState<CustomField | null>(null);
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['custom-fields', bid] });
  const create = useMutation({
    mutationFn: () =>
      api<CustomField>(bpath(bid, 'custom-fields'), {
        body: {
          entity: form.entity,
          label: form.label,
          type: form.type,
          ...(form.type === 'choice'
            ? {
                options: form.options
                  .split('\n')
                  .map((o) => o.trim())
                  .filter(Boolean),
              }
            : {}),
        },
      }),
    onSuccess: async () => {
      setForm((f) => ({ ...f, label: '', options: '' }));
      await refresh();
    },
  });
  const remove = useMutation({
    mutationFn: (f: CustomField) => api(bpath(bid, 'custom-fields', f.id), { method: 'DELETE' }),
    onSuccess: async () => {
      setRemoving(null);
      await refresh();
    },
  });
  return (
    <div className="stack">
      <section className="card" aria-labelledby="cf-list-h">
        <h2 id="cf-list-h">Custom fields</h2>
        <p className="muted small">
          Fields of your own on contacts and deals. In templates, use them as <code>{'{{ contact.custom.key }}'}</code>{' '}
          or <code>{'{{ deal.custom.key }}'}</code>.
        </p>
        <QueryView query={all}>
          {(fields) =>
            fields.length === 0 ? (
              <Empty>No custom fields yet.</Empty>
            ) : (
              <div className="table-wrap">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Label</th>
                      <th scope="col">On</th>
                      <th scope="col">Type</th>
                      <th scope="col">Merge key</th>
                      {canEdit && <th scope="col">Actions</th>}
                    </tr>
                  </thead>
                  <tbody>
                    {fields.map((f) => (
                      <tr key={f.id}>
                        <td>{f.label}</td>
                        <td>{f.entity === 'contact' ? 'Contacts' : 'Deals'}</td>
                        <td>
                          {TYPE_LABEL[f.type]}
                          {f.type === 'choice' && <span className="muted small"> ({f.options.join(', ')})</span>}
                        </td>
                        <td>
                          <code>{f.key}</code>
                        </td>
                        {canEdit && (
                          <td>
                            <button type="button" onClick={() => setRemoving(f)} aria-label={`Delete ${f.label}`}>
                              Delete
                            </button>
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
      </section>
      {canEdit ? (
        <form
          className="card"
          aria-labelledby="cf-add-h"
          onSubmit={(e: FormEvent) => {
            e.preventDefault();
            create.mutate();
          }}
        >
          <h2 id="cf-add-h">Add a field</h2>
          {create.isError && <Alert kind="error">{errorMessage(create.error)}</Alert>}
          <div className="grid-2">
            <TextField
              label="Label"
              required
              maxLength={80}
              value={form.label}
              onChange={(e) => setForm((f) => ({ ...f, label: e.target.value }))}
            />
            <SelectField
              label="On"
              value={form.entity}
              onChange={(e) => setForm((f) => ({ ...f, entity: e.target.value as CustomEntity }))}
            >
              <option value="contact">Contacts</option>
              <option value="deal">Deals</option>
            </SelectField>
            <SelectField
              label="Type"
              value={form.type}
              onChange={(e) => setForm((f) => ({ ...f, type: e.target.value as CustomFieldType }))}
            >
              {CUSTOM_FIELD_TYPES.map((t) => (
                <option key={t} value={t}>
                  {TYPE_LABEL[t]}
                </option>
              ))}
            </SelectField>
            {form.type === 'choice' && (
              <TextArea
                label="Options (one per line)"
                required
                value={form.options}
                onChange={(e) => setForm((f) => ({ ...f, options: e.target.value }))}
              />
            )}
          </div>
          <button type="submit" className="primary" disabled={create.isPending}>
            Add field
          </button>
        </form>
      ) : (
        <Alert kind="info">Only owners and admins can add or delete custom fields.</Alert>
      )}
      <ConfirmDialog
        open={removing !== null}
        title={`Delete “${removing?.label ?? ''}”?`}
        confirmLabel="Delete field"
        busy={remove.isPending}
        onConfirm={() => removing && remove.mutate(removing)}
        onCancel={() => setRemoving(null)}
      >
        <p>Its values are removed from every record. This cannot be undone.</p>
      </ConfirmDialog>
      {remove.isError && <Alert kind="error">{errorMessage(remove.error)}</Alert>}
    </div>
  );
}
