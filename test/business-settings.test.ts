// Business settings for outreach: time zone (IANA, validated by the route and by the
// database) and postal address, changed by owners/admins only — through HTTP and, for
// the role rule and the time zone check, directly in SQL as the request role.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asOwner } from '../src/db/engine.ts';
import { signUp, type SignedUpUser } from './support/auth.ts';
import { request } from './support/http.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { probe, summarise } from './support/tenancy.ts';
import { createBusinessHttp, httpWorkspace, type HttpWorkspace } from './support/workspace.ts';

let s: TestServer;
let w: HttpWorkspace;
let outsider: SignedUpUser;

beforeAll(async () => {
  s = await startTestServer({ CAPTO_SCAN_ON_START: 'off' });
  w = await httpWorkspace(s);
  outsider = await signUp(s, { verified: true });
  await createBusinessHttp(s, outsider, 'Elsewhere Lending');
}, 240_000);
afterAll(async () => s?.stop());

const patch = (user: SignedUpUser, body: unknown) =>
  request(`${s.url}/api/businesses/${w.businessId}`, { method: 'PATCH', token: user.accessToken, body });
const stored = async () =>
  (
    await asOwner(s.engine, (c) =>
      c.query<{ time_zone: string; postal_address: string | null }>(
        'SELECT time_zone, postal_address FROM app.businesses WHERE id = $1',
        [w.businessId],
      ),
    )
  ).rows[0]!;

describe('time zone and postal address', () => {
  it('a new business is in America/New_York with no postal address', async () => {
    const res = await request(`${s.url}/api/businesses/${w.businessId}`, { token: w.member.accessToken });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ time_zone: 'America/New_York', postal_address: null });
  });

  it('an admin sets both; the owner changes the zone; "" clears the address', async () => {
    const res = await patch(w.admin, {
      time_zone: 'America/Los_Angeles',
      postal_address: ' 1 Main St, Springfield, IL 62701 ',
    });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      time_zone: 'America/Los_Angeles',
      postal_address: '1 Main St, Springfield, IL 62701',
    });
    expect(await stored()).toEqual({
      time_zone: 'America/Los_Angeles',
      postal_address: '1 Main St, Springfield, IL 62701',
    });
    const res2 = await patch(w.owner, { time_zone: 'Europe/Berlin' });
    expect(res2.status).toBe(200);
    expect(await stored()).toEqual({ time_zone: 'Europe/Berlin', postal_address: '1 Main St, Springfield, IL 62701' });
    const res3 = await patch(w.owner, { postal_address: '' });
    expect(res3.status).toBe(200);
    expect((await stored()).postal_address).toBeNull();
  });

  // ICU's list (Intl.supportedValuesOf) still has only the names IANA replaced (Asia/Calcutta,
  // Europe/Kiev …); PostgreSQL and Intl both know the current ones, and so must the route.
  it.each(['Asia/Kolkata', 'America/Indiana/Indianapolis', 'Europe/Kyiv', 'America/Nuuk', 'Asia/Calcutta', 'UTC'])(
    'accepts the IANA name %s and reads it back',
    async (tz) => {
      const res = await patch(w.owner, { time_zone: tz });
      expect(res.status).toBe(200);
      expect(res.json.time_zone).toBe(tz);
      expect((await stored()).time_zone).toBe(tz);
      const read = await request(`${s.url}/api/businesses/${w.businessId}`, { token: w.member.accessToken });
      expect(read.json.time_zone).toBe(tz);
    },
  );

  const refused = [
    'Mars/Olympus_Mons',
    'Mars/Olympus',
    'EST+5',
    'FOO+3',
    '+05:00', // an offset, which Intl accepts, is no zone (and has no DST)
    '',
    'america/new york',
    'x'.repeat(80),
    `America/${'x'.repeat(5000)}`,
  ];
  it.each(refused.map((tz) => [tz.length > 80 ? `of ${tz.length} characters` : JSON.stringify(tz), tz]))(
    'refuses the time zone %s with 400 validation_failed and changes nothing',
    async (_label, tz) => {
      const before = await stored();
      const res = await patch(w.owner, { time_zone: tz });
      expect(res.status).toBe(400);
      expect(res.json.error.code).toBe('validation_failed');
      // Refused by the route, which says what it expects (not only by the database's CHECK).
      expect(res.json.error.message).toMatch(/IANA time zone name/);
      expect(await stored()).toEqual(before);
    },
  );

  it('refuses a postal address over 500 characters', async () => {
    const res = await patch(w.owner, { postal_address: 'x'.repeat(501) });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('validation_failed');
  });

  it('a member gets 403 and an outsider 404; neither changes anything', async () => {
    const before = await stored();
    const m = await patch(w.member, { time_zone: 'Asia/Tokyo', postal_address: 'PO Box 1' });
    expect(m.status).toBe(403);
    expect(m.json.error.code).toBe('forbidden');
    const o = await patch(outsider, { time_zone: 'Asia/Tokyo' });
    expect(o.status).toBe(404);
    expect(await stored()).toEqual(before);
  });
});

describe('in the database (as capto_authenticated)', () => {
  const update = `UPDATE app.businesses SET time_zone = $2, postal_address = $3 WHERE id = $1`;

  it('the admin may update (positive control); a member and an outsider update no row', async () => {
    expect(summarise(await probe(s.db, w.admin.userId, update, [w.businessId, 'Asia/Tokyo', 'PO Box 9']))).toBe('ok');
    expect(summarise(await probe(s.db, w.member.userId, update, [w.businessId, 'Asia/Tokyo', 'PO Box 9']))).toBe(
      'none',
    );
    expect(summarise(await probe(s.db, outsider.userId, update, [w.businessId, 'Asia/Tokyo', 'PO Box 9']))).toBe(
      'none',
    );
  });

  it('the CHECK refuses a zone PostgreSQL does not know or a POSIX string, even from an admin', async () => {
    for (const tz of ['Mars/Olympus_Mons', 'FOO+3', 'UTC; DROP TABLE x']) {
      const o = await probe(s.db, w.admin.userId, update, [w.businessId, tz, null]);
      expect(o).toMatchObject({ kind: 'error', code: '23514' });
    }
    // …and accepts the real ones.
    for (const tz of ['UTC', 'America/Argentina/Buenos_Aires', 'Etc/GMT+5']) {
      expect(summarise(await probe(s.db, w.admin.userId, update, [w.businessId, tz, null]))).toBe('ok');
    }
  });
});
