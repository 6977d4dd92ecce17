// Invitations end to end over HTTP: the mailed link, single use, expiry, revocation,
// email mismatch, unverified email, cross-business tokens, re-invite; plus /api/me and
// input validation of the workspace endpoints.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asOwner } from '../src/db/engine.ts';
import { signUp, type SignedUpUser } from './support/auth.ts';
import { request } from './support/http.ts';
import { lastMailTo } from './support/outbox.ts';
import { sha256 } from './support/tenancy.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { acceptHttp, createBusinessHttp, inviteHttp } from './support/workspace.ts';

let s: TestServer;
let owner: SignedUpUser;
let admin: SignedUpUser;
let bid: string;
let otherOwner: SignedUpUser;
let otherBid: string;

beforeAll(async () => {
  // The scan gate has its own tests; skipping it here keeps this file's start-up short.
  s = await startTestServer({ CAPTO_SCAN_ON_START: 'off' });
  [owner, admin, otherOwner] = await Promise.all([
    signUp(s, { verified: true }),
    signUp(s, { verified: true }),
    signUp(s, { verified: true }),
  ]);
  bid = await createBusinessHttp(s, owner, 'Harbor Lending');
  const t = await inviteHttp(s, owner, bid, admin.email, 'admin');
  expect((await acceptHttp(s, admin, t)).status).toBe(200);
  otherBid = await createBusinessHttp(s, otherOwner, 'Summit Home Loans');
}, 240_000);
afterAll(async () => s?.stop());

const rolesIn = async (userId: string) =>
  (
    await asOwner(s.engine, (c) =>
      c.query('SELECT business_id, role FROM app.memberships WHERE user_id = $1', [userId]),
    )
  ).rows;

describe('invitation tokens', () => {
  it('mails a link that works once for the invited, verified user', async () => {
    const invitee = await signUp(s, { verified: true });
    const res = await request(`${s.url}/api/businesses/${bid}/invitations`, {
      token: admin.accessToken,
      body: { email: invitee.email.toUpperCase(), role: 'member' },
    });
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({
      invitation: { email: invitee.email, role: 'member', expired: false },
      mail_sent: true,
    });
    // The invited address rides in the fragment too, to pre-fill the sign-up form.
    expect(res.json.link).toBe(
      `${s.config.publicUrl}/invite/accept#token=${res.json.token}&email=${encodeURIComponent(invitee.email)}`,
    );
    const days = (Date.parse(res.json.invitation.expires_at) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(6.9);
    expect(days).toBeLessThanOrEqual(7);
    const mail = await lastMailTo(s.config.dataDir, invitee.email, /Harbor Lending/);
    expect(mail.text).toContain(res.json.link);
    // Only the SHA-256 of the token is stored; no column holds the token itself.
    const stored = await asOwner(s.engine, (c) =>
      c.query<{ row: string }>('SELECT row_to_json(i)::text AS row FROM app.invitations i WHERE token_hash = $1', [
        sha256(res.json.token),
      ]),
    );
    expect(stored.rowCount).toBe(1);
    expect(stored.rows[0]!.row).not.toContain(res.json.token);

    const first = await acceptHttp(s, invitee, res.json.token);
    expect(first.status).toBe(200);
    expect(first.json.business).toMatchObject({ id: bid, role: 'member', name: 'Harbor Lending' });
    const reuse = await acceptHttp(s, invitee, res.json.token);
    expect([reuse.status, reuse.json.error.code]).toEqual([409, 'invitation_accepted']);
  });

  it('refuses an expired token', async () => {
    const invitee = await signUp(s, { verified: true });
    const token = await inviteHttp(s, owner, bid, invitee.email, 'member');
    await asOwner(s.engine, (c) =>
      c.query(
        `UPDATE app.invitations SET expires_at = now() - interval '1 minute' WHERE business_id = $1 AND email = $2`,
        [bid, invitee.email],
      ),
    );
    const res = await acceptHttp(s, invitee, token);
    expect([res.status, res.json.error.code]).toEqual([410, 'invitation_expired']);
    expect(await rolesIn(invitee.userId)).toEqual([]);
    const list = await request(`${s.url}/api/businesses/${bid}/invitations`, { token: owner.accessToken });
    expect(list.json.invitations.find((i: { email: string }) => i.email === invitee.email)).toMatchObject({
      expired: true,
    });
  });

  it('refuses a revoked token', async () => {
    const invitee = await signUp(s, { verified: true });
    const token = await inviteHttp(s, owner, bid, invitee.email, 'member');
    const list = await request(`${s.url}/api/businesses/${bid}/invitations`, { token: admin.accessToken });
    const inv = list.json.invitations.find((i: { email: string }) => i.email === invitee.email);
    expect(
      (
        await request(`${s.url}/api/businesses/${bid}/invitations/${inv.id}`, {
          method: 'DELETE',
          token: admin.accessToken,
        })
      ).status,
    ).toBe(204);
    const again = await request(`${s.url}/api/businesses/${bid}/invitations/${inv.id}`, {
      method: 'DELETE',
      token: admin.accessToken,
    });
    expect([again.status, again.json.error.code]).toEqual([410, 'invitation_revoked']);
    const res = await acceptHttp(s, invitee, token);
    expect([res.status, res.json.error.code]).toEqual([410, 'invitation_revoked']);
    expect(await rolesIn(invitee.userId)).toEqual([]);
  });

  it('refuses a signed-in user whose email is not the invited one', async () => {
    const invitee = await signUp(s, { verified: true });
    const intruder = await signUp(s, { verified: true });
    const token = await inviteHttp(s, owner, bid, invitee.email, 'admin');
    const res = await acceptHttp(s, intruder, token);
    expect([res.status, res.json.error.code]).toEqual([403, 'invitation_email_mismatch']);
    expect(await rolesIn(intruder.userId)).toEqual([]);
    expect((await acceptHttp(s, invitee, token)).status).toBe(200); // the rightful invitee still can
  });

  it('refuses an unverified email', async () => {
    const invitee = await signUp(s); // not verified
    const token = await inviteHttp(s, owner, bid, invitee.email, 'member');
    const res = await acceptHttp(s, invitee, token);
    expect([res.status, res.json.error.code]).toEqual([403, 'email_not_verified']);
    expect(await rolesIn(invitee.userId)).toEqual([]);
  });

  it('a token of one business joins that business only; the other business cannot touch the invitation', async () => {
    const invitee = await signUp(s, { verified: true });
    const created = await request(`${s.url}/api/businesses/${bid}/invitations`, {
      token: owner.accessToken,
      body: { email: invitee.email },
    });
    const foreign = await request(`${s.url}/api/businesses/${otherBid}/invitations/${created.json.invitation.id}`, {
      method: 'DELETE',
      token: otherOwner.accessToken,
    });
    expect([foreign.status, foreign.json.error.code]).toEqual([404, 'not_found']);
    const crossList = await request(`${s.url}/api/businesses/${bid}/invitations`, { token: otherOwner.accessToken });
    expect(crossList.status).toBe(404);
    expect((await acceptHttp(s, invitee, created.json.token)).status).toBe(200);
    expect(await rolesIn(invitee.userId)).toEqual([{ business_id: bid, role: 'member' }]);
  });

  it('a re-invite replaces the open invitation: the old link is revoked, the new one works', async () => {
    const invitee = await signUp(s, { verified: true });
    const oldToken = await inviteHttp(s, owner, bid, invitee.email, 'member');
    const newToken = await inviteHttp(s, owner, bid, invitee.email, 'admin');
    const list = await request(`${s.url}/api/businesses/${bid}/invitations`, { token: owner.accessToken });
    expect(list.json.invitations.filter((i: { email: string }) => i.email === invitee.email)).toHaveLength(1);
    expect((await acceptHttp(s, invitee, oldToken)).json.error.code).toBe('invitation_revoked');
    expect((await acceptHttp(s, invitee, newToken)).json.business.role).toBe('admin');
  });

  it('answers malformed and unknown tokens with invitation_invalid', async () => {
    for (const token of ['short', 'A'.repeat(43), '../../etc/passwd-aaaaaaaaaaaaaaaaaaaaaaaaaaaa']) {
      const res = await acceptHttp(s, admin, token);
      expect([res.status, res.json.error.code]).toEqual([400, 'invitation_invalid']);
    }
  });

  it('refuses to invite someone who is already a member', async () => {
    const res = await request(`${s.url}/api/businesses/${bid}/invitations`, {
      token: owner.accessToken,
      body: { email: admin.email },
    });
    expect([res.status, res.json.error.code]).toEqual([409, 'conflict']);
  });
});

describe('/api/me and validation', () => {
  it('shows the user, businesses with role and trial, and the flags', async () => {
    const fresh = await signUp(s);
    const before = await request(`${s.url}/api/me`, { token: fresh.accessToken });
    expect(before.json).toMatchObject({
      user: { id: fresh.userId, email: fresh.email, email_verified: false },
      businesses: [],
      flags: { needs_onboarding: true, is_demo: false },
    });
    const me = await request(`${s.url}/api/me`, { token: admin.accessToken });
    expect(me.json.businesses).toEqual([
      expect.objectContaining({
        id: bid,
        role: 'admin',
        is_demo: false,
        trial: expect.objectContaining({ active: true, days_left: 14 }),
      }),
    ]);
    expect(me.json.flags).toMatchObject({ needs_onboarding: false, email_verified: true });
    expect((await request(`${s.url}/api/me`)).status).toBe(401);
    const mine = await request(`${s.url}/api/businesses`, { token: otherOwner.accessToken });
    expect(mine.json.businesses).toEqual([
      expect.objectContaining({ id: otherBid, role: 'owner', name: 'Summit Home Loans' }),
    ]);
  });

  it('refuses bad input with clear 4xx codes and writes nothing', async () => {
    const bad: [string, string, unknown][] = [
      ['POST', '/api/businesses', { name: '' }],
      ['POST', '/api/businesses', { name: 'x'.repeat(201) }],
      ['POST', '/api/businesses', { name: 'Ok', nmls_number: 'NMLS-1' }],
      ['POST', '/api/businesses', { name: 'Ok', is_demo: true }],
      ['PATCH', `/api/businesses/${bid}`, { nmls_number: 12 }],
      ['POST', `/api/businesses/${bid}/invitations`, { email: 'not-an-email' }],
      ['POST', `/api/businesses/${bid}/invitations`, { email: 'a@example.test', role: 'superuser' }],
      ['PATCH', `/api/businesses/${bid}/members/${admin.userId}`, { role: 'god' }],
      ['GET', '/api/businesses/not-a-uuid', undefined],
    ];
    const count = async () =>
      (
        await asOwner(s.engine, (c) =>
          c.query('SELECT (SELECT count(*) FROM app.businesses) + (SELECT count(*) FROM app.invitations) AS n'),
        )
      ).rows[0]!.n;
    const n = await count();
    for (const [method, path, body] of bad) {
      const res = await request(`${s.url}${path}`, { method, token: owner.accessToken, body });
      expect([path, res.status, res.json.error.code]).toEqual([path, 400, 'validation_failed']);
    }
    expect(await count()).toBe(n);
  });

  it('describes every workspace route in the OpenAPI document', async () => {
    const doc = await request(`${s.url}/openapi.json`);
    const paths = Object.keys(doc.json.paths);
    for (const p of [
      '/api/me',
      '/api/businesses',
      '/api/businesses/{bid}',
      '/api/businesses/{bid}/members',
      '/api/businesses/{bid}/members/{uid}',
      '/api/businesses/{bid}/invitations',
      '/api/businesses/{bid}/invitations/{id}',
      '/api/invitations/accept',
      '/auth/demo',
    ]) {
      expect(paths).toContain(p);
    }
    expect(Object.keys(doc.json.paths['/api/businesses/{bid}'])).toEqual(
      expect.arrayContaining(['get', 'patch', 'delete']),
    );
  });

  it('creates a business with an NMLS number and lets an admin rename it', async () => {
    const res = await request(`${s.url}/api/businesses`, {
      token: admin.accessToken,
      body: { name: '  Keystone Mortgage ', nmls_number: '1839201' },
    });
    expect(res.json).toMatchObject({
      name: 'Keystone Mortgage',
      nmls_number: '1839201',
      role: 'owner',
      is_demo: false,
    });
    const renamed = await request(`${s.url}/api/businesses/${bid}`, {
      method: 'PATCH',
      token: admin.accessToken,
      body: { name: 'Harbor Lending Group', nmls_number: null },
    });
    expect(renamed.json).toMatchObject({ name: 'Harbor Lending Group', nmls_number: null, role: 'admin' });
    await request(`${s.url}/api/businesses/${bid}`, {
      method: 'PATCH',
      token: admin.accessToken,
      body: { name: 'Harbor Lending' },
    });
  });
});
