// Business Profile reviews (migration 0122, docs/ARCHITECTURE.md §26) on the engine under test,
// against the loopback Business Profile fake: on-demand sync, the unanswered filter, in-app
// notifications of new low ratings (owners and admins, once, not for history), replies sent by
// the reply job (permanent and transient failures), who may reply, and another business.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGbpAccess } from '../src/gbp/access.ts';
import { createGbpClient } from '../src/gbp/client.ts';
import { createGbpReviews, type GbpReviews } from '../src/gbp/reviews.ts';
import { createGoogleConnection } from '../src/integrations/google/connection.ts';
import { parseMasterKey } from '../src/vault/master-key.ts';
import { createVault } from '../src/vault/secrets.ts';
import { BUSINESS_MANAGE, startGoogleBusinessFake, type GoogleBusinessFake } from './fakes/google-business.ts';
import { signUp, type SignedUpUser } from './support/auth.ts';
import { ENGINE } from './support/engine.ts';
import { addMember, newBusiness } from './support/factories.ts';
import { connectGoogleFixture } from './support/google.ts';
import { request, type HttpResponse, type RequestOptions } from './support/http.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { probe } from './support/tenancy.ts';

const MASTER = Buffer.alloc(32, 13).toString('base64');
const vault = createVault(parseMasterKey(MASTER));
let s: TestServer;
let fake: GoogleBusinessFake;
let reviews: GbpReviews;
let owner: SignedUpUser, admin: SignedUpUser, member: SignedUpUser, otherAdmin: SignedUpUser;
let bid: string;
let otherBid: string;
let parent: string;

const call = <T = any>(path: string, user: SignedUpUser, options: RequestOptions = {}): Promise<HttpResponse<T>> =>
  request<T>(`${s.url}${path}`, { ...options, token: user.accessToken });
const base = (b = bid) => `/api/businesses/${b}/google/reviews`;
const gbpNotifications = async (user: SignedUpUser) =>
  ((await call(`/api/notifications?business_id=${bid}`, user)).json.items as any[]).filter(
    (n) => n.kind === 'gbp_review',
  );

beforeAll(async () => {
  fake = await startGoogleBusinessFake();
  s = await startTestServer({ GOOGLE_API_BASE: fake.url, CAPTO_MASTER_KEY: MASTER, CAPTO_JOBS: 'off' });
  const users = await Promise.all(Array.from({ length: 4 }, () => signUp(s, { verified: true })));
  [owner, admin, member, otherAdmin] = users as [SignedUpUser, SignedUpUser, SignedUpUser, SignedUpUser];
  bid = (await newBusiness(s.engine, owner.userId)).id;
  await addMember(s.engine, bid, admin.userId, 'admin');
  await addMember(s.engine, bid, member.userId, 'member');
  otherBid = (await newBusiness(s.engine, otherAdmin.userId)).id;
  fake.grant('token-r');
  await connectGoogleFixture(s.db, vault, {
    businessId: bid,
    actorUserId: owner.userId,
    email: 'office@lender.example',
    accessToken: 'token-r',
    scopes: ['openid', 'email', BUSINESS_MANAGE],
  });
  const place = fake.addAccountWithLocation();
  parent = place.parent;
  expect((await call(`${base()}/sync`, member, { method: 'POST' })).json.error.code).toBe('gbp_location_required');
  const attached = await call(`/api/businesses/${bid}/google/location`, owner, {
    method: 'PUT',
    body: { account_name: place.account.name, location_name: place.location.name },
  });
  expect(attached.status).toBe(200);
  const yearAgo = new Date(Date.now() - 365 * 86_400_000).toISOString();
  fake.addReview(parent, { starRating: 'TWO', comment: 'Long ago', createTime: yearAgo, updateTime: yearAgo });
  const minutesAgo = (n: number) => new Date(Date.now() - n * 60_000).toISOString();
  fake.addReview(parent, {
    starRating: 'FOUR',
    comment: 'Already answered',
    createTime: minutesAgo(30),
    reviewReply: { comment: 'Thank you!', updateTime: new Date().toISOString() },
  });
  fake.addReview(parent, {
    starRating: 'FIVE',
    comment: 'Closed in 21 days',
    reviewer: { displayName: 'Dana' },
    createTime: minutesAgo(20),
  });
  fake.addReview(parent, {
    starRating: 'TWO',
    comment: 'Nobody called back',
    reviewer: { displayName: 'Sam' },
    createTime: minutesAgo(10),
  });
  const google = createGoogleConnection({ config: s.config, db: s.db, vault });
  reviews = createGbpReviews({
    db: s.db,
    client: createGbpClient(fake.url),
    access: createGbpAccess({ db: s.db, google }),
  });
}, 300_000);
afterAll(async () => {
  await s?.stop();
  await fake?.close();
});

describe(`Business Profile reviews (${ENGINE})`, () => {
  it('a member syncs on demand; the list is newest first and filters unanswered', async () => {
    const sync = await call(`${base()}/sync`, member, { method: 'POST' });
    expect(sync.status).toBe(200);
    expect(sync.json).toEqual({ new_reviews: 4 });
    const all = (await call(base(), member)).json.items;
    expect(all.map((r: any) => r.comment)).toEqual([
      'Nobody called back',
      'Closed in 21 days',
      'Already answered',
      'Long ago',
    ]);
    expect(all[0]).toMatchObject({ star_rating: 2, reviewer_name: 'Sam', reply: null, pending_reply: null });
    expect(all[2].reply.comment).toBe('Thank you!');
    const open = (await call(`${base()}?unanswered=true`, member)).json.items;
    expect(open.map((r: any) => r.comment)).toEqual(['Nobody called back', 'Closed in 21 days', 'Long ago']);
  });

  it('a new review of 3 stars or fewer notifies owners and admins once — not members, not history', async () => {
    for (const who of [owner, admin]) {
      const mine = await gbpNotifications(who);
      expect(mine.map((n) => n.title)).toEqual(['New 2-star Google review from Sam']);
    }
    expect(await gbpNotifications(member)).toEqual([]);
    expect((await call(`${base()}/sync`, admin, { method: 'POST' })).json).toEqual({ new_reviews: 0 });
    expect(await gbpNotifications(owner)).toHaveLength(1);
  });

  it('another business sees nothing; members cannot reply, in HTTP or SQL', async () => {
    expect((await call(base(), otherAdmin)).status).toBe(404);
    expect((await call(`${base()}/sync`, otherAdmin, { method: 'POST' })).status).toBe(404);
    expect(await probe(s.db, otherAdmin.userId, 'SELECT 1 FROM app.gbp_reviews')).toEqual({
      kind: 'rows',
      rowCount: 0,
    });
    const id = (await call(`${base()}?unanswered=true`, member)).json.items[0].id;
    expect((await call(`${base()}/${id}/reply`, member, { method: 'PUT', body: { comment: 'x' } })).status).toBe(403);
    expect(
      (await call(`${base(otherBid)}/${id}/reply`, otherAdmin, { method: 'PUT', body: { comment: 'x' } })).status,
    ).toBe(404);
    expect(
      await probe(s.db, member.userId, `UPDATE app.gbp_reviews SET reply_draft = 'x', reply_state = 'sending'`),
    ).toEqual({ kind: 'rows', rowCount: 0 });
    expect(await probe(s.db, owner.userId, `UPDATE app.gbp_reviews SET reply_comment = 'x'`)).toMatchObject({
      kind: 'error',
      code: '42501',
    });
  });

  it('an admin replies (202); the reply job sends it once Google answers; an edit replaces it', async () => {
    const target = (await call(`${base()}?unanswered=true`, member)).json.items[0];
    const res = await call(`${base()}/${target.id}/reply`, admin, {
      method: 'PUT',
      body: { comment: 'Sam, I am sorry — I will call you today.' },
    });
    expect(res.status).toBe(202);
    expect(res.json.pending_reply).toEqual({
      comment: 'Sam, I am sorry — I will call you today.',
      state: 'sending',
      error: null,
    });
    fake.failNext({ status: 503, method: 'PUT' });
    await expect(reviews.sendReply(bid, target.id)).rejects.toMatchObject({ code: 'delivery_deferred' });
    expect(await reviews.sendReply(bid, target.id)).toBe('sent');
    expect(await reviews.sendReply(bid, target.id)).toBe('skipped');
    const atGoogle = fake.reviews.get(parent)!.find((r) => r.comment === 'Nobody called back')!;
    expect(atGoogle.reviewReply!.comment).toBe('Sam, I am sorry — I will call you today.');
    const after = (await call(base(), member)).json.items.find((r: any) => r.id === target.id);
    expect(after).toMatchObject({
      reply: { comment: 'Sam, I am sorry — I will call you today.' },
      pending_reply: null,
    });
    await call(`${base()}/${target.id}/reply`, owner, { method: 'PUT', body: { comment: 'Called Sam; sorted.' } });
    expect(await reviews.sendReply(bid, target.id)).toBe('sent');
    expect(atGoogle.reviewReply!.comment).toBe('Called Sam; sorted.');
    expect((await call(`${base()}?unanswered=true`, member)).json.items.map((r: any) => r.id)).not.toContain(target.id);
  });

  it('a reply Google refuses is marked failed with its reason', async () => {
    const target = (await call(`${base()}?unanswered=true`, member)).json.items[0];
    await call(`${base()}/${target.id}/reply`, admin, { method: 'PUT', body: { comment: 'Thanks Dana!' } });
    fake.failNext({ status: 400, method: 'PUT', reason: 'INVALID_ARGUMENT', message: 'reply is too long' });
    expect(await reviews.sendReply(bid, target.id)).toBe('failed');
    const after = (await call(base(), member)).json.items.find((r: any) => r.id === target.id);
    expect(after.pending_reply).toEqual({
      comment: 'Thanks Dana!',
      state: 'failed',
      error: 'Google refused: reply is too long',
    });
  });

  it('a reply written at Google directly shows after the next sync', async () => {
    const old = fake.reviews.get(parent)!.find((r) => r.comment === 'Long ago')!;
    old.reviewReply = { comment: 'Answered on Google', updateTime: new Date().toISOString() };
    await reviews.syncAll();
    const mine = (await call(base(), member)).json.items.find((r: any) => r.comment === 'Long ago');
    expect(mine.reply.comment).toBe('Answered on Google');
  });
});
