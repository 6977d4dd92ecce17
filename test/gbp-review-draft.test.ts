// "Draft a reply" for a Business Profile review (migration 0127, docs/ARCHITECTURE.md §26) on the
// engine under test, against the OpenAI fake (model `echo` answers with the whole prompt, so the
// test sees exactly what the provider was shown) and the Business Profile fake: the prompt holds
// only that review's text, stars, reviewer's first name and the business's name; nothing is posted;
// AI off, no provider and a spent budget are clear 4xx; provider failures are 502/429/504 with a
// stable code, never a 500; the per-user rate limit applies; members and other businesses are refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asOwner } from '../src/db/engine.ts';
import { parseMasterKey } from '../src/vault/master-key.ts';
import { createVault } from '../src/vault/secrets.ts';
import { BUSINESS_MANAGE, startGoogleBusinessFake, type GoogleBusinessFake } from './fakes/google-business.ts';
import { startOpenAiFake, type OpenAiFake } from './fakes/openai.ts';
import { signUp, type SignedUpUser } from './support/auth.ts';
import { ENGINE } from './support/engine.ts';
import { addMember, newBusiness } from './support/factories.ts';
import { connectGoogleFixture } from './support/google.ts';
import { request, type HttpResponse, type RequestOptions } from './support/http.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const MASTER = Buffer.alloc(32, 13).toString('base64');
const vault = createVault(parseMasterKey(MASTER));
const RATE = 8; // the owner makes 6 calls below, the rate test's admin RATE + 1
const FAQ = 'Secret FAQ line: we waive the appraisal fee for teachers';
let s: TestServer;
let gbp: GoogleBusinessFake;
let ai: OpenAiFake;
let owner: SignedUpUser, admin: SignedUpUser, admin2: SignedUpUser, member: SignedUpUser, otherAdmin: SignedUpUser;
let bid: string;
let otherBid: string;
let dana: string; // the review to draft for
let anonymous: string;

const call = <T = any>(path: string, user: SignedUpUser, options: RequestOptions = {}): Promise<HttpResponse<T>> =>
  request<T>(`${s.url}${path}`, { ...options, token: user.accessToken });
const draft = (user: SignedUpUser, reviewId: string, b = bid) =>
  call(`/api/businesses/${b}/google/reviews/${reviewId}/draft-reply`, user, { method: 'POST' });

beforeAll(async () => {
  gbp = await startGoogleBusinessFake();
  ai = await startOpenAiFake();
  s = await startTestServer({
    GOOGLE_API_BASE: gbp.url,
    OPENAI_BASE_URL: ai.url,
    CAPTO_MASTER_KEY: MASTER,
    CAPTO_JOBS: 'off',
    CAPTO_AI_RATE_PER_MINUTE: String(RATE),
    CAPTO_AI_TIMEOUT_MS: '1500',
  });
  [owner, admin, admin2, member, otherAdmin] = (await Promise.all(
    Array.from({ length: 5 }, () => signUp(s, { verified: true })),
  )) as [SignedUpUser, SignedUpUser, SignedUpUser, SignedUpUser, SignedUpUser];
  bid = (await newBusiness(s.engine, owner.userId, 'Lakeside Lending')).id;
  await addMember(s.engine, bid, admin.userId, 'admin');
  await addMember(s.engine, bid, admin2.userId, 'admin');
  await addMember(s.engine, bid, member.userId, 'member');
  otherBid = (await newBusiness(s.engine, otherAdmin.userId, 'Other Mortgage')).id;
  gbp.grant('token-d');
  await connectGoogleFixture(s.db, vault, {
    businessId: bid,
    actorUserId: owner.userId,
    email: 'office@lender.example',
    accessToken: 'token-d',
    scopes: ['openid', 'email', BUSINESS_MANAGE],
  });
  const place = gbp.addAccountWithLocation();
  expect(
    (
      await call(`/api/businesses/${bid}/google/location`, owner, {
        method: 'PUT',
        body: { account_name: place.account.name, location_name: place.location.name },
      })
    ).status,
  ).toBe(200);
  gbp.addReview(place.parent, {
    starRating: 'FIVE',
    comment: 'Another review that must stay out of the prompt',
    reviewer: { displayName: 'Robin Elsewhere' },
  });
  gbp.addReview(place.parent, {
    starRating: 'ONE',
    comment: 'Anonymous and angry',
    reviewer: { displayName: 'Someone', isAnonymous: true },
  });
  gbp.addReview(place.parent, {
    starRating: 'TWO',
    comment: 'Nobody called me back for a week.',
    reviewer: { displayName: 'Dana Whitfield' },
  });
  expect((await call(`/api/businesses/${bid}/google/reviews/sync`, member, { method: 'POST' })).status).toBe(200);
  const items = (await call(`/api/businesses/${bid}/google/reviews`, member)).json.items as any[];
  dana = items.find((r) => r.reviewer_name === 'Dana Whitfield').id;
  anonymous = items.find((r) => r.comment === 'Anonymous and angry').id;
  for (const [b, who] of [
    [bid, owner],
    [otherBid, otherAdmin],
  ] as const)
    expect(
      (
        await call(`/api/businesses/${b}/ai/settings`, who, {
          method: 'PATCH',
          body: { about: FAQ },
        })
      ).status,
    ).toBe(200);
}, 300_000);
afterAll(async () => {
  await s?.stop();
  await gbp?.close();
  await ai?.close();
});

const putProvider = async (b: string, who: SignedUpUser, model = 'echo') =>
  expect(
    (
      await call(`/api/businesses/${b}/integrations/ai`, who, {
        method: 'PUT',
        body: { provider: 'openai', api_key: ai.addKey(), model },
      })
    ).status,
  ).toBe(200);

describe(`Business Profile: draft a review reply with AI (${ENGINE})`, () => {
  it('no provider is 409 ai_not_configured; AI switched off is 409 ai_disabled; the provider is not called', async () => {
    const res = await draft(admin, dana);
    expect(res.status).toBe(409);
    expect(res.json.error.code).toBe('ai_not_configured');
    await putProvider(bid, owner);
    await putProvider(otherBid, otherAdmin);
    const off = await call(`/api/businesses/${bid}/ai/settings`, owner, { method: 'PATCH', body: { enabled: false } });
    expect(off.status).toBe(200);
    const disabled = await draft(admin, dana);
    expect(disabled.status).toBe(409);
    expect(disabled.json.error.code).toBe('ai_disabled');
    await call(`/api/businesses/${bid}/ai/settings`, owner, { method: 'PATCH', body: { enabled: true } });
    expect(ai.chats).toHaveLength(0);
  });

  it('drafts from that review alone: text, stars, first name and business name; nothing is posted', async () => {
    const before = gbp.requests.length;
    const res = await draft(admin, dana);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ model: 'echo', flags: [] });
    expect(res.json.tokens_in).toBeGreaterThan(0);
    const prompt = res.json.text as string; // echo: exactly what the provider saw
    expect(
      ai.chats
        .at(-1)!
        .messages.map((m) => m.content)
        .join('\n'),
    ).toContain('Nobody called me back for a week.');
    expect(prompt).toContain('Nobody called me back for a week.');
    expect(prompt).toContain('Stars: 2 of 5');
    expect(prompt).toContain('Reviewer first name: Dana');
    expect(prompt).toContain('Lakeside Lending');
    for (const absent of [
      'Whitfield',
      'Another review',
      'Robin',
      'Anonymous and angry',
      FAQ,
      admin.email,
      'office@lender.example',
    ])
      expect(prompt).not.toContain(absent);
    // Nothing was posted: no call to Google, no reply or pending reply on the review.
    expect(gbp.requests.length).toBe(before);
    const review = ((await call(`/api/businesses/${bid}/google/reviews`, member)).json.items as any[]).find(
      (r) => r.id === dana,
    );
    expect(review).toMatchObject({ reply: null, pending_reply: null });
    // Recorded like every AI call: feature, user, tokens — without the prompt or the output.
    const calls = await asOwner(s.engine, (c) =>
      c.query<{ feature: string; user_id: string; outcome: string }>(
        `SELECT feature, user_id, outcome FROM app.ai_calls WHERE business_id = $1 AND feature = 'review_reply'`,
        [bid],
      ),
    );
    expect(calls.rows).toEqual([{ feature: 'review_reply', user_id: admin.userId, outcome: 'ok' }]);
  });

  it('an anonymous reviewer is named as such; a phone number in the draft is flagged', async () => {
    const res = await draft(owner, anonymous);
    expect(res.status).toBe(200);
    expect(res.json.text).toContain('Reviewer first name: (anonymous)');
    expect(res.json.text).toContain('Stars: 1 of 5');
    expect(res.json.flags).toEqual([]);
    await putProvider(bid, owner, 'gpt-4o-mini'); // a model that answers (the fake's respondWith)
    ai.respondWith(() => 'Sorry to hear this. Call us at (312) 834-7721 so we can help.');
    try {
      const flagged = await draft(owner, anonymous);
      expect(flagged.status).toBe(200);
      expect(flagged.json.text).toBe('Sorry to hear this. Call us at (312) 834-7721 so we can help.');
      expect(flagged.json.flags).toEqual([
        { kind: 'phone', value: '(312) 834-7721', reason: 'not_the_contacts_or_business' },
      ]);
    } finally {
      ai.respondWith(undefined);
      await putProvider(bid, owner);
    }
  });

  it('members are refused; another business cannot reach the review; unknown and malformed ids', async () => {
    const chats = ai.chats.length;
    const asMember = await draft(member, dana);
    expect(asMember.status).toBe(403);
    // Another business's admin, through her own business (no such review there) and through ours.
    expect((await draft(otherAdmin, dana, otherBid)).status).toBe(404);
    expect((await draft(otherAdmin, dana, bid)).status).toBe(404);
    // Our admin cannot use the other business either.
    expect((await draft(admin, dana, otherBid)).status).toBe(404);
    expect((await draft(admin, '00000000-0000-4000-8000-000000000000')).status).toBe(404);
    expect((await draft(admin, 'not-a-uuid')).status).toBe(400);
    expect(ai.chats.length).toBe(chats); // none of them reached the provider
  });

  it('provider failures are stable 5xx/429 codes, never a 500 or a stack', async () => {
    const cases: [Parameters<OpenAiFake['failNext']>[0], number, string][] = [
      [500, 502, 'ai_provider_error'],
      [401, 502, 'ai_provider_rejected_key'],
      [429, 429, 'ai_provider_rate_limited'],
      ['timeout', 504, 'ai_provider_timeout'],
    ];
    for (const [failure, status, code] of cases) {
      ai.failNext(failure);
      const res = await draft(owner, dana);
      expect([res.status, res.json.error.code]).toEqual([status, code]);
      expect(res.text).not.toMatch(/stack|at .*\.ts:\d+|sk-/i);
    }
  });

  it(`a person may draft ${RATE} times a minute; the next is 429 rate_limited`, async () => {
    for (let i = 0; i < RATE; i++) expect((await draft(admin2, dana)).status).toBe(200);
    const limited = await draft(admin2, dana);
    expect(limited.status).toBe(429);
    expect(limited.json.error.code).toBe('rate_limited');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect((await draft(admin, dana)).status).toBe(200); // a colleague is not affected
  });

  it("a spent month's budget is 429 ai_budget_exhausted before the provider is called", async () => {
    expect(
      (
        await call(`/api/businesses/${bid}/ai/settings`, owner, {
          method: 'PATCH',
          body: { monthly_token_budget: 0 },
        })
      ).status,
    ).toBe(200);
    const chats = ai.chats.length;
    const res = await draft(admin, dana);
    expect(res.status).toBe(429);
    expect(res.json.error.code).toBe('ai_budget_exhausted');
    expect(ai.chats.length).toBe(chats);
  });
});
