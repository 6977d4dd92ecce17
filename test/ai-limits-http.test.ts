// Limits and records of AI calls over HTTPS against the OpenAI fake: the per-user rate
// limit (429 rate_limited + retry_after), the monthly token budget under concurrent
// requests (overspent by at most one call, never more), provider failures and timeouts
// as clear 4xx/502/504 codes (never a 500), every call recorded without its content,
// and the month's usage summed for admins (members see their own).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asOwner } from '../src/db/engine.ts';
import { addMember, newBusiness } from './support/factories.ts';
import { signUp, type SignedUpUser } from './support/auth.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { request, type RequestOptions } from './support/http.ts';
import { startOpenAiFake, type OpenAiFake } from './fakes/openai.ts';

let s: TestServer;
let ai: OpenAiFake;
let owner: SignedUpUser;
let bid: string;
let conv: string;
const RATE = 3;

const call = <T = any>(path: string, options: RequestOptions = {}) => request<T>(`${s.url}${path}`, options);
const suggest = (u: SignedUpUser, b = bid, c = conv, headers: Record<string, string> = {}) =>
  call(`/api/businesses/${b}/conversations/${c}/suggest-reply`, { method: 'POST', token: u.accessToken, headers });

async function memberOf(businessId: string, role: 'member' | 'admin' = 'member'): Promise<SignedUpUser> {
  const u = await signUp(s, { verified: true });
  await addMember(s.engine, businessId, u.userId, role);
  return u;
}

async function businessWithThread(o: SignedUpUser, key: string): Promise<{ bid: string; conv: string }> {
  const b = (await newBusiness(s.engine, o.userId)).id;
  const put = await call(`/api/businesses/${b}/integrations/ai`, {
    method: 'PUT',
    token: o.accessToken,
    body: { provider: 'openai', api_key: key, model: 'gpt-4o-mini' },
  });
  expect(put.status).toBe(200);
  const contact = randomUUID();
  const c = randomUUID();
  await asOwner(s.engine, async (db) => {
    await db.query(
      `INSERT INTO app.contacts (id, business_id, first_name, phone) VALUES ($1, $2, 'Dana', '+14155550144')`,
      [contact, b],
    );
    await db.query(
      `INSERT INTO app.conversations (id, business_id, contact_id, our_number) VALUES ($1, $2, $3, '+14155550100')`,
      [c, b, contact],
    );
    await db.query(
      `INSERT INTO app.messages (business_id, conversation_id, direction, body, status) VALUES ($1, $2, 'inbound', 'Is 6.1 still available?', 'received')`,
      [b, c],
    );
  });
  return { bid: b, conv: c };
}

const calls = async (businessId: string) =>
  (
    await asOwner(s.engine, (c) =>
      c.query<Record<string, unknown>>(`SELECT * FROM app.ai_calls WHERE business_id = $1 ORDER BY started_at`, [
        businessId,
      ]),
    )
  ).rows;

beforeAll(async () => {
  ai = await startOpenAiFake();
  s = await startTestServer({
    OPENAI_BASE_URL: ai.url,
    CAPTO_AI_RATE_PER_MINUTE: String(RATE),
    CAPTO_AI_TIMEOUT_MS: '400',
  });
  owner = await signUp(s, { verified: true });
  ({ bid, conv } = await businessWithThread(owner, ai.addKey()));
});
afterAll(async () => {
  await s?.stop();
  await ai?.close();
});

describe('AI limits and records', () => {
  it(`a user may make ${RATE} calls a minute; the next is 429 rate_limited with retry_after; colleagues are not affected`, async () => {
    const u = await memberOf(bid);
    for (let i = 0; i < RATE; i++) expect((await suggest(u)).status).toBe(200);
    const limited = await suggest(u);
    expect(limited.status).toBe(429);
    expect(limited.json.error.code).toBe('rate_limited');
    expect(limited.json.error.retry_after).toBeGreaterThan(0);
    expect(limited.json.error.retry_after).toBeLessThanOrEqual(60);
    expect(limited.headers['retry-after']).toBe(String(limited.json.error.retry_after));
    // The streamed form is refused the same way, as JSON, before anything streams.
    const sse = await suggest(u, bid, conv, { accept: 'text/event-stream' });
    expect(sse.status).toBe(429);
    expect((await suggest(await memberOf(bid))).status).toBe(200);
  });

  it('provider failures are clear codes, never a 500, and each call is recorded with its outcome', async () => {
    const cases = [
      [401, 502, 'ai_provider_rejected_key', 'provider_auth_failed'],
      [429, 429, 'ai_provider_rate_limited', 'provider_rate_limited'],
      [500, 502, 'ai_provider_error', 'provider_error'],
      ['timeout', 504, 'ai_provider_timeout', 'timeout'],
    ] as const;
    for (const [failure, status, code, outcome] of cases) {
      const u = await memberOf(bid);
      for (const headers of [{}, { accept: 'text/event-stream' }] as Array<Record<string, string>>) {
        ai.failNext(failure);
        const res = await suggest(u, bid, conv, headers);
        expect(res.status, `${failure} ${JSON.stringify(headers)}`).toBe(status);
        expect(res.json.error.code).toBe(code);
        expect(res.text).not.toMatch(/Incorrect API key|sk-fake/);
        const row = (await calls(bid)).filter((r) => r.user_id === u.userId).at(-1)!;
        expect(row.outcome).toBe(outcome);
        expect(row.finished_at).not.toBeNull();
      }
    }
    // The provider answers again: so does Capto.
    expect((await suggest(await memberOf(bid))).status).toBe(200);
  });

  it('a call record holds no content: feature, user, model, tokens, latency, outcome', async () => {
    const rows = await calls(bid);
    const ok = rows.find((r) => r.outcome === 'ok')!;
    expect(Object.keys(ok).sort()).toEqual(
      [
        'business_id',
        'feature',
        'finished_at',
        'id',
        'latency_ms',
        'model',
        'outcome',
        'reserved_tokens',
        'started_at',
        'tokens_in',
        'tokens_out',
        'user_id',
      ].sort(),
    );
    expect(ok).toMatchObject({ feature: 'suggest_reply', model: 'gpt-4o-mini' });
    expect(Number(ok.tokens_in)).toBeGreaterThan(0);
    expect(Number(ok.tokens_out)).toBeGreaterThan(0);
    expect(Number(ok.latency_ms)).toBeGreaterThanOrEqual(0);
  });

  it('usage: the owner sees the business summed by feature; a member sees only her own calls', async () => {
    const rows = await calls(bid);
    const total = rows.reduce((a, r) => a + Number(r.tokens_in) + Number(r.tokens_out), 0);
    const usage = await call(`/api/businesses/${bid}/ai/usage`, { token: owner.accessToken });
    expect(usage.status).toBe(200);
    expect(usage.json).toMatchObject({ scope: 'business', calls: rows.length, business_tokens_used: total });
    const sf = usage.json.by_feature.find((f: any) => f.feature === 'suggest_reply');
    expect(sf.errors).toBe(rows.filter((r) => r.outcome !== 'ok').length);
    const m = await memberOf(bid);
    expect((await suggest(m)).status).toBe(200);
    const own = await call(`/api/businesses/${bid}/ai/usage`, { token: m.accessToken });
    expect(own.json).toMatchObject({ scope: 'own', calls: 1, business_tokens_used: null });
    const old = await call(`/api/businesses/${bid}/ai/usage?month=2020-01`, { token: owner.accessToken });
    expect(old.json).toMatchObject({ month: '2020-01', calls: 0, tokens_in: 0, by_feature: [] });
    expect((await call(`/api/businesses/${bid}/ai/usage?month=2020-13`, { token: owner.accessToken })).status).toBe(
      400,
    );
  });

  it('concurrent requests near the monthly budget overspend it by at most one call', async () => {
    const o = await signUp(s, { verified: true });
    const world = await businessWithThread(o, ai.addKey());
    // One call measures what a call costs here.
    expect((await suggest(o, world.bid, world.conv)).status).toBe(200);
    const one = (await calls(world.bid))[0]!;
    const cost = Number(one.tokens_in) + Number(one.tokens_out);
    const budget = Math.floor(cost * 2.5);
    const set = await call(`/api/businesses/${world.bid}/ai/settings`, {
      method: 'PATCH',
      token: o.accessToken,
      body: { monthly_token_budget: budget },
    });
    expect(set.status).toBe(200);
    ai.setLatency(150); // calls overlap
    const users = [o, ...(await Promise.all([memberOf(world.bid), memberOf(world.bid)]))];
    const results = await Promise.all(
      users.flatMap((u) => Array.from({ length: RATE }, () => suggest(u, world.bid, world.conv))),
    );
    ai.setLatency(0);
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((x) => x === 200).length).toBeGreaterThanOrEqual(1);
    const refused = results.filter((r) => r.status === 429);
    expect(refused.length).toBeGreaterThanOrEqual(1);
    for (const r of refused) expect(r.json.error.code).toBe('ai_budget_exhausted');
    expect(statuses.every((x) => x === 200 || x === 429)).toBe(true);
    const spentNow = async () =>
      (await calls(world.bid)).reduce((a, r) => a + Number(r.tokens_in) + Number(r.tokens_out), 0);
    expect(await spentNow()).toBeLessThanOrEqual(budget + cost);
    // Calls go on (one at a time) only while something is left; then every call is refused until next month.
    let after = await suggest(await memberOf(world.bid), world.bid, world.conv);
    for (let i = 0; i < 3 && after.status === 200; i++) {
      after = await suggest(await memberOf(world.bid), world.bid, world.conv);
    }
    expect(after.status).toBe(429);
    expect(after.json.error.code).toBe('ai_budget_exhausted');
    expect(after.json.error.retry_after).toBeGreaterThan(0);
    const spent = await spentNow();
    expect(spent).toBeGreaterThanOrEqual(budget);
    expect(spent).toBeLessThanOrEqual(budget + cost);
  });
});
