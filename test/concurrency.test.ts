// Concurrency: the database decides races, not the application's timing.
// - 100 parallel refreshes of one token → one live successor at most;
// - 100 parallel "set default" calls → exactly one default configuration;
// - two admins adding the same number at once → one configuration, one audit row.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asOwner } from '../src/db/engine.ts';
import { addMember, newBusiness } from './support/factories.ts';
import { refresh, signUp, type SignedUpUser } from './support/auth.ts';
import { request } from './support/http.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { startTwilioFake, type TwilioFake } from './fakes/twilio.ts';

let s: TestServer;
let fake: TwilioFake;
let owner: SignedUpUser;
let admin: SignedUpUser;
let bid: string;

beforeAll(async () => {
  fake = await startTwilioFake({ autoStatusCallbacks: false });
  s = await startTestServer({ TWILIO_API_BASE: fake.url });
  owner = await signUp(s, { verified: true });
  admin = await signUp(s, { verified: true });
  bid = (await newBusiness(s.engine, owner.userId)).id;
  await addMember(s.engine, bid, admin.userId, 'admin');
});
afterAll(async () => {
  await s?.stop();
  await fake?.close();
});

const count = async (sql: string, params: unknown[]) =>
  Number((await asOwner(s.engine, (c) => c.query<{ n: string }>(sql, params))).rows[0]!.n);

describe('races decided by the database', () => {
  it('100 parallel refreshes of one token leave at most one live successor', async () => {
    const user = await signUp(s);
    const results = await Promise.all(
      Array.from({ length: 100 }, () => refresh(s, user.refreshCookie, { origin: s.url })),
    );
    const ok = results.filter((r) => r.status === 200);
    expect(ok.length).toBeGreaterThan(0); // positive control: racing tabs are answered
    for (const r of results) expect([200, 401, 429]).toContain(r.status);
    const live = await count(
      `SELECT count(*) AS n FROM auth.refresh_tokens WHERE session_id = $1 AND revoked_at IS NULL AND rotated_at IS NULL`,
      [user.sessionId],
    );
    expect(live).toBeLessThanOrEqual(1);
  });

  it('100 parallel "set default" calls over several configurations leave exactly one default', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const a = fake.addAccount();
      const r = await request(`${s.url}/api/businesses/${bid}/integrations/twilio`, {
        token: owner.accessToken,
        body: {
          friendly_name: `Line ${i}`,
          account_sid: a.sid,
          auth_token: a.authToken,
          phone_number: `+1202555010${i}`,
        },
      });
      expect(r.status).toBe(201);
      ids.push(r.json.id);
    }
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, k) =>
        request(`${s.url}/api/businesses/${bid}/integrations/twilio/${ids[k % ids.length]}/default`, {
          method: 'POST',
          token: k % 2 ? owner.accessToken : admin.accessToken,
        }),
      ),
    );
    for (const r of results) expect(r.status, r.text).toBeLessThan(500);
    expect(results.some((r) => r.status === 200)).toBe(true);
    expect(
      await count(`SELECT count(*) AS n FROM app.twilio_configs WHERE business_id = $1 AND is_default`, [bid]),
    ).toBe(1);
  });

  it('two admins adding the same number at once get one configuration and one audit row', async () => {
    const a = fake.addAccount();
    const body = {
      friendly_name: 'Same line',
      account_sid: a.sid,
      auth_token: a.authToken,
      phone_number: '+12025550199',
    };
    const before = await count(
      `SELECT count(*) AS n FROM audit.integration_events WHERE business_id = $1 AND action = 'twilio.config.added'`,
      [bid],
    );
    const [x, y] = await Promise.all([
      request(`${s.url}/api/businesses/${bid}/integrations/twilio`, { token: owner.accessToken, body }),
      request(`${s.url}/api/businesses/${bid}/integrations/twilio`, { token: admin.accessToken, body }),
    ]);
    expect([x.status, y.status].sort()).toEqual([201, 409]);
    expect(
      await count(`SELECT count(*) AS n FROM app.twilio_configs WHERE business_id = $1 AND phone_number = $2`, [
        bid,
        body.phone_number,
      ]),
    ).toBe(1);
    const after = await count(
      `SELECT count(*) AS n FROM audit.integration_events WHERE business_id = $1 AND action = 'twilio.config.added'`,
      [bid],
    );
    expect(after - before).toBe(1);
  });
});
