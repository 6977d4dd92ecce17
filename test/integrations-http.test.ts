// Integrations and messaging over real HTTP(S), with the local Twilio fake: owner/admin/member add, list,
// default, send with and remove configurations — and no response body, header, log
// line or error message ever contains a token (P5); every change has exactly one
// audit row (P6); members cannot change anything; webhooks are authenticated.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { asOwner } from '../src/db/engine.ts';
import { addMember, newBusiness } from './support/factories.ts';
import { signUp, type SignedUpUser } from './support/auth.ts';
import { startCapturingServer, type CapturingServer } from './support/capturing-server.ts';
import { request as rawRequest, type HttpResponse, type RequestOptions } from './support/http.ts';
import {
  randomSid,
  randomToken,
  startTwilioFake,
  twilioSignature,
  type FakeAccount,
  type TwilioFake,
} from './fakes/twilio.ts';

let s: CapturingServer;
let fake: TwilioFake;
let owner: SignedUpUser;
let admin: SignedUpUser;
let member: SignedUpUser;
let bid: string;
let acct1: FakeAccount;
let acct2: FakeAccount;
const wrongToken = randomToken();
const captured: string[] = [];
const NUMBER1 = '+15005550001';
const NUMBER2 = '+15005550002';

async function call<T = any>(path: string, options: RequestOptions = {}): Promise<HttpResponse<T>> {
  const res = await rawRequest<T>(`${s.url}${path}`, options);
  captured.push(`${res.status} ${JSON.stringify(res.headers)} ${res.text}`);
  return res;
}

beforeAll(async () => {
  fake = await startTwilioFake();
  acct1 = fake.addAccount();
  acct2 = fake.addAccount();
  s = await startCapturingServer({
    TWILIO_API_BASE: fake.url,
    CAPTO_MASTER_KEY: Buffer.alloc(32, 9).toString('base64'),
  });
  owner = await signUp(s, { verified: true });
  admin = await signUp(s, { verified: true });
  member = await signUp(s, { verified: true });
  bid = (await newBusiness(s.engine, owner.userId)).id;
  await addMember(s.engine, bid, admin.userId, 'admin');
  await addMember(s.engine, bid, member.userId, 'member');
});
afterAll(async () => {
  await s?.stop();
  await fake?.close();
});

const base = () => `/api/businesses/${bid}/integrations`;
const configBody = (a: FakeAccount, phone: string, token = a.authToken) => ({
  friendly_name: `Line ${phone.slice(-1)}`,
  account_sid: a.sid,
  auth_token: token,
  phone_number: phone,
});
const countAudit = async () =>
  Number(
    (
      await asOwner(s.engine, (c) =>
        c.query<{ n: string }>('SELECT count(*) AS n FROM audit.integration_events WHERE business_id = $1', [bid]),
      )
    ).rows[0]!.n,
  );
const countConfigs = async () =>
  Number(
    (
      await asOwner(s.engine, (c) =>
        c.query<{ n: string }>('SELECT count(*) AS n FROM app.twilio_configs WHERE business_id = $1', [bid]),
      )
    ).rows[0]!.n,
  );

describe('Twilio configurations, SMS and the audit log as owner, admin and member', () => {
  let cfg1: any;
  let cfg2: any;
  let conversationId: string;
  let contactId: string;

  it('a member cannot add a configuration, and Twilio is not even asked', async () => {
    const before = fake.requests.length;
    const res = await call(`${base()}/twilio`, { token: member.accessToken, body: configBody(acct1, NUMBER1) });
    expect(res.status).toBe(403);
    expect(res.json.error.code).toBe('forbidden');
    expect(fake.requests.length).toBe(before);
    expect(await countConfigs()).toBe(0);
  });

  it('refuses credentials Twilio does not accept, without storing or auditing anything', async () => {
    const res = await call(`${base()}/twilio`, {
      token: admin.accessToken,
      body: configBody(acct1, NUMBER1, wrongToken),
    });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('twilio_credentials_invalid');
    expect(fake.requests.at(-1)).toMatchObject({ authorized: false });
    expect(await countConfigs()).toBe(0);
    expect(await countAudit()).toBe(0);
  });

  it('validates input with clear messages that never echo the token', async () => {
    const bad = await call(`${base()}/twilio`, {
      token: admin.accessToken,
      body: { ...configBody(acct1, NUMBER1), auth_token: `${acct1.authToken}zz` },
    });
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatchObject({ code: 'validation_failed' });
    expect(bad.json.error.message).toMatch(/Auth token must be 32 hex digits/);
    const sid = await call(`${base()}/twilio`, {
      token: admin.accessToken,
      body: { ...configBody(acct1, NUMBER1), account_sid: 'AC123' },
    });
    expect(sid.json.error.message).toMatch(/Account SID must be AC followed by 32 hex digits/);
    const phone = await call(`${base()}/twilio`, {
      token: admin.accessToken,
      body: { ...configBody(acct1, NUMBER1), phone_number: '12' },
    });
    expect(phone.json.error.message).toMatch(/E\.164/);
    const extra = await call(`${base()}/twilio`, {
      token: admin.accessToken,
      body: { ...configBody(acct1, NUMBER1), api_base: 'https://evil.example' },
    });
    expect(extra.status).toBe(400); // no tenant-settable API base (P5)
  });

  it('admin and owner add configurations; the first becomes the default; the SID is masked', async () => {
    const r1 = await call(`${base()}/twilio`, { token: admin.accessToken, body: configBody(acct1, NUMBER1) });
    expect(r1.status).toBe(201);
    cfg1 = r1.json;
    expect(cfg1).toMatchObject({
      account_sid: `AC…${acct1.sid.slice(-4)}`,
      phone_number: NUMBER1,
      is_default: true,
      created_by: admin.userId,
      created_by_email: admin.email,
    });
    expect(cfg1.webhooks).toEqual({
      sms: `${s.config.publicUrl}/webhooks/twilio/${cfg1.id}/sms`,
      status: `${s.config.publicUrl}/webhooks/twilio/${cfg1.id}/status`,
    });
    const r2 = await call(`${base()}/twilio`, { token: owner.accessToken, body: configBody(acct2, NUMBER2) });
    expect(r2.status).toBe(201);
    cfg2 = r2.json;
    expect(cfg2.is_default).toBe(false);
    const dup = await call(`${base()}/twilio`, { token: owner.accessToken, body: configBody(acct2, NUMBER2) });
    expect(dup.status).toBe(409);
  });

  it('every member sees the list, masked; outsiders get 404', async () => {
    const list = await call(`${base()}/twilio`, { token: member.accessToken });
    expect(list.status).toBe(200);
    expect(list.json.items.map((c: any) => [c.id, c.is_default, c.account_sid])).toEqual([
      [cfg1.id, true, `AC…${acct1.sid.slice(-4)}`],
      [cfg2.id, false, `AC…${acct2.sid.slice(-4)}`],
    ]);
    const outsider = await signUp(s, { verified: true });
    expect((await call(`${base()}/twilio`, { token: outsider.accessToken })).status).toBe(404);
  });

  it('members cannot set the default or remove; admins set the default (exactly one)', async () => {
    expect(
      (await call(`${base()}/twilio/${cfg2.id}/default`, { method: 'POST', token: member.accessToken })).status,
    ).toBe(403);
    expect((await call(`${base()}/twilio/${cfg2.id}`, { method: 'DELETE', token: member.accessToken })).status).toBe(
      403,
    );
    const set = await call(`${base()}/twilio/${cfg2.id}/default`, { method: 'POST', token: admin.accessToken });
    expect(set.status).toBe(200);
    expect(set.json.is_default).toBe(true);
    const list = await call(`${base()}/twilio`, { token: owner.accessToken });
    expect(list.json.items.filter((c: any) => c.is_default).map((c: any) => c.id)).toEqual([cfg2.id]);
    expect(
      (await call(`${base()}/twilio/${randomUUID()}/default`, { method: 'POST', token: admin.accessToken })).status,
    ).toBe(404);
  });

  it('a member sends an SMS through the default configuration', async () => {
    contactId = randomUUID();
    await asOwner(s.engine, (c) =>
      c.query(`INSERT INTO app.contacts (id, business_id, first_name, phone) VALUES ($1, $2, 'Dana', '+15557654321')`, [
        contactId,
        bid,
      ]),
    );
    const conv = await call(`/api/businesses/${bid}/conversations`, {
      token: member.accessToken,
      body: { contact_id: contactId },
    });
    expect(conv.status).toBe(201);
    expect(conv.json.our_number).toBe(NUMBER2);
    conversationId = conv.json.id;
    const sent = await call(`/api/businesses/${bid}/conversations/${conversationId}/messages`, {
      token: member.accessToken,
      body: { body: 'Your rate lock is confirmed.' },
    });
    // Queued in the request, delivered by the outbox job.
    expect(sent.status).toBe(202);
    expect(sent.json).toMatchObject({ direction: 'outbound', status: 'queued', sender_user_id: member.userId });
    await vi.waitFor(() => expect(fake.messages.at(-1)?.statusCallback).toContain(sent.json.id), {
      timeout: 15_000,
      interval: 50,
    });
    const twilioMsg = fake.messages.at(-1)!;
    expect(twilioMsg).toMatchObject({
      accountSid: acct2.sid,
      from: NUMBER2,
      to: '+15557654321',
      body: 'Your rate lock is confirmed.',
    });
    expect(twilioMsg.statusCallback).toBe(`${cfg2.webhooks.status}?m=${sent.json.id}`);
    const stored = async () =>
      (
        await asOwner(s.engine, (c) =>
          c.query(
            'SELECT m.twilio_sid, m.status, o.state FROM app.messages m JOIN app.outbox o ON o.id = m.id WHERE m.id = $1',
            [sent.json.id],
          ),
        )
      ).rows[0];
    await vi.waitFor(async () => expect((await stored())?.state).toBe('sent'), { timeout: 10_000, interval: 50 });
    expect(await stored()).toEqual({ twilio_sid: twilioMsg.sid, status: 'sending', state: 'sent' });
  });

  it('status callbacks move forward only, even out of order', async () => {
    const msg = fake.messages.at(-1)!;
    const status = async () =>
      (
        await asOwner(s.engine, (c) =>
          c.query<{ status: string }>('SELECT status FROM app.messages WHERE twilio_sid = $1', [msg.sid]),
        )
      ).rows[0]!.status;
    expect((await fake.deliverStatus(msg.sid, 'delivered')).status).toBe(200);
    expect(await status()).toBe('delivered');
    expect((await fake.deliverStatus(msg.sid, 'sent')).status).toBe(200);
    expect(await status()).toBe('delivered');
    await fake.deliverStatus(msg.sid, 'failed');
    expect(await status()).toBe('delivered');
  });

  it('maps Twilio 21610 to an opt-out for that number and does not retry', async () => {
    fake.failSendsTo({ code: 21610 }, '+15557654321');
    const refused = await call(`/api/businesses/${bid}/conversations/${conversationId}/messages`, {
      token: member.accessToken,
      body: { body: 'Checking in' },
    });
    expect(refused.status).toBe(202); // queued; Twilio refuses at delivery
    const optOut = async () =>
      (
        await asOwner(s.engine, (c) =>
          c.query('SELECT our_number FROM app.sms_opt_outs WHERE business_id = $1 AND contact_id = $2', [
            bid,
            contactId,
          ]),
        )
      ).rows;
    await vi.waitFor(async () => expect(await optOut()).toEqual([{ our_number: NUMBER2 }]), {
      timeout: 15_000,
      interval: 50,
    });
    const failed = await asOwner(s.engine, (c) =>
      c.query(
        'SELECT m.status, m.error_code, o.state FROM app.messages m JOIN app.outbox o ON o.id = m.id WHERE m.id = $1',
        [refused.json.id],
      ),
    );
    expect(failed.rows[0]).toEqual({ status: 'failed', error_code: 'twilio_21610', state: 'failed' });
    const before = fake.requests.length;
    const again = await call(`/api/businesses/${bid}/conversations/${conversationId}/messages`, {
      token: admin.accessToken,
      body: { body: 'Hello?' },
    });
    expect(again.json.error.code).toBe('contact_opted_out');
    expect(fake.requests.length).toBe(before); // refused before calling Twilio
  });

  it('admin and owner remove configurations; the token is deleted from the vault', async () => {
    const secrets = async () =>
      Number(
        (
          await asOwner(s.engine, (c) =>
            c.query<{ n: string }>('SELECT count(*) AS n FROM vault.secrets WHERE business_id = $1', [bid]),
          )
        ).rows[0]!.n,
      );
    expect(await secrets()).toBe(2);
    expect((await call(`${base()}/twilio/${cfg1.id}`, { method: 'DELETE', token: admin.accessToken })).status).toBe(
      204,
    );
    expect(await secrets()).toBe(1);
    expect((await call(`${base()}/twilio/${cfg2.id}`, { method: 'DELETE', token: owner.accessToken })).status).toBe(
      204,
    );
    expect(await secrets()).toBe(0);
    expect((await call(`${base()}/twilio/${cfg2.id}`, { method: 'DELETE', token: owner.accessToken })).status).toBe(
      404,
    );
  });

  it('wrote exactly one audit row per change, with actor and time; members cannot read it', async () => {
    const res = await call(`${base()}/audit?limit=2`, { token: owner.accessToken });
    expect(res.status).toBe(200);
    expect(res.json.items).toHaveLength(2);
    const rest = await call(`${base()}/audit?limit=50&cursor=${res.json.next_cursor}`, { token: admin.accessToken });
    const all = [...res.json.items, ...rest.json.items].reverse();
    expect(all.map((e: any) => [e.action, e.subject_id, e.actor_email])).toEqual([
      ['twilio.config.added', cfg1.id, admin.email],
      ['twilio.config.added', cfg2.id, owner.email],
      ['twilio.config.default_set', cfg2.id, admin.email],
      ['twilio.config.removed', cfg1.id, admin.email],
      ['twilio.config.removed', cfg2.id, owner.email],
    ]);
    for (const e of all) {
      expect(Date.parse(e.occurred_at)).toBeGreaterThan(Date.now() - 10 * 60_000);
      expect(e.details.account_sid_masked).toMatch(/^AC…[0-9a-f]{4}$/);
      expect(e.ip).toBe('127.0.0.1');
    }
    const denied = await call(`${base()}/audit`, { token: member.accessToken });
    expect(denied.status).toBe(403);
  });

  it('no response body, header, log line or error message contains any token', async () => {
    expect(captured.length).toBeGreaterThan(20);
    expect(s.logLines.length).toBeGreaterThan(20);
    const haystacks = [...captured, ...s.logLines];
    for (const token of [acct1.authToken, acct2.authToken, wrongToken]) {
      for (const text of haystacks) expect(text.includes(token), `token found in: ${text.slice(0, 200)}`).toBe(false);
    }
    // Positive control: the capture does contain what it should (the masked SID, the numbers).
    expect(haystacks.some((t) => t.includes(`AC…${acct1.sid.slice(-4)}`))).toBe(true);
  });
});

describe('Twilio webhooks', () => {
  let cfg: any;
  const acct = () => acct1;
  const messagesWithSid = async (sid: string) =>
    Number(
      (
        await asOwner(s.engine, (c) =>
          c.query<{ n: string }>('SELECT count(*) AS n FROM app.messages WHERE twilio_sid = $1', [sid]),
        )
      ).rows[0]!.n,
    );
  const inbound = (body: string, sid = randomSid('SM'), from = '+15551112222') =>
    fake.sendInbound(cfg.webhooks.sms, acct(), { from, to: NUMBER1, body, messageSid: sid });

  beforeAll(async () => {
    const r = await call(`${base()}/twilio`, { token: owner.accessToken, body: configBody(acct1, NUMBER1) });
    expect(r.status).toBe(201);
    cfg = r.json;
  });

  it('accepts a validly signed inbound SMS, creating the contact (source sms) and conversation', async () => {
    const sid = randomSid('SM');
    const res = await inbound('Hi, is the rate still 6.1%?', sid, '+15553334444');
    expect(res.status).toBe(200);
    expect(res.body).toContain('<Response>');
    const row = await asOwner(s.engine, (c) =>
      c.query(
        `SELECT m.direction, m.status, c.source::text AS source, v.our_number, v.unread_count FROM app.messages m
         JOIN app.conversations v ON v.id = m.conversation_id JOIN app.contacts c ON c.id = v.contact_id WHERE m.twilio_sid = $1`,
        [sid],
      ),
    );
    expect(row.rows).toEqual([
      { direction: 'inbound', status: 'received', source: 'sms', our_number: NUMBER1, unread_count: 1 },
    ]);
  });

  it('stores a retried MessageSid once', async () => {
    const sid = randomSid('SM');
    expect((await inbound('twice', sid)).status).toBe(200);
    expect((await inbound('twice', sid)).status).toBe(200);
    expect(await messagesWithSid(sid)).toBe(1);
  });

  it('answers 403 to a tampered body, another URL, a missing header or an unknown configuration — and stores nothing', async () => {
    const sid = randomSid('SM');
    const params = { AccountSid: acct1.sid, Body: 'original', From: '+15556667777', MessageSid: sid, To: NUMBER1 };
    const signature = twilioSignature(acct1.authToken, cfg.webhooks.sms, params);
    const attempts = [
      fake.postSigned(cfg.webhooks.sms, acct1.authToken, { ...params, Body: 'tampered' }, { signature }),
      fake.postSigned(cfg.webhooks.sms, acct1.authToken, params, {
        signUrl: cfg.webhooks.sms.replace('/sms', '/status'),
      }),
      fake.postSigned(cfg.webhooks.sms, acct1.authToken, params, {
        signUrl: cfg.webhooks.sms.replace('127.0.0.1', 'evil.example'),
      }),
      fake.postSigned(cfg.webhooks.sms, acct1.authToken, params, { signature: null }),
      fake.postSigned(cfg.webhooks.sms, acct2.authToken, params),
      fake.postSigned(cfg.webhooks.sms.replace(cfg.id, randomUUID()), acct1.authToken, params),
      fake.postSigned(cfg.webhooks.sms.replace(cfg.id, 'not-a-uuid'), acct1.authToken, params),
    ];
    const results = await Promise.all(attempts);
    const bodies = new Set(results.map((r) => r.body));
    expect(results.map((r) => r.status)).toEqual(Array(attempts.length).fill(403));
    expect(bodies.size).toBe(1); // the same answer whatever was wrong
    expect(JSON.parse([...bodies][0]!).error.code).toBe('invalid_signature');
    expect(await messagesWithSid(sid)).toBe(0);
    // Positive control: the untampered request is accepted.
    expect((await fake.postSigned(cfg.webhooks.sms, acct1.authToken, params, { signature })).status).toBe(200);
    expect(await messagesWithSid(sid)).toBe(1);
  });

  it('STOP opts the contact out of that number, START opts back in, HELP is recorded', async () => {
    const from = '+15558889999';
    const optedOut = async () =>
      (
        await asOwner(s.engine, (c) =>
          c.query(
            `SELECT o.keyword FROM app.sms_opt_outs o JOIN app.contacts c ON c.id = o.contact_id WHERE c.phone = $1 AND o.our_number = $2`,
            [from, NUMBER1],
          ),
        )
      ).rows;
    await inbound('hello', randomSid('SM'), from);
    expect(await optedOut()).toEqual([]);
    await inbound('  stop ', randomSid('SM'), from);
    expect(await optedOut()).toEqual([{ keyword: 'STOP' }]);
    await inbound('START', randomSid('SM'), from);
    expect(await optedOut()).toEqual([]);
    await inbound('unsubscribe', randomSid('SM'), from);
    expect(await optedOut()).toEqual([{ keyword: 'UNSUBSCRIBE' }]);
    await inbound('UNSTOP', randomSid('SM'), from);
    expect(await optedOut()).toEqual([]);
    // As phones type them: capitalised, punctuated, spaced — and the 2025 keywords.
    for (const [text, keyword] of [
      ['Stop.', 'STOP'],
      ['STOP!', 'STOP'],
      ['Revoke', 'REVOKE'],
      ['opt out', 'OPTOUT'],
      ['Opt-out', 'OPTOUT'],
    ] as const) {
      await inbound(text, randomSid('SM'), from);
      expect(await optedOut(), text).toEqual([{ keyword }]);
      await inbound('Start.', randomSid('SM'), from);
      expect(await optedOut(), text).toEqual([]);
    }
    // A sentence that only contains a keyword is an ordinary reply.
    await inbound('stop please, I will call you', randomSid('SM'), from);
    expect(await optedOut()).toEqual([]);
    const helpSid = randomSid('SM');
    await inbound('HELP', helpSid, from);
    expect(await messagesWithSid(helpSid)).toBe(1);
    const events = await asOwner(s.engine, (c) =>
      c.query<{ kind: string }>(
        `SELECT e.kind FROM app.contact_events e JOIN app.contacts c ON c.id = e.contact_id WHERE c.phone = $1 AND e.kind IN ('opted_out', 'opted_in') ORDER BY e.created_at, e.kind`,
        [from],
      ),
    );
    expect(events.rows.map((r) => r.kind)).toEqual(Array(7).fill(['opted_out', 'opted_in']).flat());
  });

  it('a status callback that overtakes the send finds the message by the id in its URL; unknown SIDs are ignored', async () => {
    const contact = randomUUID();
    const conv = randomUUID();
    const message = randomUUID();
    await asOwner(s.engine, async (c) => {
      await c.query(
        `INSERT INTO app.contacts (id, business_id, first_name, phone) VALUES ($1, $2, 'Race', '+15550203040')`,
        [contact, bid],
      );
      await c.query(
        `INSERT INTO app.conversations (id, business_id, contact_id, our_number, twilio_config_id) VALUES ($1, $2, $3, $4, $5)`,
        [conv, bid, contact, NUMBER1, cfg.id],
      );
      await c.query(
        `INSERT INTO app.messages (id, business_id, conversation_id, direction, body, status, sender_user_id) VALUES ($1, $2, $3, 'outbound', 'hi', 'queued', $4)`,
        [message, bid, conv, member.userId],
      );
    });
    const sid = randomSid('SM');
    const res = await fake.postSigned(`${cfg.webhooks.status}?m=${message}`, acct1.authToken, {
      AccountSid: acct1.sid,
      MessageSid: sid,
      MessageStatus: 'sent',
      To: '+15550203040',
      From: NUMBER1,
    });
    expect(res.status).toBe(200);
    const row = await asOwner(s.engine, (c) =>
      c.query('SELECT twilio_sid, status FROM app.messages WHERE id = $1', [message]),
    );
    expect(row.rows[0]).toEqual({ twilio_sid: sid, status: 'sent' });
    const unknown = await fake.postSigned(cfg.webhooks.status, acct1.authToken, {
      AccountSid: acct1.sid,
      MessageSid: randomSid('SM'),
      MessageStatus: 'delivered',
    });
    expect(unknown.status).toBe(200);
  });

  it('refuses a status callback with a bad signature and leaves the status alone', async () => {
    const msg = fake.messages.find((m) => m.statusCallback)!;
    const params = { AccountSid: acct2.sid, MessageSid: msg.sid, MessageStatus: 'failed' };
    const res = await fake.postSigned(`${s.config.publicUrl}/webhooks/twilio/${cfg.id}/status`, randomToken(), params);
    expect(res.status).toBe(403);
  });
});

describe('demo workspaces', () => {
  it('cannot add configurations or send texts', async () => {
    const demoOwner = await signUp(s, { verified: true });
    const demo = (await newBusiness(s.engine, demoOwner.userId)).id;
    const added = await call(`/api/businesses/${demo}/integrations/twilio`, {
      token: demoOwner.accessToken,
      body: configBody(acct1, NUMBER1),
    });
    expect(added.status).toBe(201); // positive control while it is a normal business
    const contact = randomUUID();
    await asOwner(s.engine, async (c) => {
      await c.query(
        `INSERT INTO app.contacts (id, business_id, first_name, phone) VALUES ($1, $2, 'Demo', '+15550102030')`,
        [contact, demo],
      );
      await c.query(
        `UPDATE app.businesses SET is_demo = true, demo_expires_at = now() + interval '1 day' WHERE id = $1`,
        [demo],
      );
    });
    const again = await call(`/api/businesses/${demo}/integrations/twilio`, {
      token: demoOwner.accessToken,
      body: configBody(acct2, NUMBER2),
    });
    expect(again.status).toBe(403);
    expect(again.json.error.code).toBe('demo_restricted');
    const conv = await call(`/api/businesses/${demo}/conversations`, {
      token: demoOwner.accessToken,
      body: { contact_id: contact },
    });
    const before = fake.messages.length;
    const sent = await call(`/api/businesses/${demo}/conversations/${conv.json.id}/messages`, {
      token: demoOwner.accessToken,
      body: { body: 'hi' },
    });
    expect(sent.status).toBe(403);
    expect(sent.json.error.code).toBe('demo_restricted');
    expect(fake.messages.length).toBe(before);
  });
});

describe('concurrent changes', () => {
  it('two configurations added at once: both stored, exactly one default, a linear audit chain', async () => {
    const boss = await signUp(s, { verified: true });
    const b = (await newBusiness(s.engine, boss.userId)).id;
    const [x, y] = [fake.addAccount(), fake.addAccount()];
    const results = await Promise.all([
      call(`/api/businesses/${b}/integrations/twilio`, {
        token: boss.accessToken,
        body: configBody(x, '+15005550101'),
      }),
      call(`/api/businesses/${b}/integrations/twilio`, {
        token: boss.accessToken,
        body: configBody(y, '+15005550102'),
      }),
    ]);
    expect(results.map((r) => r.status)).toEqual([201, 201]);
    expect(results.filter((r) => r.json.is_default)).toHaveLength(1);
    const { verifyAuditChains } = await import('../src/audit/verify.ts');
    expect(await asOwner(s.engine, (c) => verifyAuditChains(c, b))).toMatchObject({ rows: 2, broken: [] });
  });
});
