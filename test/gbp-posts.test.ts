// Business Profile posts (migration 0121, docs/ARCHITECTURE.md §26) on the engine under test,
// against the loopback Business Profile fake and a local OpenID provider standing in for Google's
// token endpoint: who writes (owners/admins) and reads (members), another business, scheduling in
// the business's time zone, the person's transitions, and publishing exactly once — a lost answer,
// a crash after the committed mark, two publishers at once, transient and permanent failures,
// a token refresh in the middle of a publish, a revoked grant (no retry storm), edits and deletes
// of a published post, a detached location, and a post that fell due while the server was down.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OAuth2Server } from 'oauth2-mock-server';
import { asOwner } from '../src/db/engine.ts';
import { createGbpAccess } from '../src/gbp/access.ts';
import { createGbpClient } from '../src/gbp/client.ts';
import { createGbpPublisher, type GbpPublisher } from '../src/gbp/publisher.ts';
import type { JobSender } from '../src/jobs/engine.ts';
import {
  gbpPublishHandler,
  gbpPublishQueue,
  gbpSweepHandler,
  SUCCESSOR_DELAY_SECONDS,
  workId,
} from '../src/jobs/gbp-publish.ts';
import { successorId } from '../src/jobs/queue.ts';
import { createGoogleConnection } from '../src/integrations/google/connection.ts';
import { startCapto, type RunningCapto } from '../src/main.ts';
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

const MASTER = Buffer.alloc(32, 11).toString('base64');
const CLIENT_ID = 'capto-gbp-test';
const vault = createVault(parseMasterKey(MASTER));
let idp: OAuth2Server;
let refuseRefresh = false;
let refreshes = 0;
let s: TestServer;
let fake: GoogleBusinessFake;
let publisher: GbpPublisher;
let owner: SignedUpUser, admin: SignedUpUser, member: SignedUpUser, otherAdmin: SignedUpUser;
let bid: string;
let otherBid: string;
let parent: string;

const call = <T = any>(path: string, user: SignedUpUser, options: RequestOptions = {}): Promise<HttpResponse<T>> =>
  request<T>(`${s.url}${path}`, { ...options, token: user.accessToken });
const posts = (b = bid) => `/api/businesses/${b}/google/posts`;
const atGoogle = (summary: string) => fake.posts.get(parent)!.filter((p) => p.summary === summary);

async function attachLocation(businessId: string, user: SignedUpUser, token?: string) {
  const place = fake.addAccountWithLocation({ title: `Office ${randomUUID().slice(0, 4)}` });
  if (token) {
    fake.grant(token);
    await connectGoogleFixture(s.db, vault, {
      businessId,
      actorUserId: user.userId,
      email: 'office@lender.example',
      accessToken: token,
      scopes: ['openid', 'email', BUSINESS_MANAGE],
    });
  }
  const res = await call(`/api/businesses/${businessId}/google/location`, user, {
    method: 'PUT',
    body: { account_name: place.account.name, location_name: place.location.name },
  });
  expect(res.status).toBe(200);
  return place.parent;
}

/** A draft made due now, as the service would find it (no job booked: this server runs none). */
async function duePost(summary: string): Promise<string> {
  const res = await call(posts(), admin, { method: 'POST', body: { summary } });
  expect(res.status).toBe(201);
  await asOwner(s.engine, (c) =>
    c.query(
      `UPDATE app.gbp_posts SET state = 'scheduled', publish_at = now() - interval '1 second',
              location_id = (SELECT id FROM app.gbp_locations WHERE business_id = $1) WHERE id = $2`,
      [bid, res.json.id],
    ),
  );
  return res.json.id as string;
}
/** A job sender that only records what is booked (this server runs no job engine). */
function bookings(): JobSender & { booked: { postId: string; id?: string; startAfter?: Date | number }[] } {
  const booked: { postId: string; id?: string; startAfter?: Date | number }[] = [];
  return {
    booked,
    async send(_queue, payload, options) {
      booked.push({
        postId: (payload as { post_id: string }).post_id,
        id: options?.id,
        startAfter: options?.startAfter,
      });
      return options?.id ?? null;
    },
    async sendMany() {},
  };
}

const stateOf = async (id: string) =>
  (
    await asOwner(s.engine, (c) =>
      c.query<{ state: string; error_code: string | null; error_message: string | null; google_name: string | null }>(
        'SELECT state, error_code, error_message, google_name FROM app.gbp_posts WHERE id = $1',
        [id],
      ),
    )
  ).rows[0];
const outcome = (p: Promise<unknown>) =>
  p.then(
    (v) => v,
    (e: { code?: string }) => `error:${e.code}`,
  );

beforeAll(async () => {
  idp = new OAuth2Server();
  await idp.issuer.keys.generate('RS256');
  await idp.start(0, '127.0.0.1');
  idp.service.on('beforeTokenSigning', (token: { payload: Record<string, unknown> }) => {
    if (token.payload.scope === 'dummy') token.payload.scope = `openid email ${BUSINESS_MANAGE}`;
  });
  idp.service.on(
    'beforeResponse',
    (res: { body: unknown; statusCode: number }, req: { body?: Record<string, string> }) => {
      if (req.body?.grant_type !== 'refresh_token') return;
      refreshes++;
      if (refuseRefresh) {
        res.statusCode = 400;
        res.body = { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' };
      }
    },
  );
  fake = await startGoogleBusinessFake();
  fake.trustIssuer(idp.issuer.url!);
  // No job engine workers here: the tests drive the publisher; the last test restarts with jobs on.
  s = await startTestServer({
    GOOGLE_API_BASE: fake.url,
    GOOGLE_CLIENT_ID: CLIENT_ID,
    GOOGLE_CLIENT_SECRET: 'not-a-real-secret-0123456789',
    GOOGLE_ISSUER: idp.issuer.url!,
    CAPTO_MASTER_KEY: MASTER,
    CAPTO_JOBS: 'off',
  });
  const users = await Promise.all(Array.from({ length: 4 }, () => signUp(s, { verified: true })));
  [owner, admin, member, otherAdmin] = users as [SignedUpUser, SignedUpUser, SignedUpUser, SignedUpUser];
  bid = (await newBusiness(s.engine, owner.userId)).id;
  await addMember(s.engine, bid, admin.userId, 'admin');
  await addMember(s.engine, bid, member.userId, 'member');
  await asOwner(s.engine, (c) =>
    c.query(`UPDATE app.businesses SET time_zone = 'America/Chicago' WHERE id = $1`, [bid]),
  );
  otherBid = (await newBusiness(s.engine, otherAdmin.userId)).id;
  parent = await attachLocation(bid, owner, 'token-a');
  const google = createGoogleConnection({ config: s.config, db: s.db, vault });
  const client = createGbpClient(fake.url);
  publisher = createGbpPublisher({ db: s.db, client, access: createGbpAccess({ db: s.db, google }), leaseSeconds: 30 });
}, 300_000);
afterAll(async () => {
  await s?.stop();
  await fake?.close();
  await idp?.stop();
});

describe(`Business Profile posts: who and when (${ENGINE})`, () => {
  it('members read but cannot write; another business sees nothing; owners and admins draft', async () => {
    expect((await call(posts(), member, { method: 'POST', body: { summary: 'x' } })).status).toBe(403);
    const draft = await call(posts(), admin, { method: 'POST', body: { summary: 'Rates are down this week' } });
    expect(draft.status).toBe(201);
    expect(draft.json).toMatchObject({
      state: 'draft',
      topic_type: 'update',
      created_by: admin.userId,
      time_zone: 'America/Chicago',
    });
    expect((await call(posts(), member)).json.items.map((p: any) => p.id)).toContain(draft.json.id);
    expect(
      (await call(`${posts()}/${draft.json.id}`, member, { method: 'PATCH', body: { summary: 'y' } })).status,
    ).toBe(403);
    expect((await call(`${posts()}/${draft.json.id}`, member, { method: 'DELETE' })).status).toBe(403);
    for (const path of [posts(), `${posts()}/${draft.json.id}`])
      expect((await call(path, otherAdmin)).status).toBe(404);
    expect((await call(`${posts(otherBid)}/${draft.json.id}`, otherAdmin)).status).toBe(404);
    expect(await probe(s.db, otherAdmin.userId, 'SELECT 1 FROM app.gbp_posts')).toEqual({ kind: 'rows', rowCount: 0 });
    // In the database too: a member's write is refused, the delivery columns have no request grant.
    expect(
      await probe(s.db, member.userId, `UPDATE app.gbp_posts SET summary = 'x' WHERE id = $1`, [draft.json.id]),
    ).toEqual({ kind: 'rows', rowCount: 0 });
    expect(
      await probe(s.db, owner.userId, `UPDATE app.gbp_posts SET google_name = 'x' WHERE id = $1`, [draft.json.id]),
    ).toMatchObject({ kind: 'error', code: '42501' });
    expect(
      await probe(s.db, owner.userId, `UPDATE app.gbp_posts SET state = 'published' WHERE id = $1`, [draft.json.id]),
    ).toMatchObject({ kind: 'error', code: 'P0001', hint: 'invalid_transition' });
  });

  it('schedules in the business time zone; validates Google’s limits; a business without a location cannot schedule', async () => {
    const res = await call(posts(), admin, {
      method: 'POST',
      body: {
        topic_type: 'event',
        summary: 'First-time buyer seminar',
        event: { title: 'Seminar', start: '2031-01-15T18:00', end: '2031-01-15T19:30' },
        call_to_action: { type: 'SIGN_UP', url: 'https://lender.example/seminar' },
        action: 'schedule',
        publish_at: '2031-01-10T09:30',
      },
    });
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({
      state: 'scheduled',
      publish_at: '2031-01-10T15:30:00.000Z', // 09:30 in Chicago (CST, UTC−6)
      publish_at_local: '2031-01-10T09:30',
      event: { title: 'Seminar', start: '2031-01-15T18:00', end: '2031-01-15T19:30' },
    });
    const unschedule = await call(`${posts()}/${res.json.id}`, admin, { method: 'PATCH', body: { action: 'draft' } });
    expect(unschedule.json).toMatchObject({ state: 'draft', publish_at: null });
    for (const body of [
      { summary: 'x'.repeat(1501) },
      { summary: 'x', call_to_action: { type: 'LEARN_MORE' } },
      { summary: 'x', image_url: 'http://insecure.example/a.png' },
      { summary: 'x', action: 'schedule' },
      { summary: 'x', topic_type: 'offer' },
    ]) {
      const bad = await call(posts(), admin, { method: 'POST', body });
      expect([400, 409]).toContain(bad.status);
      expect(['validation_failed', 'bad_request']).toContain(bad.json.error.code);
    }
    const none = await call(posts(otherBid), otherAdmin, {
      method: 'POST',
      body: { summary: 'x', action: 'publish_now' },
    });
    expect(none.status).toBe(409);
    expect(none.json.error.code).toBe('gbp_location_required');
  });
});

describe(`Business Profile posts: publishing exactly once (${ENGINE})`, () => {
  it('publishes a due post once; a second run is a no-op', async () => {
    const id = await duePost('Publish me once');
    expect(await publisher.run(bid, id)).toBe('published');
    expect(await publisher.run(bid, id)).toBe('skipped');
    expect(atGoogle('Publish me once')).toHaveLength(1);
    const st = await stateOf(id);
    expect(st).toMatchObject({ state: 'published', error_code: null });
    expect(st!.google_name).toBe(atGoogle('Publish me once')[0]!.name);
  });

  it('two publishers at once (two nodes) publish it once', async () => {
    const id = await duePost('Two nodes, one post');
    const results = await Promise.all([outcome(publisher.run(bid, id)), outcome(publisher.run(bid, id))]);
    expect(results.filter((r) => r === 'published')).toHaveLength(1);
    expect(atGoogle('Two nodes, one post')).toHaveLength(1);
  });

  it('a lost answer is reconciled, not posted twice', async () => {
    const id = await duePost('Answer lost on the way back');
    fake.loseAnswerNextCreate = true;
    expect(await outcome(publisher.run(bid, id))).toBe('error:delivery_deferred');
    expect(await publisher.run(bid, id)).toBe('reconciled');
    expect(atGoogle('Answer lost on the way back')).toHaveLength(1);
    expect((await stateOf(id))!.state).toBe('published');
  });

  it('a crash after the committed mark but before the call is published once after the lease ends', async () => {
    const id = await duePost('Died before calling');
    await asOwner(s.engine, (c) =>
      c.query(
        `UPDATE app.gbp_posts SET state = 'publishing', attempts = 1, committed_at = now(),
                lease_until = now() - interval '1 second' WHERE id = $1`,
        [id],
      ),
    );
    expect(await publisher.run(bid, id)).toBe('published');
    expect(atGoogle('Died before calling')).toHaveLength(1);
  });

  it('a live lease of another attempt defers; 429/5xx defer with the lease released; then published once', async () => {
    const id = await duePost('Transient trouble');
    await asOwner(s.engine, (c) =>
      c.query(`UPDATE app.gbp_posts SET lease_until = now() + interval '30 seconds' WHERE id = $1`, [id]),
    );
    expect(await outcome(publisher.run(bid, id))).toBe('error:delivery_deferred');
    await asOwner(s.engine, (c) => c.query(`UPDATE app.gbp_posts SET lease_until = NULL WHERE id = $1`, [id]));
    fake.failNext({ status: 503, method: 'POST' });
    expect(await outcome(publisher.run(bid, id))).toBe('error:delivery_deferred');
    fake.failNext({ status: 429, method: 'POST' });
    expect(await outcome(publisher.run(bid, id))).toBe('error:delivery_deferred');
    expect(await publisher.run(bid, id)).toBe('published');
    expect(atGoogle('Transient trouble')).toHaveLength(1);
  });

  // A publish job that exhausts its retries must not leave the post `publishing` forever.
  it('the job’s last retry failing ends the post failed with the last reason; the person retries', async () => {
    const id = await duePost('Google down all day');
    const jobs = bookings();
    const handler = gbpPublishHandler(publisher, jobs);
    const retryLimit = gbpPublishQueue.policy.retryLimit!;
    const attempt = (retryCount: number) =>
      outcome(
        handler(
          { business_id: bid, post_id: id },
          { id: randomUUID(), retryCount, retryLimit, signal: new AbortController().signal },
        ),
      );
    fake.failNext({ status: 503, method: 'POST', message: 'The service is currently unavailable.' }, 2);
    expect(await attempt(retryLimit - 1)).toBe('error:delivery_deferred'); // a retry follows
    expect(await stateOf(id)).toMatchObject({ state: 'publishing', error_code: null });
    expect(jobs.booked).toEqual([]); // only a last attempt books a successor
    expect(await attempt(retryLimit)).toBeUndefined(); // the last one: the job ends, the post fails
    expect(jobs.booked).toHaveLength(1);
    const failed = await stateOf(id);
    expect(failed).toMatchObject({ state: 'failed', error_code: 'google_unavailable', google_name: null });
    expect(failed!.error_message).toMatch(/The service is currently unavailable\.$/);
    const shown = await call(`${posts()}/${id}`, member);
    expect(shown.json).toMatchObject({ state: 'failed', error_code: 'google_unavailable' });
    expect(atGoogle('Google down all day')).toHaveLength(0);
    // The person tries again: scheduled anew, published once.
    const again = await call(`${posts()}/${id}`, admin, { method: 'PATCH', body: { action: 'publish_now' } });
    expect(again.json.state).toBe('scheduled');
    expect(await publisher.run(bid, id)).toBe('published');
    expect(atGoogle('Google down all day')).toHaveLength(1);
    expect((await stateOf(id))!.error_code).toBeNull();
  });

  // A node dying during a job's last attempt: the job's claim expires with no retry left, so
  // pg-boss fails it for good and keeps its id, and the post stays `publishing`. The sweep books
  // the post's work under that same id (ignored while the failed job is kept), so the last
  // attempt books a successor first, due after the claim has certainly expired.
  it('a node dying during the last attempt: its successor job publishes the post once', async () => {
    const id = await duePost('Node died on the last try');
    const updatedAt = (
      await asOwner(s.engine, (c) =>
        c.query<{ updated_at: Date }>('SELECT updated_at FROM app.gbp_posts WHERE id = $1', [id]),
      )
    ).rows[0]!.updated_at;
    const first = workId(id, 'scheduled', updatedAt); // the job the nudge booked
    const sweep = bookings();
    const sweepJob = { id: randomUUID(), retryCount: 0, retryLimit: 1, signal: new AbortController().signal };
    await gbpSweepHandler(s.db, sweep)({}, sweepJob);
    expect(sweep.booked.filter((b) => b.postId === id).map((b) => b.id)).toEqual([first]);

    // The job's last attempt: it books its successor, claims the post, calls Google — and the
    // node dies before it records the answer (the publisher here stands in for the dead node).
    const jobs = bookings();
    const dying = {
      async run(...args: Parameters<GbpPublisher['run']>) {
        fake.loseAnswerNextCreate = true;
        await publisher.run(args[0], args[1]).catch(() => undefined);
        throw new Error('the node died');
      },
    } as GbpPublisher;
    const retryLimit = gbpPublishQueue.policy.retryLimit!;
    await expect(
      gbpPublishHandler(dying, jobs)(
        { business_id: bid, post_id: id },
        { id: first, retryCount: retryLimit, retryLimit, signal: new AbortController().signal },
      ),
    ).rejects.toThrow('the node died');
    expect(await stateOf(id)).toMatchObject({ state: 'publishing' });
    // The sweep still books the spent id; the successor has a new one, due after the claim.
    sweep.booked.length = 0;
    await gbpSweepHandler(s.db, sweep)({}, sweepJob);
    expect(sweep.booked.filter((b) => b.postId === id).map((b) => b.id)).toEqual([first]);
    expect(jobs.booked).toEqual([{ postId: id, id: successorId(first), startAfter: SUCCESSOR_DELAY_SECONDS }]);
    expect(successorId(first)).not.toBe(first);
    expect(SUCCESSOR_DELAY_SECONDS).toBeGreaterThan(gbpPublishQueue.policy.expireInSeconds!);
    // The successor's first attempt finds the post at Google and adopts it: published once.
    await gbpPublishHandler(publisher, bookings())(
      { business_id: bid, post_id: id },
      { id: successorId(first), retryCount: 0, retryLimit, signal: new AbortController().signal },
    );
    expect(atGoogle('Node died on the last try')).toHaveLength(1);
    expect((await stateOf(id))!.state).toBe('published');
  });

  it('a permanent refusal fails the post with Google’s reason; the person can fix and reschedule', async () => {
    const id = await duePost('Refused by Google');
    fake.failNext({
      status: 400,
      method: 'POST',
      reason: 'INVALID_ARGUMENT',
      message: 'summary contains a phone number',
    });
    expect(await publisher.run(bid, id)).toBe('failed');
    expect(await stateOf(id)).toMatchObject({
      state: 'failed',
      error_code: 'google_invalid_argument',
      error_message: 'summary contains a phone number',
    });
    const again = await call(`${posts()}/${id}`, admin, {
      method: 'PATCH',
      body: { summary: 'Refused by Google, fixed', action: 'publish_now' },
    });
    expect(again.json.state).toBe('scheduled');
    expect(await publisher.run(bid, id)).toBe('published');
    expect((await stateOf(id))!.error_code).toBeNull();
  });

  it('a token Google stopped accepting is refreshed in the middle of a publish', async () => {
    const id = await duePost('Needs a fresh token');
    fake.revoke('token-a'); // the stored access token is now refused (401)
    const before = refreshes;
    expect(await publisher.run(bid, id)).toBe('published');
    expect(refreshes).toBe(before + 1);
    const create = fake.requests.filter((r) => r.method === 'POST').at(-1)!;
    expect(create.token).not.toBe('token-a'); // the refreshed JWT of the provider
    expect(atGoogle('Needs a fresh token')).toHaveLength(1);
  });

  it('edits and deletes of a published post reach Google through the job', async () => {
    const id = await duePost('Open house Saturday');
    await publisher.run(bid, id);
    const edit = await call(`${posts()}/${id}`, admin, { method: 'PATCH', body: { summary: 'Open house Sunday' } });
    expect(edit.json.state).toBe('updating');
    expect(await publisher.run(bid, id)).toBe('updated');
    expect(atGoogle('Open house Sunday')).toHaveLength(1);
    expect((await stateOf(id))!.state).toBe('published');
    expect((await call(`${posts()}/${id}`, admin, { method: 'PATCH', body: { action: 'draft' } })).status).toBe(409);
    const del = await call(`${posts()}/${id}`, admin, { method: 'DELETE' });
    expect(del.status).toBe(202);
    expect(del.json.state).toBe('deleting');
    expect(await publisher.run(bid, id)).toBe('deleted');
    expect(atGoogle('Open house Sunday')).toHaveLength(0);
    expect((await call(`${posts()}/${id}`, admin)).status).toBe(404);
  });

  it('a revoked grant fails the post clearly, marks the location, and later posts never call Google', async () => {
    const first = await duePost('After revocation 1');
    const second = await duePost('After revocation 2');
    fake.revokeAll();
    refuseRefresh = true;
    try {
      const before = refreshes;
      expect(await publisher.run(bid, first)).toBe('failed');
      expect(refreshes).toBe(before + 1); // one refresh attempt, refused
      expect(await stateOf(first)).toMatchObject({ state: 'failed', error_code: 'google_reauth_required' });
      expect((await call(`/api/businesses/${bid}/google/location`, member)).json.location.status).toBe(
        'needs_reconnect',
      );
      const requests = fake.requests.length;
      expect(await publisher.run(bid, second)).toBe('failed');
      expect(fake.requests.length).toBe(requests); // no call to Google
      expect(refreshes).toBe(before + 1); // and no refresh either
      expect(await stateOf(second)).toMatchObject({ state: 'failed', error_code: 'google_reauth_required' });
    } finally {
      refuseRefresh = false;
    }
  });

  it('detaching the location cancels its scheduled posts', async () => {
    const res = await call(posts(), admin, {
      method: 'POST',
      body: { summary: 'Scheduled then detached', action: 'schedule', publish_at: '2031-03-01T10:00' },
    });
    expect(res.json.state).toBe('scheduled');
    expect((await call(`/api/businesses/${bid}/google/location`, owner, { method: 'DELETE' })).status).toBe(204);
    expect(await stateOf(res.json.id)).toMatchObject({ state: 'cancelled', error_code: 'location_detached' });
  });
});

describe(`Business Profile posts: a post due while the server was down (${ENGINE})`, () => {
  it('is published once when a node starts', async () => {
    // A fresh location (the previous one was detached), a post due in two seconds, then the
    // server stops before it is due and starts again (with its job engine) after.
    // Tokens issued in the second of the revocation count as revoked (JWT iat is in seconds).
    await new Promise((r) => setTimeout(r, 1100));
    parent = await attachLocation(bid, owner);
    const res = await call(posts(), admin, {
      method: 'POST',
      body: {
        summary: 'Due during the outage',
        action: 'schedule',
        publish_at: new Date(Date.now() + 2000).toISOString(),
      },
    });
    expect(res.status).toBe(201);
    await s.close();
    await new Promise((r) => setTimeout(r, 2500));
    expect(atGoogle('Due during the outage')).toHaveLength(0);
    let restarted: RunningCapto | undefined;
    try {
      restarted = await startCapto({ ...s.config, jobs: { ...s.config.jobs, enabled: true, pollSeconds: 0.5 } });
      const deadline = Date.now() + 60_000;
      while (atGoogle('Due during the outage').length === 0 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 250));
      await new Promise((r) => setTimeout(r, 1500)); // room for a duplicate to show up
      expect(atGoogle('Due during the outage')).toHaveLength(1);
      const st = await asOwner(restarted.engine, (c) =>
        c.query<{ state: string }>('SELECT state FROM app.gbp_posts WHERE id = $1', [res.json.id]),
      );
      expect(st.rows[0]!.state).toBe('published');
    } finally {
      await restarted?.close();
    }
  }, 120_000);
});
