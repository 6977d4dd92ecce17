// The crash test (docs/ARCHITECTURE.md §21 "Campaigns: exactly once"): an email campaign
// and an SMS campaign of CAPTO_CRASH_RECIPIENTS recipients each (default 300 to keep the
// normal run short; the recorded run used 2000) are drained by a real `capto start`
// process that is killed with SIGKILL five times at random moments and restarted. At the
// fakes (a real SMTP server, the Twilio fake) no address receives a campaign twice and no
// excluded address receives anything; every eligible recipient either received exactly
// one message or is reported failed with "outcome unknown" (its send was in flight when
// the process died) — never skipped silently, never left queued.
//
// Server PostgreSQL only: an embedded data dir belongs to one process at a time, so a
// second process (this test's setup node) cannot share it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asOwner } from '../src/db/engine.ts';
import { sharedFakeHibp } from './fakes/hibp.ts';
import { startSmtpFake, type SmtpFake } from './fakes/smtp.ts';
import { startTwilioFake, type TwilioFake } from './fakes/twilio.ts';
import { signUp, type SignedUpUser } from './support/auth.ts';
import { ENGINE } from './support/engine.ts';
import { newBusiness } from './support/factories.ts';
import { request } from './support/http.ts';
import { seedAudience } from './support/outreach.ts';
import { freePort, startTestServer, type TestServer } from './support/server.ts';

const N = Number(process.env.CAPTO_CRASH_RECIPIENTS ?? 300);
const KILLS = 5;
const MASTER = Buffer.alloc(32, 11).toString('base64');
const NUMBER = '+15005550006';

describe.skipIf(ENGINE !== 'server')('campaign crash test (server PostgreSQL; kill -9 ×5)', () => {
  let s: TestServer;
  let smtp: SmtpFake;
  let twilio: TwilioFake;
  let owner: SignedUpUser;
  let bid: string;
  let scratch: string;
  let child: ChildProcess | undefined;
  const ids: Record<'email' | 'sms', string> = { email: '', sms: '' };

  const call = (method: string, p: string, body?: unknown) =>
    request<any>(`${s.url}/api/businesses/${bid}${p}`, { method, token: owner.accessToken, body });

  beforeAll(async () => {
    [smtp, twilio] = await Promise.all([startSmtpFake({ parse: false }), startTwilioFake()]);
    const acct = twilio.addAccount();
    // The setup node never sends (CAPTO_CAMPAIGNS=off): only the child process does.
    s = await startTestServer({
      CAPTO_MASTER_KEY: MASTER,
      CAPTO_SCAN_ON_START: 'off',
      CAPTO_ALLOW_PRIVATE_HOSTS: 'on',
      TWILIO_API_BASE: twilio.url,
      CAPTO_CAMPAIGNS: 'off',
    });
    scratch = mkdtempSync(path.join(os.tmpdir(), 'capto-crash-'));
    owner = await signUp(s, { verified: true });
    bid = (await newBusiness(s.engine, owner.userId, 'Crash Lending')).id;
    expect((await call('PATCH', '', { postal_address: '9 Test Rd, Springfield' })).status).toBe(200);
    const sender = await call('POST', '/integrations/email', {
      kind: 'smtp',
      host: '127.0.0.1',
      port: smtp.port,
      security: 'none',
      username: smtp.username,
      password: smtp.password,
      from_email: 'news@crash.example',
      from_name: 'Crash',
      rate_per_second: 1000,
    });
    expect(sender.status).toBe(201);
    const cfg = await call('POST', '/integrations/twilio', {
      friendly_name: 'Main',
      account_sid: acct.sid,
      auth_token: acct.authToken,
      phone_number: NUMBER,
    });
    expect(cfg.status).toBe(201);
    await asOwner(s.engine, (c) =>
      c.query('UPDATE app.twilio_configs SET messages_per_second = 100 WHERE id = $1', [cfg.json.id]),
    );
    for (const channel of ['email', 'sms'] as const) {
      const { listId, contactIds } = await seedAudience(s.engine, bid, owner.userId, N, `crash-${channel}`);
      // Ten excluded per campaign: unsubscribed (email) / STOPped (SMS).
      await asOwner(s.engine, (c) =>
        channel === 'email'
          ? c.query(
              `INSERT INTO app.email_suppressions (business_id, email, reason)
               SELECT $1, 'camp-crash-email-' || i || '@example.com', 'unsubscribed' FROM generate_series(1, 10) i`,
              [bid],
            )
          : c.query(
              `INSERT INTO app.sms_opt_outs (business_id, contact_id, our_number) SELECT $1, unnest($2::uuid[]), $3`,
              [bid, contactIds.slice(0, 10), NUMBER],
            ),
      );
      const t = await call('POST', '/templates', {
        name: `t-${channel}`,
        channel,
        ...(channel === 'email' ? { subject: 'Hi {{ contact.first_name }}' } : {}),
        body: 'Hello {{ contact.first_name }}',
      });
      const c = await call('POST', '/campaigns', { name: channel, channel, list_id: listId, template_id: t.json.id });
      expect(c.status).toBe(201);
      ids[channel] = c.json.id;
    }
  }, 300_000);

  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await s?.stop();
    await Promise.all([smtp?.close(), twilio?.close()]);
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  async function startNode(): Promise<ChildProcess> {
    const port = await freePort();
    const p = spawn(process.execPath, ['bin/capto.js', 'start'], {
      env: {
        PATH: process.env.PATH,
        CAPTO_ENV: 'test',
        HOST: '127.0.0.1',
        PORT: String(port),
        LOG_LEVEL: 'silent',
        DATABASE_URL: s.config.databaseUrl!,
        CAPTO_MASTER_KEY: MASTER,
        CAPTO_PUBLIC_URL: `https://127.0.0.1:${port}`,
        CAPTO_DATA_DIR: path.join(scratch, 'node'),
        HIBP_RANGE_URL: (await sharedFakeHibp()).url,
        CAPTO_SCAN_ON_START: 'off',
        CAPTO_ALLOW_PRIVATE_HOSTS: 'on',
        TWILIO_API_BASE: twilio.url,
        CAPTO_SMS_QUIET_HOURS: 'off',
        CAPTO_CAMPAIGN_POLL_MS: '100',
        CAPTO_CAMPAIGN_LEASE_SECONDS: '1',
        CAPTO_JOBS: 'off',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    await new Promise<void>((resolve, reject) => {
      let out = '';
      p.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('Capto is running')) resolve();
      });
      p.once('exit', (code) => reject(new Error(`capto start exited early (${code})`)));
    });
    return p;
  }

  const sentSoFar = () => smtp.received.length + twilio.messages.length;

  it(`every eligible recipient gets at most one message, none is skipped silently (${N} + ${N} recipients, ${KILLS} kills)`, async () => {
    for (const channel of ['email', 'sms'] as const)
      expect((await call('POST', `/campaigns/${ids[channel]}/start`)).status).toBe(200);
    const kills: number[] = [];
    for (let k = 0; k < KILLS; k++) {
      child = await startNode();
      const base = sentSoFar();
      // Let it send a little (between 1 and ~8% of the work), then kill it mid-flight.
      const target = base + 1 + Math.floor(Math.random() * Math.max(2, (2 * N) / 12));
      const t0 = Date.now();
      while (sentSoFar() < target && Date.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 5));
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGKILL');
      await exited;
      kills.push(sentSoFar());
    }
    child = await startNode();
    const t0 = Date.now();
    for (;;) {
      const a = await call('GET', `/campaigns/${ids.email}`);
      const b = await call('GET', `/campaigns/${ids.sms}`);
      if (a.json.status === 'completed' && b.json.status === 'completed') break;
      if (Date.now() - t0 > 240_000) throw new Error(`not done: ${a.text} ${b.text}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    child.kill('SIGTERM');
    await new Promise((r) => child!.once('exit', r));

    const byAddress = new Map<string, number>();
    for (const m of smtp.received) for (const to of m.envelopeTo) byAddress.set(to, (byAddress.get(to) ?? 0) + 1);
    for (const m of twilio.messages) byAddress.set(m.to, (byAddress.get(m.to) ?? 0) + 1);
    const twice = [...byAddress].filter(([, n]) => n > 1);
    expect(twice).toEqual([]);

    const rows = await asOwner(s.engine, (c) =>
      c.query<{ campaign_id: string; address: string | null; status: string; reason: string | null }>(
        'SELECT campaign_id, address, status, reason FROM app.campaign_recipients WHERE business_id = $1',
        [bid],
      ),
    );
    let received = 0;
    let inDoubt = 0;
    for (const r of rows.rows) {
      expect(['sent', 'failed', 'skipped']).toContain(r.status);
      if (r.status === 'skipped') {
        expect(r.reason).toMatch(/unsubscribed|opted_out/);
        expect(byAddress.get(r.address ?? '') ?? 0).toBe(0);
        continue;
      }
      const got = byAddress.get(r.address!) ?? 0;
      if (r.status === 'sent') expect(got).toBe(1);
      else {
        expect(r.reason).toMatch(/outcome unknown/);
        inDoubt++;
      }
      received += got;
    }
    const eligible = rows.rows.filter((r) => r.status !== 'skipped').length;
    expect(eligible).toBe(2 * (N - 10));
    // At most the sends in flight at each kill (4 workers × 2 campaigns) are in doubt.
    expect(inDoubt).toBeLessThanOrEqual(KILLS * 8);
    const notReceived = rows.rows.filter((r) => r.status !== 'skipped' && !byAddress.get(r.address!)).length;
    console.log(
      JSON.stringify({
        crash_test: {
          recipients_per_campaign: N,
          kills: KILLS,
          sent_at_kills: kills,
          eligible,
          received,
          in_doubt: inDoubt,
          in_doubt_not_received: notReceived,
          duplicates: twice.length,
        },
      }),
    );
  }, 600_000);
});
