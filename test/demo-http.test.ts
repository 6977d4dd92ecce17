// P9 end to end: "Try the demo" yields a signed-in demo user in a fresh, seeded,
// isolated workspace; a real sign-up after it gets a brand-new business with zero
// rows in EVERY tenant table (enumerated from the catalog, so a table added later is
// covered automatically); demo users see nothing else; the purge ends it all.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asOwner } from '../src/db/engine.ts';
import { purgeExpiredDemos } from '../src/demo/purge.ts';
import { refreshCookieFrom, signUp, type SignedUpUser } from './support/auth.ts';
import { request } from './support/http.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { createBusinessHttp } from './support/workspace.ts';

let s: TestServer;
let real: SignedUpUser;
let realBid: string;

beforeAll(async () => {
  // The scan gate has its own tests; skipping it here keeps this file's start-up short.
  s = await startTestServer({ CAPTO_SCAN_ON_START: 'off' });
  real = await signUp(s, { verified: true });
  realBid = await createBusinessHttp(s, real, 'Real Lending Co');
}, 240_000);
afterAll(async () => s?.stop());

async function startDemo() {
  const res = await request(`${s.url}/auth/demo`, { method: 'POST', body: {} });
  expect(res.status).toBe(201);
  return {
    token: res.json.access_token as string,
    userId: res.json.user.id as string,
    businessId: res.json.business_id as string,
    res,
  };
}

/** Every base table, in every schema of ours, that has a business_id column. */
async function tenantTables(): Promise<string[]> {
  const r = await asOwner(s.engine, (c) =>
    c.query<{ t: string }>(`
    SELECT format('%I.%I', n.nspname, cl.relname) AS t
      FROM pg_catalog.pg_attribute a
      JOIN pg_catalog.pg_class cl ON cl.oid = a.attrelid AND cl.relkind IN ('r', 'p')
      JOIN pg_catalog.pg_namespace n ON n.oid = cl.relnamespace
     WHERE a.attname = 'business_id' AND NOT a.attisdropped
       AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'capto_meta') AND n.nspname NOT LIKE 'pg\\_%'
     ORDER BY 1`),
  );
  return r.rows.map((x) => x.t);
}

async function rowCounts(businessId: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const table of await tenantTables()) {
    const r = await asOwner(s.engine, (c) =>
      c.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE business_id = $1`, [businessId]),
    );
    out[table] = r.rows[0]!.n;
  }
  return out;
}

describe('demo workspaces', () => {
  it('starts a signed-in demo user in a seeded demo business that ends within 24 hours', async () => {
    const demo = await startDemo();
    expect(demo.res.json.user.email).toMatch(/@demo\.capto\.invalid$/);
    const cookie = refreshCookieFrom(demo.res);
    expect(cookie).toBeDefined();
    expect(demo.res.headers['set-cookie']!.join(';')).toMatch(/Max-Age=86400/);
    const me = await request(`${s.url}/api/me`, { token: demo.token });
    expect(me.json.flags).toMatchObject({ is_demo: true, needs_onboarding: false, email_verified: true });
    expect(me.json.businesses).toEqual([
      expect.objectContaining({ id: demo.businessId, is_demo: true, role: 'owner' }),
    ]);
    const hours = (Date.parse(me.json.flags.demo_expires_at) - Date.now()) / 3_600_000;
    expect(hours).toBeGreaterThan(23.9);
    expect(hours).toBeLessThanOrEqual(24);
    const session = await asOwner(s.engine, (c) =>
      c.query<{ h: number }>(
        `SELECT extract(epoch FROM not_after - now()) / 3600 AS h FROM auth.sessions WHERE user_id = $1`,
        [demo.userId],
      ),
    );
    expect(Number(session.rows[0]!.h)).toBeLessThanOrEqual(24);
    const contacts = await request(`${s.url}/api/businesses/${demo.businessId}/contacts?limit=5`, {
      token: demo.token,
    });
    expect(contacts.status).toBe(200);
  });

  it('a new sign-up after a demo gets a business with zero rows in every tenant table', async () => {
    const demo = await startDemo();
    const user = await signUp(s, { verified: true });
    const bid = await createBusinessHttp(s, user, 'Fresh Start Mortgage');
    const tables = await tenantTables();
    expect(tables).toEqual(
      expect.arrayContaining(['app.contacts', 'app.deals', 'app.messages', 'app.memberships', 'app.invitations']),
    );
    const fresh = await rowCounts(bid);
    const expected = Object.fromEntries(tables.map((t) => [t, t === 'app.memberships' ? 1 : 0]));
    expect(fresh).toEqual(expected);
    // Positive control: the same enumeration finds the demo's rows.
    const seeded = await rowCounts(demo.businessId);
    for (const t of [
      'app.contacts',
      'app.lists',
      'app.list_members',
      'app.deals',
      'app.deal_stage_changes',
      'app.conversations',
      'app.messages',
      'app.notes',
    ]) {
      expect([t, seeded[t]! > 0]).toEqual([t, true]);
    }
    const list = await request(`${s.url}/api/businesses/${bid}/contacts`, { token: user.accessToken });
    expect(list.status).toBe(200);
    expect(JSON.stringify(list.json)).not.toMatch(/example\.com/);
  });

  it('a demo user sees no other business (real or demo), and nobody sees hers', async () => {
    const d1 = await startDemo();
    const d2 = await startDemo();
    expect(d1.businessId).not.toBe(d2.businessId);
    for (const [token, other] of [
      [d1.token, realBid],
      [d1.token, d2.businessId],
      [real.accessToken, d1.businessId],
      [d2.token, d1.businessId],
    ] as const) {
      const res = await request(`${s.url}/api/businesses/${other}`, { token });
      expect(res.status).toBe(404);
      const contacts = await request(`${s.url}/api/businesses/${other}/contacts`, { token });
      expect(contacts.status).toBe(404);
    }
    const seen = await s.db.asUser({ sub: d1.userId }, async (tx) => ({
      businesses: (await tx.query<{ id: string }>('SELECT id FROM app.businesses')).rows.map((r) => r.id),
      foreignContacts: (await tx.query('SELECT 1 FROM app.contacts WHERE business_id <> $1', [d1.businessId])).rowCount,
      ownContacts: (await tx.query('SELECT 1 FROM app.contacts WHERE business_id = $1', [d1.businessId])).rowCount,
    }));
    expect(seen).toEqual({ businesses: [d1.businessId], foreignContacts: 0, ownContacts: 200 });
  });

  it('a demo cannot create real businesses nor invite anyone', async () => {
    const demo = await startDemo();
    const create = await request(`${s.url}/api/businesses`, { token: demo.token, body: { name: 'Escape Hatch' } });
    expect([create.status, create.json.error.code]).toEqual([403, 'demo_restricted']);
    const invite = await request(`${s.url}/api/businesses/${demo.businessId}/invitations`, {
      token: demo.token,
      body: { email: 'victim@example.test' },
    });
    expect([invite.status, invite.json.error.code]).toEqual([403, 'demo_restricted']);
    // Positive control: she may still work inside her demo.
    const rename = await request(`${s.url}/api/businesses/${demo.businessId}`, {
      method: 'PATCH',
      token: demo.token,
      body: { name: 'My Demo Lending' },
    });
    expect(rename.status).toBe(200);
  });

  it('the purge removes expired demos only; their sessions end with them', async () => {
    const old = await startDemo();
    const live = await startDemo();
    await asOwner(s.engine, async (c) => {
      await c.query(`UPDATE app.businesses SET demo_expires_at = now() - interval '1 minute' WHERE id = $1`, [
        old.businessId,
      ]);
      await c.query(`UPDATE auth.users SET created_at = now() - interval '25 hours' WHERE id = $1`, [old.userId]);
    });
    const r = await purgeExpiredDemos(s.db);
    expect(r.ran).toBe(true);
    expect((await request(`${s.url}/api/me`, { token: old.token })).status).toBe(401);
    expect((await rowCounts(old.businessId))['app.contacts']).toBe(0);
    expect((await request(`${s.url}/api/me`, { token: live.token })).json.businesses[0].id).toBe(live.businessId);
    expect((await request(`${s.url}/api/businesses/${realBid}`, { token: real.accessToken })).status).toBe(200);
  });
});
