// A business's AI provider (docs/ARCHITECTURE.md §23): bring-your-own, like Twilio.
// Reads run as the caller (members see provider, model and base URL — never the key).
// Changes run in ONE capto_service transaction that re-checks the caller's role under
// a row lock, writes the audit row, seals/deletes the key and changes the row; the
// database refuses the change without that audit row (0100's triggers). The key is
// verified with the provider (one models-list call) before anything is stored.
import { randomUUID } from 'node:crypto';
import type { Database, Tx } from '../db/index.ts';
import { recordIntegrationChange } from '../audit/integration-events.ts';
import { assertCanManageIntegrations, type Actor } from '../integrations/permissions.ts';
import { AppError, notFound } from '../shared/errors.ts';
import { resolveOutboundHost } from '../shared/outbound-host.ts';
import type { Vault } from '../vault/secrets.ts';
import type { AiClient, ProviderKind, ProviderTarget } from './provider-client.ts';

export interface AiProviderDeps {
  db: Database;
  vault: Vault;
  client: AiClient;
  allowPrivateHosts: boolean;
}

export interface AiProviderView {
  provider: ProviderKind;
  model: string;
  base_url: string | null;
  configured_by: string | null;
  configured_by_email: string | null;
  configured_at: string;
}

export interface AiProviderInput {
  provider: ProviderKind;
  api_key?: string;
  model: string;
  base_url?: string;
}

type Row = {
  id: string;
  provider: ProviderKind;
  model: string;
  base_url: string | null;
  configured_by: string | null;
  configured_by_email: string | null;
  configured_at: Date;
};

const SELECT_VIEW = `SELECT p.id, p.provider, p.model, p.base_url, p.configured_by, p.configured_at,
  (SELECT u.email::text FROM auth.users u WHERE u.id = p.configured_by) AS configured_by_email
  FROM app.ai_providers p`;

const view = (r: Row): AiProviderView => ({
  provider: r.provider,
  model: r.model,
  base_url: r.base_url,
  configured_by: r.configured_by,
  configured_by_email: r.configured_by_email,
  configured_at: r.configured_at.toISOString(),
});

/** The business's provider as the caller sees it (any member), or null. */
export async function getAiProvider(tx: Tx, businessId: string): Promise<AiProviderView | null> {
  const r = await tx.query<Row>(`${SELECT_VIEW} WHERE p.business_id = $1`, [businessId]);
  return r.rows[0] ? view(r.rows[0]) : null;
}

/**
 * A base URL as stored: http(s), no credentials, query or fragment, no trailing slash.
 * Its host must resolve to public addresses unless the operator allows private ones.
 */
export async function normaliseBaseUrl(input: string, allowPrivateHosts: boolean): Promise<string> {
  let u: URL;
  try {
    u = new URL(input.trim());
  } catch {
    throw new AppError('validation_failed', 'base_url must be an http(s) URL such as https://example.com/v1');
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') {
    throw new AppError('validation_failed', 'base_url must be an http(s) URL such as https://example.com/v1');
  }
  if (u.username || u.password || u.search || u.hash) {
    throw new AppError('validation_failed', 'base_url must not carry credentials, a query or a fragment');
  }
  await resolveOutboundHost(u.hostname, { allowPrivate: allowPrivateHosts });
  return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
}

/** Hosts only in the audit log: a base URL's path could carry a deployment name, never a secret, but keep it short. */
const auditDetails = (provider: ProviderKind, model: string, baseUrl: string | null) => ({
  provider,
  model,
  ...(baseUrl ? { base_url_host: new URL(baseUrl).host } : {}),
});

export async function putAiProvider(
  deps: AiProviderDeps,
  actor: Actor,
  businessId: string,
  input: AiProviderInput,
): Promise<AiProviderView> {
  await deps.db.asService('ai.provider.precheck', (tx) => assertCanManageIntegrations(tx, businessId, actor.userId));
  if (input.provider === 'openai' && input.base_url !== undefined) {
    throw new AppError(
      'validation_failed',
      'base_url is only for openai_compatible providers; the openai provider uses the operator-configured address',
    );
  }
  if (input.provider === 'openai_compatible' && input.base_url === undefined) {
    throw new AppError('validation_failed', 'base_url is required for an openai_compatible provider');
  }
  const baseUrl =
    input.provider === 'openai_compatible' ? await normaliseBaseUrl(input.base_url!, deps.allowPrivateHosts) : null;

  // A stored key only ever goes to the address it was entered for: a new provider kind
  // or base URL needs the key again (docs/SECURITY.md "AI assistance").
  let apiKey = input.api_key;
  if (apiKey === undefined) {
    const current = await deps.db.asService('ai.provider.read', async (tx) => {
      const r = await tx.query<{ provider: ProviderKind; base_url: string | null; secret_id: string }>(
        'SELECT provider, base_url, secret_id FROM app.ai_providers WHERE business_id = $1',
        [businessId],
      );
      const row = r.rows[0];
      if (!row || row.provider !== input.provider || row.base_url !== baseUrl) return undefined;
      return deps.vault.readSecret(tx, { businessId, id: row.secret_id, kind: 'ai.api_key' });
    });
    if (current === undefined) {
      throw new AppError(
        'ai_key_required',
        'enter the API key: a key is only sent to the provider and address it was entered for',
      );
    }
    apiKey = current;
  }

  // Verify before saving, outside any transaction: no lock is held across the network.
  const target: ProviderTarget = { provider: input.provider, baseUrl, apiKey, model: input.model };
  await deps.client.verify(target);

  return deps.db.asService('ai.provider.put', async (tx) => {
    await assertCanManageIntegrations(tx, businessId, actor.userId);
    const existing = await tx.query<{ id: string; secret_id: string }>(
      'SELECT id, secret_id FROM app.ai_providers WHERE business_id = $1 FOR UPDATE',
      [businessId],
    );
    const old = existing.rows[0];
    const id = old?.id ?? randomUUID();
    await recordIntegrationChange(tx, {
      businessId,
      actorUserId: actor.userId,
      action: 'ai.provider.set',
      subjectId: id,
      details: auditDetails(input.provider, input.model, baseUrl),
      ip: actor.ip,
      userAgent: actor.userAgent,
    });
    const secretId = await deps.vault.putSecret(tx, { businessId, kind: 'ai.api_key', plaintext: apiKey });
    if (old) {
      await tx.query(
        `UPDATE app.ai_providers SET provider = $2, model = $3, base_url = $4, secret_id = $5, configured_by = $6, configured_at = now()
          WHERE id = $1`,
        [id, input.provider, input.model, baseUrl, secretId, actor.userId],
      );
      await deps.vault.deleteSecret(tx, { businessId, id: old.secret_id });
    } else {
      await tx.query(
        `INSERT INTO app.ai_providers (id, business_id, provider, model, base_url, secret_id, configured_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [id, businessId, input.provider, input.model, baseUrl, secretId, actor.userId],
      );
    }
    const r = await tx.query<Row>(`${SELECT_VIEW} WHERE p.id = $1`, [id]);
    return view(r.rows[0]!);
  });
}

export async function removeAiProvider(deps: AiProviderDeps, actor: Actor, businessId: string): Promise<void> {
  await deps.db.asService('ai.provider.remove', async (tx) => {
    await assertCanManageIntegrations(tx, businessId, actor.userId);
    const r = await tx.query<{
      id: string;
      provider: ProviderKind;
      model: string;
      base_url: string | null;
      secret_id: string;
    }>('SELECT id, provider, model, base_url, secret_id FROM app.ai_providers WHERE business_id = $1 FOR UPDATE', [
      businessId,
    ]);
    const row = r.rows[0];
    if (!row) throw notFound('AI provider');
    await recordIntegrationChange(tx, {
      businessId,
      actorUserId: actor.userId,
      action: 'ai.provider.removed',
      subjectId: row.id,
      details: auditDetails(row.provider, row.model, row.base_url),
      ip: actor.ip,
      userAgent: actor.userAgent,
    });
    await tx.query('DELETE FROM app.ai_providers WHERE id = $1', [row.id]);
    await deps.vault.deleteSecret(tx, { businessId, id: row.secret_id });
  });
}

/** The business's provider with its key, for one call. `tx` must be a capto_service transaction. */
export async function loadProviderTarget(
  tx: Tx,
  vault: Vault,
  businessId: string,
): Promise<ProviderTarget | undefined> {
  const r = await tx.query<{ provider: ProviderKind; model: string; base_url: string | null; secret_id: string }>(
    'SELECT provider, model, base_url, secret_id FROM app.ai_providers WHERE business_id = $1',
    [businessId],
  );
  const row = r.rows[0];
  if (!row) return undefined;
  const apiKey = await vault.readSecret(tx, { businessId, id: row.secret_id, kind: 'ai.api_key' });
  return { provider: row.provider, baseUrl: row.base_url, apiKey, model: row.model };
}
