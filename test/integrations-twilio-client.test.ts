// The Twilio client never sends credentials anywhere but the operator's API base: a
// redirect is refused (not followed), and failures name no credential.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTwilioClient, TwilioApiError } from '../src/integrations/twilio/client.ts';
import { randomSid, randomToken, startTwilioFake, type TwilioFake } from './fakes/twilio.ts';

let fake: TwilioFake;
let elsewhere: http.Server;
let redirector: http.Server;
const seenElsewhere: Array<string | undefined> = [];
const url = (s: http.Server) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`;

beforeAll(async () => {
  fake = await startTwilioFake();
  elsewhere = http.createServer((req, res) => {
    seenElsewhere.push(req.headers.authorization);
    res.end('{}');
  });
  await new Promise<void>((r) => elsewhere.listen(0, '127.0.0.1', r));
  redirector = http.createServer((req, res) => {
    res.writeHead(307, { location: `${url(elsewhere)}${req.url}` });
    res.end();
  });
  await new Promise<void>((r) => redirector.listen(0, '127.0.0.1', r));
});
afterAll(async () => {
  await fake?.close();
  elsewhere?.closeAllConnections();
  redirector?.closeAllConnections();
  await new Promise((r) => elsewhere?.close(r));
  await new Promise((r) => redirector?.close(r));
});

describe('Twilio client', () => {
  it('verifies credentials against the API base (positive and negative)', async () => {
    const acct = fake.addAccount();
    const client = createTwilioClient(fake.url);
    expect(await client.verifyCredentials(acct.sid, acct.authToken)).toBe(true);
    expect(await client.verifyCredentials(acct.sid, randomToken())).toBe(false);
    expect(await client.verifyCredentials(randomSid('AC'), acct.authToken)).toBe(false);
  });

  it('refuses to follow a redirect, so the token never reaches another host', async () => {
    const token = randomToken();
    const client = createTwilioClient(url(redirector));
    const err = await client.verifyCredentials(randomSid('AC'), token).then(
      () => null,
      (e: Error & { code?: string }) => e,
    );
    expect(err?.code).toBe('twilio_unreachable');
    expect(err?.message).not.toContain(token);
    expect(seenElsewhere).toEqual([]);
    const send = await client
      .sendMessage({
        accountSid: randomSid('AC'),
        authToken: token,
        from: '+15550000001',
        to: '+15550000002',
        body: 'x',
        statusCallback: 'https://capto.example/cb',
      })
      .then(
        () => null,
        (e: Error & { code?: string }) => e,
      );
    expect(send?.code).toBe('twilio_unreachable');
    expect(seenElsewhere).toEqual([]);
  });

  it('reports an unreachable API and Twilio error codes without any credential', async () => {
    const token = randomToken();
    const down = createTwilioClient('http://127.0.0.1:1');
    const err = await down.verifyCredentials(randomSid('AC'), token).then(
      () => null,
      (e: Error & { code?: string }) => e,
    );
    expect(err?.code).toBe('twilio_unreachable');
    expect(JSON.stringify({ m: err?.message, c: String((err as { cause?: unknown })?.cause) })).not.toContain(token);
    const acct = fake.addAccount();
    fake.failSendsTo({ code: 21610 });
    const refused = await createTwilioClient(fake.url)
      .sendMessage({
        accountSid: acct.sid,
        authToken: acct.authToken,
        from: '+15550000001',
        to: '+15550000002',
        body: 'x',
        statusCallback: 'https://capto.example/cb',
      })
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(refused).toBeInstanceOf(TwilioApiError);
    expect(refused).toMatchObject({ code: 21610, httpStatus: 400 });
    expect((refused as Error).message).not.toContain(acct.authToken);
  });
});
