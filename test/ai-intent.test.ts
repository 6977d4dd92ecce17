// Intent labels on inbound texts, end to end: Twilio's signed webhook stores the text
// and answers without waiting for any model; a job (pg-boss) labels it through the
// business's provider, which sees only that one text, fenced. "not interested" and
// "wrong number" never change consent (only STOP does); a business without a provider
// gets no label and no provider call; the inbox shows the label and filters by it;
// the job's payload carries ids only. Both engines.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asOwner } from '../src/db/engine.ts';
import { newBusiness } from './support/factories.ts';
import { signUp, type SignedUpUser } from './support/auth.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { request } from './support/http.ts';
import { startOpenAiFake, type OpenAiFake } from './fakes/openai.ts';
import { startTwilioFake, type FakeAccount, type TwilioFake } from './fakes/twilio.ts';

let s: TestServer;
let ai: OpenAiFake;
let twilio: TwilioFake;
let acctA: FakeAccount;
let acctB: FakeAccount;
let ownerA: SignedUpUser;
let ownerB: SignedUpUser;
let bidA: string;
let bidB: string;
let hookA: string;
let hookB: string;
const NUMBER_A = '+14155550100';
const NUMBER_B = '+14155550200';

/** A keyword "model": what a real model would answer for these texts. */
function label(text: string): string {
  const t = text.toLowerCase();
  if (t.includes('wrong number')) return 'wrong_number';
  if (t.includes('not interested')) return 'not_interested';
  if (t.includes('apply')) return 'wants_to_apply';
  return 'question';
}

async function until<T>(fn: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

const intentOf = async (businessId: string, body: string) =>
  (
    await asOwner(s.engine, (c) =>
      c.query<{ intent: string }>(
        `SELECT i.intent FROM app.message_intents i JOIN app.messages m ON m.business_id = i.business_id AND m.id = i.message_id
          WHERE m.business_id = $1 AND m.body = $2`,
        [businessId, body],
      ),
    )
  ).rows[0]?.intent;

const optOuts = async (businessId: string, phone: string) =>
  Number(
    (
      await asOwner(s.engine, (c) =>
        c.query<{ n: string }>(
          `SELECT count(*) AS n FROM app.sms_opt_outs o JOIN app.contacts c ON c.business_id = o.business_id AND c.id = o.contact_id
            WHERE o.business_id = $1 AND c.phone = $2`,
          [businessId, phone],
        ),
      )
    ).rows[0]!.n,
  );

async function inbound(hook: string, acct: FakeAccount, to: string, from: string, body: string) {
  const r = await twilio.sendInbound(hook, acct, { from, to, body });
  expect(r.status).toBe(200);
}

beforeAll(async () => {
  ai = await startOpenAiFake();
  ai.respondWith((req) => label(req.messages.at(-1)!.content));
  twilio = await startTwilioFake();
  acctA = twilio.addAccount();
  acctB = twilio.addAccount();
  s = await startTestServer({
    OPENAI_BASE_URL: ai.url,
    TWILIO_API_BASE: twilio.url,
    CAPTO_JOBS_POLL_SECONDS: '0.5',
  });
  [ownerA, ownerB] = await Promise.all([signUp(s, { verified: true }), signUp(s, { verified: true })]);
  bidA = (await newBusiness(s.engine, ownerA.userId)).id;
  bidB = (await newBusiness(s.engine, ownerB.userId)).id;
  const put = await request(`${s.url}/api/businesses/${bidA}/integrations/ai`, {
    method: 'PUT',
    token: ownerA.accessToken,
    body: { provider: 'openai', api_key: ai.addKey(), model: 'gpt-4o-mini' },
  });
  expect(put.status).toBe(200);
  for (const [bid, owner, acct, number] of [
    [bidA, ownerA, acctA, NUMBER_A],
    [bidB, ownerB, acctB, NUMBER_B],
  ] as const) {
    const cfg = await request(`${s.url}/api/businesses/${bid}/integrations/twilio`, {
      token: owner.accessToken,
      body: { friendly_name: 'Main', account_sid: acct.sid, auth_token: acct.authToken, phone_number: number },
    });
    expect(cfg.status).toBe(201);
    if (bid === bidA) hookA = cfg.json.webhooks.sms;
    else hookB = cfg.json.webhooks.sms;
  }
});
afterAll(async () => {
  await s?.stop();
  await ai?.close();
  await twilio?.close();
});

describe('intent of inbound texts, by a job', () => {
  it('the webhook answers before any model does; the job then labels the text', async () => {
    ai.setLatency(1500);
    const body = 'Hi, I would like to apply for a mortgage';
    await inbound(hookA, acctA, NUMBER_A, '+12125550101', body);
    // Stored, not labelled yet: the webhook did not wait for the model.
    expect(await intentOf(bidA, body)).toBeUndefined();
    expect(await until(() => intentOf(bidA, body))).toBe('wants_to_apply');
    ai.setLatency(0);
  });

  it("'not interested' and 'wrong number' are labels only: consent is unchanged; STOP still opts out", async () => {
    await inbound(hookA, acctA, NUMBER_A, '+12125550102', 'Not interested, thanks');
    await inbound(hookA, acctA, NUMBER_A, '+12125550103', 'Sorry, you have the wrong number');
    expect(await until(() => intentOf(bidA, 'Not interested, thanks'))).toBe('not_interested');
    expect(await until(() => intentOf(bidA, 'Sorry, you have the wrong number'))).toBe('wrong_number');
    expect(await optOuts(bidA, '+12125550102')).toBe(0);
    expect(await optOuts(bidA, '+12125550103')).toBe(0);
    await inbound(hookA, acctA, NUMBER_A, '+12125550102', 'STOP');
    expect(await optOuts(bidA, '+12125550102')).toBe(1);
  });

  it('the provider saw only the one text, fenced — no other text, name or number', async () => {
    const prompts = ai.chats.filter((c) => c.messages[0]?.content.includes('You label one inbound SMS'));
    expect(prompts.length).toBeGreaterThanOrEqual(3);
    const wrong = prompts.find((c) => c.messages.at(-1)!.content.includes('wrong number'))!;
    const user = wrong.messages.at(-1)!.content;
    expect(user).toMatch(/^<<<DATA \S+ inbound text>>>\nSorry, you have the wrong number\n<<<END \S+>>>$/);
    const all = wrong.messages.map((m) => m.content).join('\n');
    for (const other of ['apply for a mortgage', 'Not interested', '+12125550103', '+12125550102', 'STOP']) {
      expect(all).not.toContain(other);
    }
    // STOP is a keyword, not a text to label.
    expect(prompts.some((c) => c.messages.at(-1)!.content.includes('\nSTOP\n'))).toBe(false);
  });

  it('the inbox shows the label and filters by it; messages carry their label', async () => {
    const list = await request(`${s.url}/api/businesses/${bidA}/conversations`, { token: ownerA.accessToken });
    expect(list.status).toBe(200);
    const intents = list.json.items.map((c: any) => c.intent).sort();
    expect(intents).toEqual(['not_interested', 'wants_to_apply', 'wrong_number']);
    const wrong = await request(`${s.url}/api/businesses/${bidA}/conversations?intent=wrong_number`, {
      token: ownerA.accessToken,
    });
    expect(wrong.json.items.map((c: any) => c.contact_phone)).toEqual(['+12125550103']);
    const msgs = await request(`${s.url}/api/businesses/${bidA}/conversations/${wrong.json.items[0].id}/messages`, {
      token: ownerA.accessToken,
    });
    expect(msgs.json.items.map((m: any) => m.intent)).toEqual(['wrong_number']);
    expect(
      (await request(`${s.url}/api/businesses/${bidA}/conversations?intent=maybe`, { token: ownerA.accessToken }))
        .status,
    ).toBe(400);
    // Another business sees none of it.
    expect((await request(`${s.url}/api/businesses/${bidA}/conversations`, { token: ownerB.accessToken })).status).toBe(
      404,
    );
  });

  it('a business without a provider gets no label and causes no provider call', async () => {
    const before = ai.chats.length;
    await inbound(hookB, acctB, NUMBER_B, '+12125550109', 'Can I apply today?');
    // Let the job run (it finds no provider and skips).
    await new Promise((r) => setTimeout(r, 2_000));
    expect(await intentOf(bidB, 'Can I apply today?')).toBeUndefined();
    expect(ai.chats.length).toBe(before);
    const list = await request(`${s.url}/api/businesses/${bidB}/conversations`, { token: ownerB.accessToken });
    expect(list.json.items[0].intent).toBeNull();
  });

  it("the job's payload is ids only", async () => {
    const jobs = await asOwner(s.engine, (c) =>
      c.query<{ data: Record<string, unknown> }>(`SELECT data FROM pgboss.job WHERE name = 'ai.intent'`),
    );
    expect(jobs.rows.length).toBeGreaterThanOrEqual(4);
    for (const j of jobs.rows) expect(Object.keys(j.data).sort()).toEqual(['business_id', 'message_id']);
  });
});
