// Settings → Integrations → AI: the business's own provider (owners/admins; the key is
// write-only — the API never returns it), the switch, the "about us / FAQ" text the
// model may use, the monthly token budget, and this month's usage.
import { useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, ApiError, bpath, errorMessage } from '../api/client.ts';
import { useBusiness } from '../app/me.ts';
import { SelectField, TextArea, TextField } from '../components/field.tsx';
import { formatDateTime } from '../components/format.ts';
import { Alert, QueryView } from '../components/states.tsx';
import { useAiStatus, type AiStatus } from './api.ts';

interface Usage {
  month: string;
  scope: 'business' | 'own';
  monthly_token_budget: number;
  business_tokens_used: number | null;
  calls: number;
  tokens_in: number;
  tokens_out: number;
  by_feature: Array<{
    feature: string;
    calls: number;
    tokens_in: number;
    tokens_out: number;
    errors: number;
    avg_latency_ms: number | null;
  }>;
}

const FEATURE_NAMES: Record<string, string> = {
  suggest_reply: 'Suggested replies',
  summary: 'Summaries',
  intent: 'Intent labels',
  draft: 'Drafts',
  verify: 'Key checks',
};

function providerProblem(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.code === 'ai_key_invalid') return 'The provider did not accept this API key.';
    if (error.code === 'ai_key_required')
      return 'Enter the API key again: a saved key is only sent to the provider and address it was entered for.';
    if (error.code === 'host_not_allowed') return error.message;
  }
  return errorMessage(error);
}

function ProviderForm({ bid, current }: { bid: string; current: AiStatus['provider'] }) {
  const queryClient = useQueryClient();
  const [form, setForm] = useState({
    provider: current?.provider ?? 'openai',
    model: current?.model ?? 'gpt-4o-mini',
    base_url: current?.base_url ?? '',
    api_key: '',
  });
  const [saved, setSaved] = useState(false);
  const save = useMutation({
    mutationFn: () =>
      api(bpath(bid, 'integrations', 'ai'), {
        method: 'PUT',
        body: {
          provider: form.provider,
          model: form.model,
          ...(form.provider === 'openai_compatible' ? { base_url: form.base_url } : {}),
          ...(form.api_key ? { api_key: form.api_key } : {}),
        },
      }),
    onSuccess: async () => {
      setForm((f) => ({ ...f, api_key: '' })); // the key is write-only: never kept after saving
      setSaved(true);
      await queryClient.invalidateQueries({ queryKey: ['ai', bid] });
      await queryClient.invalidateQueries({ queryKey: ['audit', bid] });
    },
  });
  const remove = useMutation({
    mutationFn: () => api(bpath(bid, 'integrations', 'ai'), { method: 'DELETE' }),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: ['ai', bid] });
      await queryClient.invalidateQueries({ queryKey: ['audit', bid] });
    },
  });
  const set = (k: keyof typeof form) => (e: { target: { value: string } }) => {
    setSaved(false);
    setForm((f) => ({ ...f, [k]: e.target.value }));
  };
  return (
    <form
      className="card"
      aria-label="AI provider"
      onSubmit={(e: FormEvent) => {
        e.preventDefault();
        save.mutate();
      }}
    >
      {save.isError && <Alert kind="error">{providerProblem(save.error)}</Alert>}
      {saved && <Alert kind="ok">The provider accepted the key. AI assistance is ready.</Alert>}
      <SelectField label="Provider" value={form.provider} onChange={set('provider')}>
        <option value="openai">OpenAI</option>
        <option value="openai_compatible">OpenAI-compatible (Azure OpenAI, Ollama, vLLM, …)</option>
      </SelectField>
      {form.provider === 'openai_compatible' && (
        <TextField
          label="Base URL"
          value={form.base_url}
          onChange={set('base_url')}
          placeholder="https://models.example.com/v1"
          hint="Changing it requires the API key again."
          required
        />
      )}
      <TextField label="Model" value={form.model} onChange={set('model')} required />
      <TextField
        label="API key"
        type="password"
        autoComplete="off"
        value={form.api_key}
        onChange={set('api_key')}
        hint={
          current
            ? 'Leave empty to keep the saved key (same provider and address only).'
            : 'Stored encrypted; never shown again.'
        }
        required={!current}
      />
      <div className="row">
        <button type="submit" className="primary" disabled={save.isPending}>
          {save.isPending ? 'Checking the key…' : current ? 'Save' : 'Connect'}
        </button>
        {current && (
          <button type="button" className="danger" onClick={() => remove.mutate()} disabled={remove.isPending}>
            Remove provider
          </button>
        )}
      </div>
    </form>
  );
}

function SettingsForm({ bid, settings }: { bid: string; settings: AiStatus['settings'] }) {
  const queryClient = useQueryClient();
  const [form, setForm] = useState({
    enabled: settings.enabled,
    about: settings.about,
    budget: String(settings.monthly_token_budget),
  });
  const save = useMutation({
    mutationFn: () =>
      api(bpath(bid, 'ai', 'settings'), {
        method: 'PATCH',
        body: { enabled: form.enabled, about: form.about, monthly_token_budget: Number(form.budget) },
      }),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['ai', bid] }),
  });
  return (
    <form
      className="card"
      aria-label="AI settings"
      onSubmit={(e: FormEvent) => {
        e.preventDefault();
        save.mutate();
      }}
    >
      {save.isError && <Alert kind="error">{errorMessage(save.error)}</Alert>}
      {save.isSuccess && <Alert kind="ok">Saved.</Alert>}
      <label className="checkbox">
        <input
          type="checkbox"
          checked={form.enabled}
          onChange={(e) => setForm((f) => ({ ...f, enabled: e.target.checked }))}
        />
        AI assistance is on for this business
      </label>
      <TextArea
        label="About us / FAQ"
        value={form.about}
        maxLength={4000}
        onChange={(e) => setForm((f) => ({ ...f, about: e.target.value }))}
        hint="Your tone, products and answers to common questions. Sent to your provider with each request."
      />
      <TextField
        label="Monthly token budget"
        type="number"
        min={0}
        value={form.budget}
        onChange={(e) => setForm((f) => ({ ...f, budget: e.target.value }))}
      />
      <button type="submit" className="primary" disabled={save.isPending}>
        Save AI settings
      </button>
    </form>
  );
}

function UsageTable({ bid }: { bid: string }) {
  const usage = useQuery({ queryKey: ['ai-usage', bid], queryFn: () => api<Usage>(bpath(bid, 'ai', 'usage')) });
  return (
    <QueryView query={usage} loadingLabel="Loading usage…">
      {(u) => (
        <div className="card" data-testid="ai-usage">
          <p>
            {u.month}: {u.calls} call{u.calls === 1 ? '' : 's'}, {u.tokens_in + u.tokens_out} tokens
            {u.scope === 'business'
              ? ` of ${u.monthly_token_budget} this month (whole business)`
              : ' (your own calls; owners and admins see the whole business)'}
          </p>
          {u.by_feature.length > 0 && (
            <div className="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Feature</th>
                    <th scope="col">Calls</th>
                    <th scope="col">Tokens in</th>
                    <th scope="col">Tokens out</th>
                    <th scope="col">Errors</th>
                    <th scope="col">Avg. latency</th>
                  </tr>
                </thead>
                <tbody>
                  {u.by_feature.map((f) => (
                    <tr key={f.feature}>
                      <td>{FEATURE_NAMES[f.feature] ?? f.feature}</td>
                      <td>{f.calls}</td>
                      <td>{f.tokens_in}</td>
                      <td>{f.tokens_out}</td>
                      <td>{f.errors}</td>
                      <td>{f.avg_latency_ms === null ? '—' : `${f.avg_latency_ms} ms`}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </div>
      )}
    </QueryView>
  );
}

export function AiIntegration() {
  const { bid, canManage } = useBusiness();
  const status = useAiStatus(bid);
  return (
    <section aria-labelledby="ai-h" className="stack">
      <h2 id="ai-h">AI assistance</h2>
      <p className="muted">
        Suggested replies, contact summaries, intent labels and drafts — through your own OpenAI or OpenAI-compatible
        provider. The model sees only the one contact it is asked about (see the Security page).
      </p>
      <QueryView query={status} loadingLabel="Loading AI settings…">
        {(s) => (
          <>
            {s.provider ? (
              <p data-testid="ai-provider">
                Connected: {s.provider.provider === 'openai' ? 'OpenAI' : s.provider.base_url}, model{' '}
                <span className="mono">{s.provider.model}</span>
                {s.provider.configured_by_email ? ` — set by ${s.provider.configured_by_email}` : ''}
                {` on ${formatDateTime(s.provider.configured_at)}`}
                {!s.settings.enabled && ' (turned off)'}
              </p>
            ) : (
              <p data-testid="ai-provider">
                No AI provider yet. {canManage ? 'Connect one below.' : 'An owner or admin can connect one.'}
              </p>
            )}
            {canManage && <ProviderForm bid={bid} current={s.provider} />}
            {canManage ? (
              <SettingsForm bid={bid} settings={s.settings} />
            ) : (
              <p className="small muted">AI assistance is {s.settings.enabled ? 'on' : 'off'} for this business.</p>
            )}
          </>
        )}
      </QueryView>
      <h3>This month's usage</h3>
      <UsageTable bid={bid} />
    </section>
  );
}
