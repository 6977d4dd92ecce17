// The Business Profile API fake and Capto's client against each other (docs/ARCHITECTURE.md §26):
// bearer checks (401 unknown/revoked token, 403 without business.manage), Google's error shape
// and its classification, paging, posts and review replies, tokens of a real OpenID provider.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OAuth2Server } from 'oauth2-mock-server';
import { createGbpClient, GbpApiError, gbpHosts } from '../src/gbp/client.ts';
import { BUSINESS_MANAGE, startGoogleBusinessFake, type GoogleBusinessFake } from './fakes/google-business.ts';

let fake: GoogleBusinessFake;
let client: ReturnType<typeof createGbpClient>;
let parent: string;
const TOKEN = 'ya29.test-token';

beforeAll(async () => {
  fake = await startGoogleBusinessFake();
  client = createGbpClient(fake.url);
  fake.grant(TOKEN);
  ({ parent } = fake.addAccountWithLocation());
  fake.addAccountWithLocation({ accountName: 'Second', title: 'Second office' });
  fake.addAccountWithLocation({ accountName: 'Third', title: 'Third office' });
});
afterAll(async () => fake?.close());

const failure = async (p: Promise<unknown>) => {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(GbpApiError);
  return e as GbpApiError;
};

describe('Business Profile fake and client', () => {
  it('uses the real Google hosts unless the operator points GOOGLE_API_BASE elsewhere', () => {
    expect(gbpHosts('https://www.googleapis.com')).toEqual({
      accounts: 'https://mybusinessaccountmanagement.googleapis.com',
      information: 'https://mybusinessbusinessinformation.googleapis.com',
      v4: 'https://mybusiness.googleapis.com',
    });
    expect(gbpHosts('http://127.0.0.1:1').v4).toBe('http://127.0.0.1:1');
  });

  it('lists every account and location across pages, with the review link', async () => {
    const accounts = await client.listAccounts(TOKEN);
    expect(accounts.map((a) => a.accountName)).toEqual(['Lakeside Lending', 'Second', 'Third']); // page size 2
    const locations = await client.listLocations(TOKEN, accounts[0]!.name);
    expect(locations).toHaveLength(1);
    expect(locations[0]!.name).toMatch(/^locations\/\d+$/);
    expect(locations[0]!.metadata!.newReviewUri).toMatch(
      /^https:\/\/search\.google\.com\/local\/writereview\?placeid=/,
    );
  });

  it('refuses a missing, unknown or revoked token (401) and a token without business.manage (403)', async () => {
    const bad = createGbpClient(fake.url);
    expect(await failure(bad.listAccounts(''))).toMatchObject({
      status: 401,
      kind: 'auth',
      reason: 'CREDENTIALS_MISSING',
    });
    expect(await failure(bad.listAccounts('nope'))).toMatchObject({ status: 401, kind: 'auth' });
    fake.grant('gmail-only', ['https://www.googleapis.com/auth/gmail.send']);
    expect(await failure(bad.listAccounts('gmail-only'))).toMatchObject({
      status: 403,
      kind: 'scope',
      reason: 'ACCESS_TOKEN_SCOPE_INSUFFICIENT',
    });
    fake.grant('soon-revoked');
    await bad.listAccounts('soon-revoked');
    fake.revoke('soon-revoked');
    expect((await failure(bad.listAccounts('soon-revoked'))).status).toBe(401);
  });

  it('classifies injected failures: 429/5xx transient, 400 permanent with Google’s reason', async () => {
    fake.failNext({ status: 429 });
    expect(await failure(client.listAccounts(TOKEN))).toMatchObject({
      kind: 'transient',
      reason: 'RATE_LIMIT_EXCEEDED',
    });
    fake.failNext({ status: 503 });
    expect(await failure(client.listAccounts(TOKEN))).toMatchObject({ kind: 'transient', reason: 'UNAVAILABLE' });
    fake.failNext({ status: 500 });
    expect(await failure(client.listAccounts(TOKEN))).toMatchObject({ kind: 'transient', reason: 'INTERNAL' });
    const invalid = await failure(
      client.createPost(TOKEN, parent, { topicType: 'STANDARD', summary: 'x'.repeat(1501) }),
    );
    expect(invalid).toMatchObject({ status: 400, kind: 'permanent', reason: 'INVALID_ARGUMENT' });
    expect(invalid.message).toContain('1500');
  });

  it('creates, lists, patches and deletes a local post', async () => {
    const post = await client.createPost(TOKEN, parent, {
      languageCode: 'en-US',
      topicType: 'STANDARD',
      summary: 'Rates moved today',
      callToAction: { actionType: 'LEARN_MORE', url: 'https://lender.example/rates' },
    });
    expect(post.name.startsWith(`${parent}/localPosts/`)).toBe(true);
    expect(post).toMatchObject({ state: 'LIVE', summary: 'Rates moved today' });
    expect((await client.listPosts(TOKEN, parent)).map((p) => p.name)).toContain(post.name);
    const patched = await client.patchPost(TOKEN, post.name, { topicType: 'STANDARD', summary: 'Rates moved again' });
    expect(patched.summary).toBe('Rates moved again');
    await client.deletePost(TOKEN, post.name);
    expect((await failure(client.deletePost(TOKEN, post.name))).status).toBe(404);
  });

  it('a lost answer is a transient "unreachable" error, and the post exists at Google', async () => {
    fake.loseAnswerNextCreate = true;
    const e = await failure(client.createPost(TOKEN, parent, { topicType: 'STANDARD', summary: 'lost answer' }));
    expect(e).toMatchObject({ status: 0, kind: 'transient', reason: 'unreachable' });
    expect(fake.posts.get(parent)!.some((p) => p.summary === 'lost answer')).toBe(true);
  });

  it('lists reviews and sets a reply', async () => {
    const review = fake.addReview(parent, { starRating: 'TWO', comment: 'Slow to call back' });
    const reviews = await client.listReviews(TOKEN, parent);
    expect(reviews.map((r) => r.reviewId)).toContain(review.reviewId);
    const reply = await client.updateReply(TOKEN, review.name, 'Sorry — we will call you today.');
    expect(reply.comment).toBe('Sorry — we will call you today.');
    expect(fake.reviews.get(parent)![0]!.reviewReply!.comment).toBe('Sorry — we will call you today.');
  });

  it('accepts JWT access tokens of a trusted OpenID provider by their scope claim, until revoked', async () => {
    const idp = new OAuth2Server();
    await idp.issuer.keys.generate('RS256');
    await idp.start(0, '127.0.0.1');
    try {
      fake.trustIssuer(idp.issuer.url!);
      const withScope = await idp.issuer.buildToken({ scopesOrTransform: [BUSINESS_MANAGE] });
      const without = await idp.issuer.buildToken({ scopesOrTransform: ['openid'] });
      expect((await client.listAccounts(withScope)).length).toBeGreaterThan(0);
      expect((await failure(client.listAccounts(without))).status).toBe(403);
      fake.revokeAll();
      expect((await failure(client.listAccounts(withScope))).status).toBe(401);
    } finally {
      await idp.stop();
    }
  });
});
