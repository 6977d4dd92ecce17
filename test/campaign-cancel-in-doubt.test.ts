// A cancelled campaign's rows caught in flight (docs/ARCHITECTURE.md §21 "Campaigns",
// "Exactly once"): a node died while sending, then an admin cancelled the campaign. The
// drain never claims rows of a cancelled campaign, so its housekeeping settles them:
// queued rows, and rows whose dead attempt never reached its point of no return
// (`committed_at` NULL), are skipped "campaign cancelled"; a row past its point of no return
// may be at the provider — it ends failed "outcome unknown", never resent and never left
// `sending` for ever; a row whose attempt still holds its lease is left to that attempt.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asOwner } from '../src/db/engine.ts';
import { createEmailDelivery } from '../src/integrations/email/deliver.ts';
import { createTwilioClient } from '../src/integrations/twilio/client.ts';
import { createCampaignDispatcher } from '../src/outreach/dispatcher.ts';
import { createUnsubscribeTokens } from '../src/outreach/unsubscribe.ts';
import { parseMasterKey } from '../src/vault/master-key.ts';
import { createVault } from '../src/vault/secrets.ts';
import { startSmtpFake, type SmtpFake } from './fakes/smtp.ts';
import { signUp, type SignedUpUser } from './support/auth.ts';
import { newBusiness } from './support/factories.ts';
import { request } from './support/http.ts';
import { seedAudience } from './support/outreach.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const MASTER = Buffer.alloc(32, 13).toString('base64');
let s: TestServer;
let smtp: SmtpFake;
let owner: SignedUpUser;
let bid: string;

const call = (method: string, path: string, body?: unknown) =>
  request<any>(`${s.url}/api/businesses/${bid}${path}`, { method, token: owner.accessToken, body });

beforeAll(async () => {
  smtp = await startSmtpFake();
  // This node starts campaigns but never drains them: the test runs the drain's housekeeping itself.
  s = await startTestServer({
    CAPTO_MASTER_KEY: MASTER,
    CAPTO_SCAN_ON_START: 'off',
    CAPTO_ALLOW_PRIVATE_HOSTS: 'on',
    CAPTO_CAMPAIGNS: 'off',
  });
  owner = await signUp(s, { verified: true });
  bid = (await newBusiness(s.engine, owner.userId, 'Cancel Lending')).id;
  expect((await call('PATCH', '', { postal_address: '5 Cancel Ave, Springfield' })).status).toBe(200);
  const sender = await call('POST', '/integrations/email', {
    kind: 'smtp',
    host: '127.0.0.1',
    port: smtp.port,
    security: 'none',
    username: smtp.username,
    password: smtp.password,
    from_email: 'news@cancel.example',
    from_name: 'Cancel Lending',
  });
  expect(sender.status).toBe(201);
}, 120_000);
afterAll(async () => {
  await s?.stop();
  await smtp?.close();
});

describe('cancelling a campaign whose node died mid-send', () => {
  it('in-doubt rows end failed "outcome unknown", unsent ones skipped, a live attempt is left alone', async () => {
    const { listId } = await seedAudience(s.engine, bid, owner.userId, 5, 'cancel');
    const t = await call('POST', '/templates', {
      name: 'Cancel',
      channel: 'email',
      subject: 'Hi {{ contact.first_name }}',
      body: 'Hello {{ contact.first_name }}',
    });
    const c = await call('POST', '/campaigns', {
      name: 'Cancel',
      channel: 'email',
      list_id: listId,
      template_id: t.json.id,
    });
    expect(c.status).toBe(201);
    const id = c.json.id as string;
    expect((await call('POST', `/campaigns/${id}/start`)).status).toBe(200);

    // What a node killed mid-batch leaves: rows `sending` under its lapsed lease, one of them past
    // its point of no return; and another node's attempt still in flight (lease not over).
    const rows = await asOwner(s.engine, (q) =>
      q.query<{ id: string; address: string }>(
        `SELECT id, address FROM app.campaign_recipients WHERE campaign_id = $1 ORDER BY address`,
        [id],
      ),
    );
    expect(rows.rows).toHaveLength(5);
    const [inDoubt, unsent, live, queuedA, queuedB] = rows.rows.map((r) => r.id) as [
      string,
      string,
      string,
      string,
      string,
    ];
    await asOwner(s.engine, async (q) => {
      const claim = (rowId: string, lease: string, committed: string | null) =>
        q.query(
          `UPDATE app.outbox SET state = 'sending', attempts = 1, first_attempt_at = now() - interval '10 seconds',
                  lease_until = now() + $2::interval, committed_at = now() + $3::interval
            WHERE id = $1`,
          [rowId, lease, committed],
        );
      await claim(inDoubt, '-1 second', '-5 seconds');
      await claim(unsent, '-1 second', null);
      await claim(live, '10 minutes', '-1 second');
      await q.query(
        `UPDATE app.campaign_recipients SET status = 'sending', claimed_by = 'dead-node', claimed_at = now(), attempts = 1
          WHERE id = ANY ($1::uuid[])`,
        [[inDoubt, unsent, live]],
      );
    });
    expect((await call('POST', `/campaigns/${id}/cancel`)).status).toBe(200);

    const vault = createVault(parseMasterKey(MASTER));
    const drain = createCampaignDispatcher({
      db: s.db,
      vault,
      email: createEmailDelivery({
        db: s.db,
        vault,
        googleApiBase: 'http://127.0.0.1:9',
        smtpPolicy: { allowPrivateHosts: true },
        messageIdDomain: 'cancel.test',
      }),
      twilio: createTwilioClient('http://127.0.0.1:9'),
      tokens: createUnsubscribeTokens(parseMasterKey(MASTER)),
      logger: s.app.log as never,
      publicUrl: s.url,
      throttle: false,
      smsWindow: null,
      pollMs: 50,
      leaseSeconds: 60,
      concurrency: 2,
      nodeId: 'survivor',
    });
    await drain.tick();
    await drain.tick(); // a second pass changes nothing
    await drain.stop();

    const after = await asOwner(s.engine, (q) =>
      q.query<{ id: string; status: string; reason: string | null; state: string; error_code: string | null }>(
        `SELECT r.id, r.status, r.reason, o.state, o.error_code
           FROM app.campaign_recipients r JOIN app.outbox o ON o.id = r.id WHERE r.campaign_id = $1`,
        [id],
      ),
    );
    const of = (rowId: string) => after.rows.find((r) => r.id === rowId)!;
    expect(of(inDoubt)).toMatchObject({ status: 'failed', state: 'failed', error_code: 'outcome_unknown' });
    expect(of(inDoubt).reason).toMatch(/^outcome unknown: .*cancelled.*not resent$/);
    for (const rowId of [unsent, queuedA, queuedB])
      expect(of(rowId)).toMatchObject({
        status: 'skipped',
        reason: 'campaign cancelled',
        state: 'failed',
        error_code: 'campaign_cancelled',
      });
    // Still owned by an attempt in flight on another node: that attempt records its own outcome.
    expect(of(live)).toMatchObject({ status: 'sending', state: 'sending', error_code: null });
    expect(smtp.received).toHaveLength(0);

    const campaign = await call('GET', `/campaigns/${id}`);
    expect(campaign.json.status).toBe('cancelled');
    expect(campaign.json.counts).toMatchObject({ total: 5, queued: 1, sent: 0, failed: 1, skipped: 3 }); // queued counts the live `sending` one;
  });
});
