// Hostile text (docs/SECURITY.md "Hostile text"): what the database cannot store never
// becomes a 5xx. The database's own refusal (class 22) maps to 400 on both engines, and
// the Twilio webhook — whose sender retries every 5xx — strips NUL and lone surrogates
// after checking the signature over the raw form, and stores the rest of the message.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asOwner } from '../src/db/engine.ts';
import { mapDatabaseError } from '../src/db/errors.ts';
import { findUnstorableText, isStorableText, toStorableText } from '../src/shared/text.ts';
import { newBusiness } from './support/factories.ts';
import { signUp, type SignedUpUser } from './support/auth.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { request } from './support/http.ts';
import { randomSid, startTwilioFake, type FakeAccount, type TwilioFake } from './fakes/twilio.ts';

let s: TestServer;
let fake: TwilioFake;
let acct: FakeAccount;
let owner: SignedUpUser;
let bid: string;
const NUMBER = '+15005550009';

beforeAll(async () => {
  fake = await startTwilioFake();
  acct = fake.addAccount();
  s = await startTestServer({ TWILIO_API_BASE: fake.url });
  owner = await signUp(s, { verified: true });
  bid = (await newBusiness(s.engine, owner.userId)).id;
});
afterAll(async () => {
  await s?.stop();
  await fake?.close();
});

describe('the text check', () => {
  it('tells storable text from NUL and lone surrogates, and finds them in nested input', () => {
    expect(isStorableText('Zoë 😀 ok')).toBe(true);
    for (const bad of ['\u0000', 'a\u0000b', '\ud800', 'x\udfffy', '\udc00\ud800'])
      expect(isStorableText(bad)).toBe(false);
    expect(toStorableText('a\u0000b\ud800c😀')).toBe('abc😀');
    expect(findUnstorableText({ a: [{ b: 'ok' }, { c: 'x\u0000' }] })).toBe('a[1].c');
    expect(findUnstorableText({ ['k\u0000']: 'v' })).toBe('(a field name)');
    expect(findUnstorableText({ a: ['fine', 1, null, true] })).toBeUndefined();
  });
});

describe('the database refusing a value is a 400, never a 500', () => {
  it('NUL in a text parameter: the engine’s own error maps to validation_failed', async () => {
    const err = await asOwner(s.engine, (c) => c.query('SELECT $1::text AS t', ['a\u0000b'])).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeDefined();
    expect(String((err as { code?: string }).code)).toMatch(/^22/);
    const mapped = mapDatabaseError(err);
    expect(mapped?.code).toBe('validation_failed');
    expect(mapped?.status).toBe(400);
  });

  it('NUL inside JSON (jsonb) maps the same way', async () => {
    const err = await asOwner(s.engine, (c) => c.query('SELECT $1::jsonb AS j', ['{"a":"x\\u0000y"}'])).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(String((err as { code?: string }).code)).toMatch(/^22/);
    expect(mapDatabaseError(err)?.status).toBe(400);
  });

  it('every other data exception (class 22) is a 400 too', () => {
    for (const code of ['22021', '22P05', '22001', '22P02', '22003', '22007', '22008', '22012', '22023', '2200N'])
      expect(mapDatabaseError({ code })?.status).toBe(400);
    expect(mapDatabaseError({ code: '54000' })?.status).toBe(400); // index row too large
    expect(mapDatabaseError({ code: 'XX000' })).toBeUndefined(); // an internal error stays a bug (500)
  });
});

describe('over HTTP', () => {
  it('a NUL in a body field, query, path or JSON key is 400 validation_failed; the clean request works', async () => {
    const auth = { token: owner.accessToken };
    const create = (first_name: string) =>
      request(`${s.url}/api/businesses/${bid}/contacts`, { ...auth, body: { first_name, email: 'nul@example.test' } });
    for (const res of [
      await create('Ann\u0000'),
      await request(`${s.url}/api/businesses/${bid}/contacts?q=a%00`, auth),
      await request(`${s.url}/api/businesses/${bid}/contacts?cursor=%00`, auth),
      await request(`${s.url}/api/businesses/${bid}%00/contacts`, auth),
      await request(`${s.url}/api/businesses/${bid}/contacts?q=%ED%A0%80`, auth),
      await request(`${s.url}/api/businesses`, { ...auth, body: { ['name\u0000']: 'x', name: 'Acme' } }),
      await request(`${s.url}/auth/signin`, { body: { email: 'a\u0000@example.test', password: 'whatever-password' } }),
    ]) {
      expect(res.status).toBe(400);
      expect((res.json as { error: { code: string } }).error.code).toBe('validation_failed');
    }
    const ok = await create('Ann');
    expect(ok.status).toBe(201);
  });
});

describe('the Twilio webhook', () => {
  it('a signed inbound SMS with NUL in its Body is stored without it, never a 5xx (Twilio would retry)', async () => {
    const added = await request<{ id: string; webhooks: { sms: string } }>(
      `${s.url}/api/businesses/${bid}/integrations/twilio`,
      {
        token: owner.accessToken,
        body: { friendly_name: 'Line', account_sid: acct.sid, auth_token: acct.authToken, phone_number: NUMBER },
      },
    );
    expect(added.status).toBe(201);
    const sid = randomSid('SM');
    const res = await fake.sendInbound(added.json.webhooks.sms, acct, {
      from: '+15551119999',
      to: NUMBER,
      body: 'hel\u0000lo \u0000there',
      messageSid: sid,
    });
    expect(res.status).toBe(200);
    const stored = await asOwner(s.engine, (c) =>
      c.query<{ body: string }>('SELECT body FROM app.messages WHERE twilio_sid = $1', [sid]),
    );
    expect(stored.rows).toEqual([{ body: 'hello there' }]);
  });
});
