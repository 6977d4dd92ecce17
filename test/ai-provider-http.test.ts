// The AI provider per business over real HTTPS, against the local OpenAI fake: only
// owners/admins configure it, the key is verified with one models-list call, stored
// only in the vault, never returned or logged, every change is audited, a new base
// URL needs the key again, and private hosts are refused unless the operator allows
// them. Members read the provider and the settings; outsiders get 404.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asOwner } from '../src/db/engine.ts';
import { normaliseBaseUrl } from '../src/ai/providers.ts';
import { addMember, newBusiness } from './support/factories.ts';
import { signUp, type SignedUpUser } from './support/auth.ts';
import { startCapturingServer, type CapturingServer } from './support/capturing-server.ts';
import { request as rawRequest, type HttpResponse, type RequestOptions } from './support/http.ts';
import { startOpenAiFake, type OpenAiFake } from './fakes/openai.ts';

let s: CapturingServer;
let fake: OpenAiFake;
let owner: SignedUpUser;
let admin: SignedUpUser;
let member: SignedUpUser;
let outsider: SignedUpUser;
let otherAdmin: SignedUpUser;
let bid: string;
let otherBid: string;
let key1: string;
let key2: string;
const captured: string[] = [];

async function call<T = any>(path: string, options: RequestOptions = {}): Promise<HttpResponse<T>> {
  const res = await rawRequest<T>(`${s.url}${path}`, options);
  captured.push(`${res.status} ${JSON.stringify(res.headers)} ${res.text}`);
  return res;
}
const ai = () => `/api/businesses/${bid}/integrations/ai`;
const auditRows = async (business = bid) =>
  (
    await asOwner(s.engine, (c) =>
      c.query<{ action: string; details: any; actor_user_id: string }>(
        'SELECT action, details, actor_user_id FROM audit.integration_events WHERE business_id = $1 ORDER BY seq',
        [business],
      ),
    )
  ).rows;
const aiSecrets = async () =>
  Number(
    (
      await asOwner(s.engine, (c) =>
        c.query<{ n: string }>(
          `SELECT count(*) AS n FROM vault.secrets WHERE business_id = $1 AND kind = 'ai.api_key'`,
          [bid],
        ),
      )
    ).rows[0]!.n,
  );

beforeAll(async () => {
  fake = await startOpenAiFake();
  key1 = fake.addKey();
  key2 = fake.addKey();
  s = await startCapturingServer({
    OPENAI_BASE_URL: fake.url,
    CAPTO_ALLOW_PRIVATE_HOSTS: 'on',
    CAPTO_MASTER_KEY: Buffer.alloc(32, 7).toString('base64'),
  });
  [owner, admin, member, outsider, otherAdmin] = await Promise.all([
    signUp(s, { verified: true }),
    signUp(s, { verified: true }),
    signUp(s, { verified: true }),
    signUp(s, { verified: true }),
    signUp(s, { verified: true }),
  ]);
  bid = (await newBusiness(s.engine, owner.userId)).id;
  await addMember(s.engine, bid, admin.userId, 'admin');
  await addMember(s.engine, bid, member.userId, 'member');
  otherBid = (await newBusiness(s.engine, otherAdmin.userId)).id;
});
afterAll(async () => {
  await s?.stop();
  await fake?.close();
});

describe('AI provider configuration as owner, admin, member and outsider', () => {
  it('with no provider, members see that plainly (provider null, default settings)', async () => {
    const res = await call(ai(), { token: member.accessToken });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      provider: null,
      settings: { enabled: true, about: '', monthly_token_budget: 1_000_000 },
    });
  });

  it('a member cannot set the provider, and the provider is not even asked', async () => {
    const before = fake.requests.length;
    const res = await call(ai(), {
      method: 'PUT',
      token: member.accessToken,
      body: { provider: 'openai', api_key: key1, model: 'gpt-4o-mini' },
    });
    expect(res.status).toBe(403);
    expect(fake.requests.length).toBe(before);
  });

  it('outsiders and admins of another business get 404', async () => {
    for (const u of [outsider, otherAdmin]) {
      expect((await call(ai(), { token: u.accessToken })).status).toBe(404);
      const put = await call(ai(), {
        method: 'PUT',
        token: u.accessToken,
        body: { provider: 'openai', api_key: key1, model: 'gpt-4o-mini' },
      });
      expect(put.status).toBe(404);
      expect((await call(ai(), { method: 'DELETE', token: u.accessToken })).status).toBe(404);
    }
  });

  it('a key the provider refuses is 400 ai_key_invalid; nothing stored or audited', async () => {
    const res = await call(ai(), {
      method: 'PUT',
      token: admin.accessToken,
      body: { provider: 'openai', api_key: 'sk-not-a-real-key-123', model: 'gpt-4o-mini' },
    });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('ai_key_invalid');
    expect(fake.requests.at(-1)).toMatchObject({ path: '/v1/models', authorized: false });
    expect(await aiSecrets()).toBe(0);
    expect(await auditRows()).toEqual([]);
  });

  it('validates the shape: no base_url for openai, base_url required for openai_compatible, no extra fields', async () => {
    const cases = [
      { provider: 'openai', api_key: key1, model: 'm', base_url: 'https://evil.example/v1' },
      { provider: 'openai_compatible', api_key: key1, model: 'm' },
      { provider: 'openai', api_key: key1, model: 'm', api_base: 'https://evil.example' },
      { provider: 'anthropic', api_key: key1, model: 'm' },
      { provider: 'openai_compatible', api_key: key1, model: 'm', base_url: 'ftp://x.example/v1' },
      { provider: 'openai_compatible', api_key: key1, model: 'm', base_url: 'https://u:p@x.example/v1' },
    ];
    for (const body of cases) {
      const res = await call(ai(), { method: 'PUT', token: admin.accessToken, body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.text).not.toContain(key1);
    }
  });

  it('an admin sets the openai provider (OPENAI_BASE_URL): verified, sealed in the vault, audited, key never returned', async () => {
    const res = await call(ai(), {
      method: 'PUT',
      token: admin.accessToken,
      body: { provider: 'openai', api_key: key1, model: 'gpt-4o-mini' },
    });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      provider: 'openai',
      model: 'gpt-4o-mini',
      base_url: null,
      configured_by: admin.userId,
      configured_by_email: admin.email,
    });
    expect(fake.requests.at(-1)).toMatchObject({ path: '/v1/models', authorized: true });
    expect(await aiSecrets()).toBe(1);
    const audit = await auditRows();
    expect(audit.map((a) => a.action)).toEqual(['ai.provider.set']);
    expect(audit[0]!.details).toEqual({ provider: 'openai', model: 'gpt-4o-mini' });
    expect(audit[0]!.actor_user_id).toBe(admin.userId);
    // The ciphertext is not the key.
    const raw = await asOwner(s.engine, (c) =>
      c.query<{ ciphertext: Buffer }>(`SELECT ciphertext FROM vault.secrets WHERE business_id = $1`, [bid]),
    );
    expect(raw.rows[0]!.ciphertext.toString('latin1')).not.toContain(key1);
  });

  it('members read the provider (no key); the request role cannot read the secret reference', async () => {
    const res = await call(ai(), { token: member.accessToken });
    expect(res.json.provider).toMatchObject({ provider: 'openai', model: 'gpt-4o-mini' });
    expect(JSON.stringify(res.json)).not.toMatch(/secret|api_key/);
    // Another business's admin sees her own business without a provider, not this one.
    const other = await call(`/api/businesses/${otherBid}/integrations/ai`, { token: otherAdmin.accessToken });
    expect(other.status).toBe(200);
    expect(other.json.provider).toBeNull();
    const denied = await s.db
      .asUser({ sub: admin.userId }, (tx) => tx.query('SELECT secret_id FROM app.ai_providers'))
      .catch((e: { code?: string }) => e.code);
    expect(denied).toBe('forbidden'); // 42501 permission denied, mapped by src/db
  });

  it('changing only the model keeps the stored key (verified again with it)', async () => {
    const before = fake.requests.length;
    const res = await call(ai(), {
      method: 'PUT',
      token: owner.accessToken,
      body: { provider: 'openai', model: 'gpt-4o' },
    });
    expect(res.status).toBe(200);
    expect(res.json.model).toBe('gpt-4o');
    expect(fake.requests.slice(before)).toEqual([{ method: 'GET', path: '/v1/models', authorized: true }]);
    expect(await aiSecrets()).toBe(1);
  });

  it('a new provider kind or base_url needs the key again (a stored key goes only where it was entered for)', async () => {
    const noKey = await call(ai(), {
      method: 'PUT',
      token: admin.accessToken,
      body: { provider: 'openai_compatible', model: 'echo', base_url: fake.url },
    });
    expect(noKey.status).toBe(400);
    expect(noKey.json.error.code).toBe('ai_key_required');
    const withKey = await call(ai(), {
      method: 'PUT',
      token: admin.accessToken,
      body: { provider: 'openai_compatible', api_key: key2, model: 'echo', base_url: `${fake.url}/` },
    });
    expect(withKey.status).toBe(200);
    expect(withKey.json).toMatchObject({ provider: 'openai_compatible', model: 'echo', base_url: fake.url });
    // Same base (normalised): no key needed.
    const same = await call(ai(), {
      method: 'PUT',
      token: admin.accessToken,
      body: { provider: 'openai_compatible', model: 'gpt-4o', base_url: fake.url },
    });
    expect(same.status).toBe(200);
    // Another host for the same server: the key must be entered again.
    const otherHost = await call(ai(), {
      method: 'PUT',
      token: admin.accessToken,
      body: { provider: 'openai_compatible', model: 'echo', base_url: fake.url.replace('127.0.0.1', 'localhost') },
    });
    expect(otherHost.status).toBe(400);
    expect(otherHost.json.error.code).toBe('ai_key_required');
    expect(await aiSecrets()).toBe(1); // the replaced key's secret was deleted with the change
    const audit = await auditRows();
    expect(audit.filter((a) => a.action === 'ai.provider.set').at(-1)!.details).toEqual({
      provider: 'openai_compatible',
      model: 'gpt-4o',
      base_url_host: new URL(fake.url).host,
    });
  });

  it('private and loopback hosts are refused unless CAPTO_ALLOW_PRIVATE_HOSTS=on', async () => {
    for (const url of [
      'http://127.0.0.1:8080/v1',
      'http://localhost/v1',
      'http://10.1.2.3/v1',
      'http://[::1]/v1',
      'http://169.254.169.254/v1',
    ]) {
      await expect(normaliseBaseUrl(url, false), url).rejects.toMatchObject({ code: 'host_not_allowed' });
    }
    await expect(normaliseBaseUrl('http://127.0.0.1:8080/v1/', true)).resolves.toBe('http://127.0.0.1:8080/v1');
  });

  it('AI settings: members read; only owners/admins change the switch, the FAQ and the budget', async () => {
    const denied = await call(`/api/businesses/${bid}/ai/settings`, {
      method: 'PATCH',
      token: member.accessToken,
      body: { enabled: false },
    });
    expect(denied.status).toBe(403);
    const ok = await call(`/api/businesses/${bid}/ai/settings`, {
      method: 'PATCH',
      token: admin.accessToken,
      body: { about: 'We are a family lender. Rate locks last 45 days.', monthly_token_budget: 50_000 },
    });
    expect(ok.status).toBe(200);
    expect(ok.json).toMatchObject({
      enabled: true,
      about: 'We are a family lender. Rate locks last 45 days.',
      monthly_token_budget: 50_000,
    });
    const read = await call(`/api/businesses/${bid}/ai/settings`, { token: member.accessToken });
    expect(read.json.about).toBe('We are a family lender. Rate locks last 45 days.');
    expect((await call(`/api/businesses/${bid}/ai/settings`, { token: outsider.accessToken })).status).toBe(404);
    const bad = await call(`/api/businesses/${bid}/ai/settings`, {
      method: 'PATCH',
      token: admin.accessToken,
      body: { monthly_token_budget: -1 },
    });
    expect(bad.status).toBe(400);
    // The database refuses a member's write too (not only the route).
    const sql = await s.db
      .asUser({ sub: member.userId }, (tx) =>
        tx.query(`UPDATE app.businesses SET ai_enabled = false WHERE id = $1`, [bid]),
      )
      .then((r) => r.rowCount);
    expect(sql).toBe(0);
  });

  it('members cannot remove the provider; the owner can: the key is deleted and the removal audited', async () => {
    expect((await call(ai(), { method: 'DELETE', token: member.accessToken })).status).toBe(403);
    const del = await call(ai(), { method: 'DELETE', token: owner.accessToken });
    expect(del.status).toBe(204);
    expect(await aiSecrets()).toBe(0);
    expect((await auditRows()).at(-1)!.action).toBe('ai.provider.removed');
    expect((await call(ai(), { token: member.accessToken })).json.provider).toBeNull();
    expect((await call(ai(), { method: 'DELETE', token: owner.accessToken })).status).toBe(404);
  });

  it('no response, header, log line or error message ever contained a key', () => {
    const all = [...captured, ...s.logLines].join('\n');
    expect(captured.length).toBeGreaterThan(20);
    expect(s.logLines.length).toBeGreaterThan(20);
    for (const k of [key1, key2]) expect(all).not.toContain(k);
  });
});
