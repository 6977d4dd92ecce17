// Twilio webhook signatures: the fake signs exactly as Twilio does and our validator
// agrees with the official `twilio` package on valid and tampered requests alike.
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isValidTwilioSignature, twilioSignature } from '../src/integrations/twilio/signature.ts';
import {
  randomSid,
  randomToken,
  startTwilioFake,
  twilioSignature as fakeSignature,
  type TwilioFake,
} from './fakes/twilio.ts';

const require = createRequire(import.meta.url);
const twilio = require('twilio') as {
  validateRequest(token: string, header: string, url: string, params: Record<string, unknown>): boolean;
};

const token = randomToken();
const url = 'https://capto.example.test/webhooks/twilio/0b9c2c1e-1f7e-4a57-9a55-3f2b8f0c4b11/sms';
const params = {
  AccountSid: randomSid('AC'),
  Body: 'Hello? ünïcödé & =+%',
  From: '+15551230001',
  MessageSid: randomSid('SM'),
  To: '+15551230002',
};

describe('Twilio signature', () => {
  it('matches the official library for the fake and for our implementation', () => {
    const sig = fakeSignature(token, url, params);
    expect(twilio.validateRequest(token, sig, url, params)).toBe(true);
    expect(twilioSignature(token, url, params)).toBe(sig);
    expect(isValidTwilioSignature(token, sig, url, params)).toBe(true);
  });

  it('agrees with the official library on arbitrary parameters, tampering included', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }), fc.string({ maxLength: 40 }), { maxKeys: 8 }),
        // Path-like suffixes only: the official library also accepts re-encoded query
        // strings and trims whitespace; ours checks the one URL we computed ourselves.
        fc.string({ unit: fc.constantFrom('a', 'b', '1', '/', '_', '-', '.'), maxLength: 10 }),
        (p, suffix) => {
          const clean = Object.fromEntries(Object.entries(p).filter(([k]) => k !== '__proto__'));
          const sig = fakeSignature(token, url, clean);
          expect(twilio.validateRequest(token, sig, url, clean)).toBe(true);
          expect(isValidTwilioSignature(token, sig, url, clean)).toBe(true);
          const tamperedUrl = url + suffix;
          expect(isValidTwilioSignature(token, sig, tamperedUrl, clean)).toBe(
            twilio.validateRequest(token, sig, tamperedUrl, clean),
          );
        },
      ),
      { numRuns: 200 },
    );
  });

  it('rejects a tampered body, another URL, another token and a missing or malformed header', () => {
    const sig = twilioSignature(token, url, params);
    expect(isValidTwilioSignature(token, sig, url, { ...params, Body: 'Hello!' })).toBe(false);
    expect(twilio.validateRequest(token, sig, url, { ...params, Body: 'Hello!' })).toBe(false);
    expect(isValidTwilioSignature(token, sig, url.replace('/sms', '/status'), params)).toBe(false);
    expect(isValidTwilioSignature(randomToken(), sig, url, params)).toBe(false);
    expect(isValidTwilioSignature(token, undefined, url, params)).toBe(false);
    expect(isValidTwilioSignature(token, '', url, params)).toBe(false);
    expect(isValidTwilioSignature(token, sig.slice(0, -2), url, params)).toBe(false);
    expect(isValidTwilioSignature(token, 'x'.repeat(4096), url, params)).toBe(false);
  });

  it('accepts the URL with or without the default port, like Twilio', () => {
    const withPort = 'https://capto.example.test:443/webhooks/twilio/x/sms';
    const sig = twilioSignature(token, withPort, params);
    expect(isValidTwilioSignature(token, sig, 'https://capto.example.test/webhooks/twilio/x/sms', params)).toBe(true);
    expect(twilio.validateRequest(token, sig, 'https://capto.example.test/webhooks/twilio/x/sms', params)).toBe(true);
    expect(isValidTwilioSignature(token, sig, 'https://capto.example.test:8443/webhooks/twilio/x/sms', params)).toBe(
      false,
    );
  });
});

describe('the Twilio fake', () => {
  let fake: TwilioFake;
  beforeAll(async () => {
    fake = await startTwilioFake();
  });
  afterAll(async () => fake?.close());

  const basic = (sid: string, tok: string) => `Basic ${Buffer.from(`${sid}:${tok}`).toString('base64')}`;

  it('answers account lookups with Basic auth and 401 (code 20003) otherwise', async () => {
    const acct = fake.addAccount();
    const ok = await fetch(`${fake.url}/2010-04-01/Accounts/${acct.sid}.json`, {
      headers: { authorization: basic(acct.sid, acct.authToken) },
    });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { sid: string }).sid).toBe(acct.sid);
    const bad = await fetch(`${fake.url}/2010-04-01/Accounts/${acct.sid}.json`, {
      headers: { authorization: basic(acct.sid, randomToken()) },
    });
    expect(bad.status).toBe(401);
    expect(((await bad.json()) as { code: number }).code).toBe(20003);
  });

  it('queues messages and returns configured errors', async () => {
    const acct = fake.addAccount();
    const send = (to: string) =>
      fetch(`${fake.url}/2010-04-01/Accounts/${acct.sid}/Messages.json`, {
        method: 'POST',
        headers: {
          authorization: basic(acct.sid, acct.authToken),
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ To: to, From: '+15550000001', Body: 'hi' }).toString(),
      });
    const ok = await send('+15550000002');
    expect(ok.status).toBe(201);
    const m = (await ok.json()) as { sid: string; status: string };
    expect(m.sid).toMatch(/^SM[0-9a-f]{32}$/);
    expect(m.status).toBe('queued');
    fake.failSendsTo({ code: 21610 }, '+15550000003');
    const refused = await send('+15550000003');
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { code: number }).code).toBe(21610);
  });
});
