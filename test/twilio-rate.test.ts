// A Twilio number's throughput cap through the API (docs/ARCHITECTURE.md §16, §24):
// PATCH …/integrations/twilio/:id {messages_per_second} by owners/admins only, audited as
// `twilio.config.updated` in the same transaction; members and other businesses cannot;
// bad values are a clear 400; the database refuses an unaudited change (0087).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asOwner } from '../src/db/engine.ts';
import { startTwilioFake, type TwilioFake } from './fakes/twilio.ts';
import { signUp, type SignedUpUser } from './support/auth.ts';
import { addMember, newBusiness } from './support/factories.ts';
import { request } from './support/http.ts';
import { startTestServer, type TestServer } from './support/server.ts';

let s: TestServer;
let fake: TwilioFake;
let owner: SignedUpUser;
let admin: SignedUpUser;
let member: SignedUpUser;
let outsider: SignedUpUser;
let bid: string;
let otherBid: string;
let cfgId: string;

const call = (user: SignedUpUser, method: string, path: string, body?: unknown, business = bid) =>
  request<any>(`${s.url}/api/businesses/${business}${path}`, { method, token: user.accessToken, body });
const audit = async () =>
  (
    await asOwner(s.engine, (c) =>
      c.query<{ action: string; subject_id: string; actor_user_id: string; details: any }>(
        `SELECT action, subject_id, actor_user_id, details FROM audit.integration_events
          WHERE business_id = $1 AND action = 'twilio.config.updated' ORDER BY seq`,
        [bid],
      ),
    )
  ).rows;
const rate = async () =>
  (
    await asOwner(s.engine, (c) =>
      c.query<{ r: number }>('SELECT messages_per_second AS r FROM app.twilio_configs WHERE id = $1', [cfgId]),
    )
  ).rows[0]!.r;

beforeAll(async () => {
  fake = await startTwilioFake();
  const acct = fake.addAccount();
  s = await startTestServer({ TWILIO_API_BASE: fake.url, CAPTO_MASTER_KEY: Buffer.alloc(32, 4).toString('base64') });
  [owner, admin, member, outsider] = await Promise.all([
    signUp(s, { verified: true }),
    signUp(s, { verified: true }),
    signUp(s, { verified: true }),
    signUp(s, { verified: true }),
  ]);
  bid = (await newBusiness(s.engine, owner.userId)).id;
  otherBid = (await newBusiness(s.engine, outsider.userId)).id;
  await addMember(s.engine, bid, admin.userId, 'admin');
  await addMember(s.engine, bid, member.userId, 'member');
  const cfg = await call(owner, 'POST', '/integrations/twilio', {
    friendly_name: 'Main',
    account_sid: acct.sid,
    auth_token: acct.authToken,
    phone_number: '+15005550077',
  });
  expect(cfg.status).toBe(201);
  expect(cfg.json.messages_per_second).toBe(1);
  cfgId = cfg.json.id;
}, 120_000);
afterAll(async () => {
  await s?.stop();
  await fake?.close();
});

describe("a Twilio number's messages_per_second", () => {
  it('an admin sets it: the list shows it, and one audit row says who, from what, to what', async () => {
    const res = await call(admin, 'PATCH', `/integrations/twilio/${cfgId}`, { messages_per_second: 25 });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ id: cfgId, messages_per_second: 25 });
    expect(await rate()).toBe(25);
    const list = await call(member, 'GET', '/integrations/twilio');
    expect(list.json.items.map((c: any) => c.messages_per_second)).toEqual([25]);
    const rows = await audit();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ subject_id: cfgId, actor_user_id: admin.userId });
    expect(rows[0]!.details).toMatchObject({
      changed: ['messages_per_second'],
      previous_messages_per_second: 1,
      messages_per_second: 25,
    });
    // The owner too; setting the same value again changes and audits nothing.
    expect((await call(owner, 'PATCH', `/integrations/twilio/${cfgId}`, { messages_per_second: 10 })).status).toBe(200);
    expect((await call(owner, 'PATCH', `/integrations/twilio/${cfgId}`, { messages_per_second: 10 })).status).toBe(200);
    expect(await rate()).toBe(10);
    expect((await audit()).map((r) => r.details.messages_per_second)).toEqual([25, 10]);
  });

  it('a member cannot (403), another business cannot see it (404), an unknown id is 404', async () => {
    const m = await call(member, 'PATCH', `/integrations/twilio/${cfgId}`, { messages_per_second: 50 });
    expect(m.status).toBe(403);
    expect(m.json.error.code).toBe('forbidden');
    const o = await call(outsider, 'PATCH', `/integrations/twilio/${cfgId}`, { messages_per_second: 50 });
    expect(o.status).toBe(404);
    // Her own business does not hold this configuration either.
    const o2 = await call(outsider, 'PATCH', `/integrations/twilio/${cfgId}`, { messages_per_second: 50 }, otherBid);
    expect(o2.status).toBe(404); // her own business holds no such configuration
  });

  it('refuses values outside 1–100, fractions and extra fields with 400 validation_failed', async () => {
    for (const body of [
      { messages_per_second: 0 },
      { messages_per_second: 101 },
      { messages_per_second: 1.5 },
      { messages_per_second: '5' },
      {},
      { messages_per_second: 5, is_default: true },
    ]) {
      const res = await call(admin, 'PATCH', `/integrations/twilio/${cfgId}`, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.json.error.code).toBe('validation_failed');
    }
    expect(await rate()).toBe(10);
  });

  it('the database refuses a change without its audit row, even as the table owner', async () => {
    await expect(
      asOwner(s.engine, (c) =>
        c.query('UPDATE app.twilio_configs SET messages_per_second = 99 WHERE id = $1', [cfgId]),
      ),
    ).rejects.toMatchObject({ code: '42501' });
    expect(await rate()).toBe(10);
  });
});
