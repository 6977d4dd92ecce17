// No mail floods through invitations: budgets per inviter, per business and per invited
// address, a 429 with retry_after (nothing created, nothing mailed), the refusal recorded
// as the inviter's rate_limited event, a member's 403 costing no budget, and the counters
// shared by two app nodes through Redis. Before these limits one account could mail one
// address 30 invitations in seconds, with a subject carrying a name it chose.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asOwner } from '../src/db/engine.ts';
import { freshEmail, signUp, type SignedUpUser } from './support/auth.ts';
import { ENGINE } from './support/engine.ts';
import { request, type HttpResponse } from './support/http.ts';
import { readOutbox } from './support/outbox.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { createBusinessHttp, httpWorkspace } from './support/workspace.ts';

// A Redis database of this file's own: other files clear theirs between tests.
const REDIS_URL = 'redis://127.0.0.1:6379/12';
const WINDOW_S = 600;
// One master key and one public URL (the tokens' issuer) for both nodes, as in a cluster.
const SHARED = {
  REDIS_URL,
  CAPTO_MASTER_KEY: randomBytes(32).toString('base64'),
  CAPTO_PUBLIC_URL: 'https://capto.example.test',
  CAPTO_SCAN_ON_START: 'off',
  CAPTO_INVITE_RATE_WINDOW: String(WINDOW_S),
  CAPTO_INVITE_RATE_INVITER: '4',
  CAPTO_INVITE_RATE_BUSINESS: '6',
  CAPTO_INVITE_RATE_RECIPIENT: '2',
};

let a: TestServer;
let b: TestServer;
let redis: Redis;
/** Behind a balancer `url` is the public one; tests talk to each node directly. */
const direct = (n: TestServer): TestServer => Object.assign(n, { url: `https://127.0.0.1:${n.port}` });

beforeAll(async () => {
  redis = new Redis(REDIS_URL);
  a = direct(await startTestServer(SHARED));
  // A second node: on server PostgreSQL it shares the first one's database; an embedded
  // data dir serves one process, so there it is a second installation sharing only Redis
  // and the master key — the per-address budget is shared all the same.
  b = direct(await startTestServer(ENGINE === 'server' ? { ...SHARED, DATABASE_URL: a.config.databaseUrl! } : SHARED));
}, 240_000);
afterAll(async () => {
  await b?.stop();
  await a?.stop();
  redis?.disconnect();
});

const invite = (n: TestServer, by: SignedUpUser, bid: string, email: string, role = 'member') =>
  request(`${n.url}/api/businesses/${bid}/invitations`, { token: by.accessToken, body: { email, role } });

function expectLimited(res: HttpResponse<any>, limit: 'inviter' | 'business' | 'recipient') {
  expect([res.status, res.json.error.code, res.json.error.limit]).toEqual([429, 'rate_limited', limit]);
  const retry = res.json.error.retry_after as number;
  expect(Number.isInteger(retry)).toBe(true);
  expect(retry).toBeGreaterThanOrEqual(1);
  expect(retry).toBeLessThanOrEqual(WINDOW_S);
  expect(res.headers['retry-after']).toBe(String(retry));
}

const mailsTo = (n: TestServer, email: string) => readOutbox(n.config.dataDir).filter((m) => m.to === email);
const invitationsTo = async (n: TestServer, email: string) =>
  (
    await asOwner(n.engine, (c) =>
      c.query<{ n: number }>('SELECT count(*)::int AS n FROM app.invitations WHERE email = $1', [email]),
    )
  ).rows[0]!.n;

async function ownerOfNewBusiness(n: TestServer) {
  const owner = await signUp(n, { verified: true });
  return { owner, bid: await createBusinessHttp(n, owner, `Limits ${owner.userId.slice(0, 6)}`) };
}

describe('invitation limits', () => {
  it('per inviter: the fifth invitation of one account is refused; another admin of the business still invites', async () => {
    const ws = await httpWorkspace(a, 'Inviter'); // the owner has invited the admin and the member: 2
    for (let i = 0; i < 2; i++) expect((await invite(a, ws.owner, ws.businessId, freshEmail('team'))).status).toBe(201);
    const refused = freshEmail('refused');
    const res = await invite(a, ws.owner, ws.businessId, refused);
    expectLimited(res, 'inviter');
    // Nothing created, nothing mailed.
    expect(await invitationsTo(a, refused)).toBe(0);
    expect(mailsTo(a, refused)).toEqual([]);
    // The budget is the inviter's: the admin of the same business is not refused.
    expect((await invite(a, ws.admin, ws.businessId, freshEmail('team'))).status).toBe(201);
    // The refusal is recorded as the inviter's own event (she can read it), without the address.
    const events = await request(`${a.url}/auth/events`, { token: ws.owner.accessToken });
    const limited = (events.json.events as Array<{ type: string; details: Record<string, unknown> }>).filter(
      (e) => e.type === 'rate_limited',
    );
    expect(limited).toHaveLength(1);
    expect(limited[0]!.details).toEqual({ action: 'invite', limit: 'inviter', business_id: ws.businessId });
    expect(JSON.stringify(events.json)).not.toContain(refused);
  });

  it('per business: its admins together are refused past the business budget; another business is not', async () => {
    const ws = await httpWorkspace(a, 'Business'); // business: 2
    for (const by of [ws.owner, ws.owner, ws.admin, ws.admin])
      expect((await invite(a, by, ws.businessId, freshEmail('team'))).status).toBe(201);
    const res = await invite(a, ws.admin, ws.businessId, freshEmail('refused')); // the admin's third
    expectLimited(res, 'business');
    const recorded = await asOwner(a.engine, (c) =>
      c.query<{ details: Record<string, unknown> }>(
        `SELECT details FROM auth.audit_events WHERE type = 'rate_limited' AND user_id = $1`,
        [ws.admin.userId],
      ),
    );
    expect(recorded.rows.map((r) => r.details)).toEqual([
      { action: 'invite', limit: 'business', business_id: ws.businessId },
    ]);
    const other = await ownerOfNewBusiness(a);
    expect((await invite(a, other.owner, other.bid, freshEmail('team'))).status).toBe(201);
  });

  it('per address: invitations to one address from different businesses stop at its budget', async () => {
    const target = freshEmail('target');
    const [one, two, three] = [await ownerOfNewBusiness(a), await ownerOfNewBusiness(a), await ownerOfNewBusiness(a)];
    expect((await invite(a, one.owner, one.bid, target)).status).toBe(201);
    expect((await invite(a, two.owner, two.bid, target.toUpperCase())).status).toBe(201);
    expectLimited(await invite(a, three.owner, three.bid, target), 'recipient');
    expect(mailsTo(a, target)).toHaveLength(2);
    expect(await invitationsTo(a, target)).toBe(2);
    // The third owner may still invite someone else.
    expect((await invite(a, three.owner, three.bid, freshEmail('team'))).status).toBe(201);
  });

  it('a member who may not invite gets 403, never 429, and spends no budget', async () => {
    const ws = await httpWorkspace(a, 'Member');
    const target = freshEmail('target');
    for (let i = 0; i < 5; i++) {
      const res = await invite(a, ws.member, ws.businessId, target);
      expect([res.status, res.json.error.code]).toEqual([403, 'forbidden']);
    }
    // The address's budget (2) is whole: the owner invites it, and re-invites it.
    expect((await invite(a, ws.owner, ws.businessId, target)).status).toBe(201);
    expect((await invite(a, ws.owner, ws.businessId, target)).status).toBe(201);
    expect(mailsTo(a, target)).toHaveLength(2);
    // An address that is already a member is a 409 that costs nothing either.
    for (let i = 0; i < 3; i++)
      expect((await invite(a, ws.admin, ws.businessId, ws.member.email)).json.error.code).toBe('conflict');
    expect((await invite(a, ws.admin, ws.businessId, freshEmail('team'))).status).toBe(201);
  });

  it('the counters live in Redis under hashed keys, and two nodes share them', async () => {
    const target = freshEmail('shared');
    const onA = await ownerOfNewBusiness(a);
    const onB = await ownerOfNewBusiness(b);
    expect((await invite(a, onA.owner, onA.bid, target)).status).toBe(201);
    expect((await invite(b, onB.owner, onB.bid, target)).status).toBe(201);
    // Node b has seen one invitation to this address, node a the other: the third is refused.
    expectLimited(await invite(b, onB.owner, onB.bid, target), 'recipient');

    const keys = await redis.keys('capto-rl:invite.*');
    for (const scope of ['inviter', 'business', 'recipient'])
      expect(keys.some((k) => new RegExp(`^capto-rl:invite\\.${scope}:[0-9a-f]{32}$`).test(k))).toBe(true);
    for (const k of keys) {
      expect(k).not.toContain('@');
      expect(k).not.toContain(target.split('@')[0]!);
      expect(k).not.toContain('undefined');
    }
  });

  it.skipIf(ENGINE !== 'server')('one inviter spread over two nodes has one budget', async () => {
    const { owner, bid } = await ownerOfNewBusiness(a);
    for (const n of [a, b, a, b]) expect((await invite(n, owner, bid, freshEmail('team'))).status).toBe(201);
    expectLimited(await invite(b, owner, bid, freshEmail('refused')), 'inviter');
  });

  it('the API description lists the 429 of the invitation and forgot-password operations', async () => {
    const doc = (await a.app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
    };
    expect(Object.keys(doc.paths['/api/businesses/{bid}/invitations']!.post!.responses)).toContain('429');
    expect(Object.keys(doc.paths['/auth/password/forgot']!.post!.responses)).toContain('429');
  });
});
