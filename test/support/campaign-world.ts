// The world of the campaign proofs run against real `capto start` processes
// (test/campaign-crash.test.ts, test/campaign-nodes.test.ts; docs/ARCHITECTURE.md §21): a
// setup node in this process — it never sends (CAPTO_CAMPAIGNS=off, CAPTO_JOBS=off) — signs up
// an owner, makes a business with a postal address, an SMTP sender at the SMTP fake and a
// Twilio number at the Twilio fake, and an email and an SMS campaign of `n` recipients each,
// ten of them excluded (unsubscribed / STOPped). `start()` starts both; the crash and node
// processes drain them. `campaignRig()` adds the fakes, the database and a scratch dir around
// it, and the environment of a draining node; `receivedByAddress()` and `recipientRows()`
// read what the fakes got and what each recipient ended as.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { loadConfig } from '../../src/config/index.ts';
import { asOwner } from '../../src/db/engine.ts';
import type { Engine } from '../../src/db/index.ts';
import { startCapto, type RunningCapto } from '../../src/main.ts';
import { sharedFakeHibp } from '../fakes/hibp.ts';
import { startSmtpFake, type SmtpFake } from '../fakes/smtp.ts';
import { startTwilioFake, type TwilioFake } from '../fakes/twilio.ts';
import { signUp, type SignedUpUser } from './auth.ts';
import { createBlankDatabase } from './engine.ts';
import { newBusiness } from './factories.ts';
import { request } from './http.ts';
import { seedAudience } from './outreach.ts';
import { freePort } from './server.ts';

export const CAMPAIGN_NUMBER = '+15005550006';
/** Recipients excluded at the start in each campaign. */
export const EXCLUDED = 10;

export interface CampaignWorld {
  setup: RunningCapto;
  owner: SignedUpUser;
  businessId: string;
  ids: Record<'email' | 'sms', string>;
  /** A call to the business's API on the setup node. */
  call(method: string, p: string, body?: unknown): ReturnType<typeof request<any>>;
  /** Start both campaigns (their outbox rows are written in the same transactions). */
  start(): Promise<void>;
}

export async function campaignWorld(o: {
  n: number;
  /** The database (createBlankDatabase().env) and the setup node's own data dir. */
  dbEnv: Record<string, string>;
  dataDir: string;
  masterKey: string;
  smtp: SmtpFake;
  twilio: TwilioFake;
  /** The SMTP sender's and the Twilio number's rates (default 1,000 and 100 a second). */
  emailRate?: number;
  smsRate?: number;
}): Promise<CampaignWorld> {
  const acct = o.twilio.addAccount();
  const setup = await startCapto(
    loadConfig({
      CAPTO_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: String(await freePort()),
      LOG_LEVEL: 'silent',
      CAPTO_DB_POOL_SIZE: '4',
      HIBP_RANGE_URL: (await sharedFakeHibp()).url,
      CAPTO_AUTH_RATE_IP: '100000',
      CAPTO_AUTH_RATE_ACCOUNT: '100000',
      CAPTO_DATA_DIR: o.dataDir,
      ...o.dbEnv,
      CAPTO_MASTER_KEY: o.masterKey,
      CAPTO_SCAN_ON_START: 'off',
      CAPTO_ALLOW_PRIVATE_HOSTS: 'on',
      TWILIO_API_BASE: o.twilio.url,
      CAPTO_CAMPAIGNS: 'off',
      CAPTO_JOBS: 'off',
    }),
  );
  const owner = await signUp(Object.assign(setup, { stop: () => setup.close() }), { verified: true });
  const businessId = (await newBusiness(setup.engine, owner.userId, 'Crash Lending')).id;
  const call = (method: string, p: string, body?: unknown) =>
    request<any>(`${setup.url}/api/businesses/${businessId}${p}`, { method, token: owner.accessToken, body });
  expect((await call('PATCH', '', { postal_address: '9 Test Rd, Springfield' })).status).toBe(200);
  const sender = await call('POST', '/integrations/email', {
    kind: 'smtp',
    host: '127.0.0.1',
    port: o.smtp.port,
    security: 'none',
    username: o.smtp.username,
    password: o.smtp.password,
    from_email: 'news@crash.example',
    from_name: 'Crash',
    rate_per_second: o.emailRate ?? 1000,
  });
  expect(sender.status).toBe(201);
  const cfg = await call('POST', '/integrations/twilio', {
    friendly_name: 'Main',
    account_sid: acct.sid,
    auth_token: acct.authToken,
    phone_number: CAMPAIGN_NUMBER,
  });
  expect(cfg.status).toBe(201);
  const rate = await call('PATCH', `/integrations/twilio/${cfg.json.id}`, { messages_per_second: o.smsRate ?? 100 });
  expect(rate.status).toBe(200);
  const ids = { email: '', sms: '' };
  for (const channel of ['email', 'sms'] as const) {
    const tag = `crash-${channel}`;
    const { listId, contactIds } = await seedAudience(setup.engine, businessId, owner.userId, o.n, tag);
    await asOwner(setup.engine, (c) =>
      channel === 'email'
        ? c.query(
            `INSERT INTO app.email_suppressions (business_id, email, reason)
             SELECT $1, 'camp-' || $3 || '-' || i || '@example.com', 'unsubscribed' FROM generate_series(1, $2) i`,
            [businessId, EXCLUDED, tag],
          )
        : c.query(
            `INSERT INTO app.sms_opt_outs (business_id, contact_id, our_number) SELECT $1, unnest($2::uuid[]), $3`,
            [businessId, contactIds.slice(0, EXCLUDED), CAMPAIGN_NUMBER],
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
  return {
    setup,
    owner,
    businessId,
    ids,
    call,
    async start() {
      for (const channel of ['email', 'sms'] as const)
        expect((await call('POST', `/campaigns/${ids[channel]}/start`)).status).toBe(200);
    },
  };
}

export interface CampaignRig {
  smtp: SmtpFake;
  twilio: TwilioFake;
  blank: Awaited<ReturnType<typeof createBlankDatabase>>;
  scratch: string;
  world: CampaignWorld;
  /**
   * The environment of a `capto start` that drains the campaigns (startServerNode): its own
   * data dir `label` (embedded: the engine's data dir wins), the fakes, no quiet hours, a fast
   * poll, no job engine; `twilioBase` to tell the nodes apart at the Twilio fake.
   */
  nodeEnv(label: string, extra?: Record<string, string>, twilioBase?: string): Record<string, string>;
  close(): Promise<void>;
}

/** The fakes (SMTP without parsing), a blank database, a scratch dir and the campaign world. */
export async function campaignRig(o: {
  n: number;
  masterKey: string;
  emailRate?: number;
  smsRate?: number;
}): Promise<CampaignRig> {
  const [smtp, twilio] = await Promise.all([startSmtpFake({ parse: false }), startTwilioFake()]);
  const blank = await createBlankDatabase();
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'capto-campaign-'));
  const world = await campaignWorld({ ...o, dbEnv: blank.env, dataDir: path.join(scratch, 'setup'), smtp, twilio });
  return {
    smtp,
    twilio,
    blank,
    scratch,
    world,
    nodeEnv: (label, extra = {}, twilioBase = twilio.url) => ({
      CAPTO_DATA_DIR: path.join(scratch, label),
      ...blank.env,
      CAPTO_MASTER_KEY: o.masterKey,
      CAPTO_ALLOW_PRIVATE_HOSTS: 'on',
      TWILIO_API_BASE: twilioBase,
      CAPTO_SMS_QUIET_HOURS: 'off',
      CAPTO_CAMPAIGN_POLL_MS: '100',
      CAPTO_CAMPAIGN_CONCURRENCY: '4',
      CAPTO_JOBS: 'off',
      ...extra,
    }),
    async close() {
      await world.setup.close();
      await Promise.all([smtp.close(), twilio.close()]);
      await blank.drop();
      rmSync(scratch, { recursive: true, force: true });
    },
  };
}

export interface RecipientRow {
  campaign_id: string;
  address: string | null;
  status: string;
  reason: string | null;
  claimed_by: string | null;
  /** The state of its outbox row (null: excluded at the start, no row). */
  outbox: string | null;
}

/** Messages per address at the fakes (email: envelope recipients; SMS: To). */
export function receivedByAddress(smtp: SmtpFake, twilio: TwilioFake): Map<string, number> {
  const byAddress = new Map<string, number>();
  for (const m of smtp.received) for (const to of m.envelopeTo) byAddress.set(to, (byAddress.get(to) ?? 0) + 1);
  for (const m of twilio.messages) byAddress.set(m.to, (byAddress.get(m.to) ?? 0) + 1);
  return byAddress;
}

/** Every recipient of the business's campaigns with its outbox row's state. */
export async function recipientRows(engine: Engine, businessId: string): Promise<RecipientRow[]> {
  const r = await asOwner(engine, (c) =>
    c.query<RecipientRow>(
      `SELECT r.campaign_id, r.address, r.status, r.reason, r.claimed_by, o.state AS outbox
         FROM app.campaign_recipients r LEFT JOIN app.outbox o ON o.id = r.id WHERE r.business_id = $1`,
      [businessId],
    ),
  );
  return r.rows;
}
