// The campaign send path under faults (docs/ARCHITECTURE.md §21 "Campaigns: exactly once"):
// the drain of this file is the only one (the server's is off), built on a database whose
// failures the test decides. A send that fails on our side before the provider was reached
// — the sender could not be read, the point of no return could not be recorded — is queued
// again at once, not left `sending` until its lease ends, and does not use up one of the
// recipient's attempts; every recipient still gets exactly one message.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asOwner } from '../src/db/engine.ts';
import { createEmailDelivery } from '../src/integrations/email/deliver.ts';
import { createTwilioClient } from '../src/integrations/twilio/client.ts';
import { createCampaignDispatcher, emailInFlightLimit } from '../src/outreach/dispatcher.ts';
import { createUnsubscribeTokens } from '../src/outreach/unsubscribe.ts';
import { AppError } from '../src/shared/errors.ts';
import { parseMasterKey } from '../src/vault/master-key.ts';
import { createVault } from '../src/vault/secrets.ts';
import { startSmtpFake, type SmtpFake } from './fakes/smtp.ts';
import { signUp, type SignedUpUser } from './support/auth.ts';
import { newBusiness } from './support/factories.ts';
import { request } from './support/http.ts';
import { seedAudience, waitForCampaign } from './support/outreach.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const MASTER = Buffer.alloc(32, 17).toString('base64');
let s: TestServer;
let smtp: SmtpFake;
let owner: SignedUpUser;
let bid: string;
let templateId: string;

const call = (method: string, path: string, body?: unknown) =>
  request<any>(`${s.url}/api/businesses/${bid}${path}`, { method, token: owner.accessToken, body });

beforeAll(async () => {
  smtp = await startSmtpFake({ parse: false });
  // This node starts campaigns; the tests drain them with dispatchers of their own.
  s = await startTestServer({
    CAPTO_MASTER_KEY: MASTER,
    CAPTO_SCAN_ON_START: 'off',
    CAPTO_ALLOW_PRIVATE_HOSTS: 'on',
    CAPTO_CAMPAIGNS: 'off',
  });
  owner = await signUp(s, { verified: true });
  bid = (await newBusiness(s.engine, owner.userId, 'Send Path Lending')).id;
  expect((await call('PATCH', '', { postal_address: '9 Send St, Springfield' })).status).toBe(200);
  const sender = await call('POST', '/integrations/email', {
    kind: 'smtp',
    host: '127.0.0.1',
    port: smtp.port,
    security: 'none',
    username: smtp.username,
    password: smtp.password,
    from_email: 'news@sendpath.example',
    from_name: 'Send Path Lending',
  });
  expect(sender.status).toBe(201);
  const t = await call('POST', '/templates', {
    name: 'Send path',
    channel: 'email',
    subject: 'Hi {{ contact.first_name }}',
    body: 'Hello {{ contact.first_name }}',
  });
  expect(t.status).toBe(201);
  templateId = t.json.id;
}, 120_000);
afterAll(async () => {
  await s?.stop();
  await smtp?.close();
});

async function startCampaign(n: number, tag: string): Promise<string> {
  const { listId } = await seedAudience(s.engine, bid, owner.userId, n, tag);
  const c = await call('POST', '/campaigns', { name: tag, channel: 'email', list_id: listId, template_id: templateId });
  expect(c.status).toBe(201);
  expect((await call('POST', `/campaigns/${c.json.id}/start`)).status).toBe(200);
  return c.json.id as string;
}

/** The test server's database, with the first `failures[reason]` transactions of a reason refused. */
function faultyDb(failures: Record<string, number>) {
  const db = s.db;
  const wrapped: typeof db = {
    ...db,
    asService: (reason, fn) => {
      if ((failures[reason] ?? 0) > 0) {
        failures[reason]!--;
        return Promise.reject(new AppError('database_unavailable', 'the database is unavailable; try again shortly'));
      }
      return db.asService(reason, fn);
    },
  };
  return wrapped;
}

function dispatcher(db: typeof s.db, over: { leaseSeconds?: number; concurrency?: number } = {}) {
  const vault = createVault(parseMasterKey(MASTER));
  return createCampaignDispatcher({
    db,
    vault,
    email: createEmailDelivery({
      db,
      vault,
      googleApiBase: 'http://127.0.0.1:9',
      smtpPolicy: { allowPrivateHosts: true },
      messageIdDomain: 'sendpath.test',
    }),
    twilio: createTwilioClient('http://127.0.0.1:9'),
    tokens: createUnsubscribeTokens(parseMasterKey(MASTER)),
    logger: s.app.log as never,
    publicUrl: s.url,
    throttle: false,
    smsWindow: null,
    pollMs: 50,
    leaseSeconds: over.leaseSeconds ?? 120,
    concurrency: over.concurrency ?? 4,
    nodeId: 'send-path',
  });
}

async function receivedFor(campaignId: string): Promise<string[]> {
  const r = await asOwner(s.engine, (q) =>
    q.query<{ address: string }>('SELECT address FROM app.campaign_recipients WHERE campaign_id = $1', [campaignId]),
  );
  const ours = new Set(r.rows.map((x) => x.address));
  return smtp.received.flatMap((m) => m.envelopeTo).filter((to) => ours.has(to));
}

describe('a send that fails on our side before the provider', () => {
  it('the sender could not be read, or a mark could not be recorded: queued again at once, each recipient sent once', async () => {
    // Seen in the bench under load: the first batches' sends each read the sender, the pool
    // timed out, and those rows stayed `sending` until their lease (600 s there) ended.
    const id = await startCampaign(60, 'faults');
    const drain = dispatcher(faultyDb({ 'email.deliver.sender': 1, 'outbox.mark': 2 }));
    const t0 = Date.now();
    drain.start();
    try {
      // The lease is 120 s: a row left claimed would hold the campaign open far past this.
      const done = await waitForCampaign(
        `${s.url}/api/businesses/${bid}/campaigns/${id}`,
        owner.accessToken,
        undefined,
        30_000,
      );
      expect(done.counts).toMatchObject({ total: 60, sent: 60, failed: 0, skipped: 0 });
    } finally {
      await drain.stop();
    }
    expect(Date.now() - t0).toBeLessThan(30_000);
    const got = await receivedFor(id);
    expect(got).toHaveLength(60);
    expect(new Set(got).size).toBe(60);
    const rows = await asOwner(s.engine, (q) =>
      q.query<{ attempts: number; outbox_attempts: number; state: string }>(
        `SELECT r.attempts, o.attempts AS outbox_attempts, o.state FROM app.campaign_recipients r
           JOIN app.outbox o ON o.id = r.id WHERE r.campaign_id = $1`,
        [id],
      ),
    );
    expect(rows.rows.every((r) => r.state === 'sent')).toBe(true);
    // Some rows were claimed twice (their first send failed on our side)…
    expect(rows.rows.some((r) => r.outbox_attempts > 1)).toBe(true);
    // …without using up any recipient's attempts.
    expect(rows.rows.every((r) => r.attempts === 1)).toBe(true);
  }, 90_000);
});

describe('claims bounded by what the SMTP connections can send within the lease', () => {
  it('the limit: 8 connections × 4 queued, fewer when the lease is short', () => {
    expect(emailInFlightLimit(120, 40_000)).toBe(32);
    expect(emailInFlightLimit(6, 2_000)).toBe(32);
    expect(emailInFlightLimit(2, 1_000)).toBe(16);
    expect(emailInFlightLimit(1, 1_000)).toBe(8);
  });

  it('8 workers × batches of 25 never hold more than that many rows claimed; every recipient sent once', async () => {
    // Before: every worker claimed its 25 at once — 200 rows queued behind 8 connections, and
    // with a short lease their marks were refused once they had waited past lease − call timeout.
    const id = await startCampaign(240, 'bounded');
    const drain = dispatcher(s.db, { concurrency: 8, leaseSeconds: 120 });
    let peak = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const r = await asOwner(s.engine, (q) =>
          q.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM app.outbox WHERE campaign_id = $1 AND state = 'sending'`,
            [id],
          ),
        );
        peak = Math.max(peak, r.rows[0]!.n);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    drain.start();
    try {
      const done = await waitForCampaign(
        `${s.url}/api/businesses/${bid}/campaigns/${id}`,
        owner.accessToken,
        undefined,
        120_000,
      );
      expect(done.counts).toMatchObject({ total: 240, sent: 240, failed: 0 });
    } finally {
      sampling = false;
      await sampler;
      await drain.stop();
    }
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(emailInFlightLimit(120, 40_000));
    const got = await receivedFor(id);
    expect(got).toHaveLength(240);
    expect(new Set(got).size).toBe(240);
  }, 180_000);
});
