// Settings → Integrations: Twilio configurations (add with the webhook URLs to paste
// into the Twilio console, remove with confirmation, set default, each number's send rate
// — docs/ARCHITECTURE.md §21 "Campaigns"), Google, and the
// integration audit log. Owners and admins manage; members see the list only. Tokens
// are write-only: the API never returns them, so the form clears after saving.
import { useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, ApiError, bpath, errorMessage } from '../api/client.ts';
import { useBusiness } from '../app/me.ts';
import { ConfirmDialog } from '../components/confirm.tsx';
import { TextField } from '../components/field.tsx';
import { formatDateTime } from '../components/format.ts';
import { formatPhone } from '../components/phone.tsx';
import { Alert, Empty, QueryView } from '../components/states.tsx';
import { toPage } from '../crm/types.ts';
import { AuditLog } from './audit-log.tsx';
import { EmailSenders } from './email-senders.tsx';
import { AiIntegration } from '../ai/settings.tsx';
import { GoogleIntegration } from './google-integration.tsx';

export interface TwilioConfig {
  id: string;
  friendly_name: string;
  account_sid_masked?: string;
  account_sid?: string;
  phone_number: string;
  is_default: boolean;
  /** The number's throughput cap, shared by 1:1 texts and campaigns (1–100). */
  messages_per_second?: number;
  created_at?: string;
  created_by_email?: string | null;
  webhooks?: { sms: string; status: string };
}

function webhookUrls(c: TwilioConfig): { sms: string; status: string } {
  const origin = window.location.origin;
  return {
    sms: c.webhooks?.sms ?? `${origin}/webhooks/twilio/${c.id}/sms`,
    status: c.webhooks?.status ?? `${origin}/webhooks/twilio/${c.id}/status`,
  };
}

function WebhookUrls({ config }: { config: TwilioConfig }) {
  const urls = webhookUrls(config);
  return (
    <dl className="small">
      <dt>“A message comes in” webhook (HTTP POST)</dt>
      <dd className="mono" data-testid="sms-webhook-url">
        {urls.sms}
      </dd>
      <dt>Status callback URL</dt>
      <dd className="mono">{urls.status}</dd>
    </dl>
  );
}

function AddTwilioForm({ bid, onAdded }: { bid: string; onAdded: (c: TwilioConfig) => void }) {
  const queryClient = useQueryClient();
  const empty = { friendly_name: '', account_sid: '', auth_token: '', phone_number: '' };
  const [form, setForm] = useState(empty);
  const add = useMutation({
    mutationFn: () => api<TwilioConfig>(bpath(bid, 'integrations', 'twilio'), { body: form }),
    onSuccess: async (created) => {
      setForm(empty); // never keep the auth token in memory longer than the request
      onAdded(created);
      await queryClient.invalidateQueries({ queryKey: ['twilio', bid] });
      await queryClient.invalidateQueries({ queryKey: ['audit', bid] });
    },
  });
  const set = (k: keyof typeof form) => (e: { target: { value: string } }) =>
    setForm((f) => ({ ...f, [k]: e.target.value }));
  const problem =
    add.error instanceof ApiError && add.error.code === 'twilio_credentials_invalid'
      ? 'Twilio did not accept this Account SID and Auth Token. Copy them again from the Twilio console.'
      : add.isError
        ? errorMessage(add.error)
        : null;
  return (
    <form
      className="card"
      aria-label="Add a Twilio number"
      onSubmit={(e: FormEvent) => {
        e.preventDefault();
        add.mutate();
      }}
      autoComplete="off"
    >
      <h3>Add a Twilio number</h3>
      {problem && <Alert kind="error">{problem}</Alert>}
      <div className="grid-2">
        <TextField
          label="Name"
          required
          value={form.friendly_name}
          onChange={set('friendly_name')}
          placeholder="Main office line"
        />
        <TextField
          label="Phone number"
          required
          type="tel"
          value={form.phone_number}
          onChange={set('phone_number')}
          placeholder="+14155550100"
          hint="The Twilio number, in E.164 format."
        />
        <TextField
          label="Account SID"
          required
          value={form.account_sid}
          onChange={set('account_sid')}
          placeholder="AC…"
          spellCheck={false}
        />
        <TextField
          label="Auth token"
          required
          type="password"
          autoComplete="off"
          value={form.auth_token}
          onChange={set('auth_token')}
          hint="Stored encrypted. It is never shown again, to anyone."
        />
      </div>
      <button type="submit" className="primary" disabled={add.isPending}>
        {add.isPending ? 'Checking with Twilio…' : 'Add number'}
      </button>
    </form>
  );
}

/**
 * A number's send rate (`PATCH …/integrations/twilio/:id {messages_per_second}`, owners and
 * admins; audited). Twilio allows 1/s on a US long code, more on toll-free and short codes.
 */
function TwilioRate({ bid, config, onSaved }: { bid: string; config: TwilioConfig; onSaved: () => Promise<void> }) {
  const current = config.messages_per_second ?? 1;
  const [value, setValue] = useState(String(current));
  const save = useMutation({
    mutationFn: () =>
      api<TwilioConfig>(bpath(bid, 'integrations', 'twilio', config.id), {
        method: 'PATCH',
        body: { messages_per_second: Number(value) },
      }),
    onSuccess: onSaved,
  });
  return (
    <form
      className="row"
      aria-label={`Send rate of ${config.friendly_name}`}
      onSubmit={(e: FormEvent) => {
        e.preventDefault();
        save.mutate();
      }}
    >
      <TextField
        label="Texts per second"
        type="number"
        inputMode="numeric"
        min={1}
        max={100}
        step={1}
        required
        value={value}
        onChange={(e) => setValue(e.target.value)}
        error={save.isError ? errorMessage(save.error) : null}
      />
      <button type="submit" disabled={save.isPending || value === String(current)}>
        Save rate<span className="sr-only"> {config.friendly_name}</span>
      </button>
    </form>
  );
}

export function IntegrationsSettings() {
  const { bid, canManage } = useBusiness();
  const queryClient = useQueryClient();
  const [removing, setRemoving] = useState<TwilioConfig | null>(null);
  const [added, setAdded] = useState<TwilioConfig | null>(null);
  const configs = useQuery({
    queryKey: ['twilio', bid],
    queryFn: async () => toPage<TwilioConfig>(await api(bpath(bid, 'integrations', 'twilio'))).items,
  });
  const after = async () => {
    await queryClient.invalidateQueries({ queryKey: ['twilio', bid] });
    await queryClient.invalidateQueries({ queryKey: ['audit', bid] });
  };
  const remove = useMutation({
    mutationFn: (id: string) => api(bpath(bid, 'integrations', 'twilio', id), { method: 'DELETE' }),
    onSuccess: async () => {
      setRemoving(null);
      setAdded(null);
      await after();
    },
  });
  const makeDefault = useMutation({
    mutationFn: (id: string) => api(bpath(bid, 'integrations', 'twilio', id, 'default'), { method: 'POST', body: {} }),
    onSuccess: after,
  });
  return (
    <div className="stack">
      <section aria-labelledby="twilio-h">
        <h2 id="twilio-h">Twilio (SMS)</h2>
        <p className="muted">
          Capto sends and receives texts through your own Twilio account. Each number gets its own webhook URLs; Twilio
          signs every request with your auth token and Capto checks the signature. A number's send rate caps its 1:1
          texts and campaigns together: Twilio allows 1 text per second on a US long code, more on toll-free numbers and
          short codes.
        </p>
        {(remove.isError || makeDefault.isError) && (
          <Alert kind="error">{errorMessage(remove.error ?? makeDefault.error)}</Alert>
        )}
        {added && (
          <Alert kind="ok">
            <p>
              <strong>{added.friendly_name}</strong> was added. In the Twilio console, open this number's configuration
              and paste:
            </p>
            <WebhookUrls config={added} />
          </Alert>
        )}
        <QueryView query={configs}>
          {(items) =>
            items.length === 0 ? (
              <Empty>No Twilio numbers yet.{canManage ? ' Add one below.' : ' Ask an admin to add one.'}</Empty>
            ) : (
              <div className="table-wrap">
                <table data-testid="twilio-configs">
                  <thead>
                    <tr>
                      <th scope="col">Name</th>
                      <th scope="col">Number</th>
                      <th scope="col">Account</th>
                      <th scope="col">Added</th>
                      <th scope="col">Send rate</th>
                      {canManage && <th scope="col">Webhooks</th>}
                      {canManage && (
                        <th scope="col">
                          <span className="sr-only">Actions</span>
                        </th>
                      )}
                    </tr>
                  </thead>
                  <tbody>
                    {items.map((c) => (
                      <tr key={c.id}>
                        <td>
                          {c.friendly_name} {c.is_default && <span className="badge badge-ok">Default</span>}
                        </td>
                        <td>{formatPhone(c.phone_number)}</td>
                        <td className="mono">{c.account_sid_masked ?? c.account_sid ?? '—'}</td>
                        <td>{formatDateTime(c.created_at)}</td>
                        <td>
                          {canManage ? (
                            <TwilioRate key={c.messages_per_second} bid={bid} config={c} onSaved={after} />
                          ) : (
                            `${c.messages_per_second ?? 1}/s`
                          )}
                        </td>
                        {canManage && (
                          <td>
                            <WebhookUrls config={c} />
                          </td>
                        )}
                        {canManage && (
                          <td>
                            <div className="row">
                              {!c.is_default && (
                                <button type="button" onClick={() => makeDefault.mutate(c.id)}>
                                  Set default<span className="sr-only"> {c.friendly_name}</span>
                                </button>
                              )}
                              <button type="button" onClick={() => setRemoving(c)}>
                                Remove<span className="sr-only"> {c.friendly_name}</span>
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
        {canManage && <AddTwilioForm bid={bid} onAdded={setAdded} />}
      </section>

      <GoogleIntegration bid={bid} canManage={canManage} />

      <EmailSenders bid={bid} canManage={canManage} />
      <AiIntegration />

      {canManage ? (
        <AuditLog bid={bid} />
      ) : (
        <p className="muted">The integration audit log is visible to owners and admins.</p>
      )}

      <ConfirmDialog
        open={removing !== null}
        title="Remove this Twilio number?"
        confirmLabel="Remove number"
        busy={remove.isPending}
        onConfirm={() => removing && remove.mutate(removing.id)}
        onCancel={() => setRemoving(null)}
      >
        <p>
          Capto will stop sending from and receiving on {removing?.phone_number}, and its stored auth token is
          destroyed. Conversations stay. This is recorded in the audit log.
        </p>
      </ConfirmDialog>
    </div>
  );
}
