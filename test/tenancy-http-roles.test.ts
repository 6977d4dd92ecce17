// The workspace role matrix through HTTP: owner/admin/member/outsider × every action
// of docs/ARCHITECTURE.md §13. Allowed cases succeed (positive controls) and are undone; forbidden
// ones answer 403 `forbidden` (404 for an outsider, who may not even learn the
// business exists) and change nothing — checked against the database at the end.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asOwner } from '../src/db/engine.ts';
import { signUp, type SignedUpUser } from './support/auth.ts';
import { addMember } from './support/factories.ts';
import { request } from './support/http.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { createBusinessHttp, httpWorkspace, type HttpWorkspace } from './support/workspace.ts';

type Persona = 'owner' | 'admin' | 'member' | 'outsider';
const PERSONAS: Persona[] = ['owner', 'admin', 'member', 'outsider'];

let s: TestServer;
let w: HttpWorkspace;
let outsider: SignedUpUser;
let extra: SignedUpUser; // a second plain member, the target of role changes and removals

beforeAll(async () => {
  // The scan gate has its own tests; skipping it here keeps this file's start-up short.
  s = await startTestServer({ CAPTO_SCAN_ON_START: 'off' });
  w = await httpWorkspace(s);
  outsider = await signUp(s, { verified: true });
  await createBusinessHttp(s, outsider, 'Outsider Mortgage'); // she is somebody's owner, just not here
  extra = await signUp(s, { verified: true });
  await addMember(s.engine, w.businessId, extra.userId, 'member');
}, 240_000);
afterAll(async () => s?.stop());

const who = (p: Persona) => (p === 'outsider' ? outsider : w[p]);
const api = (p: Persona, method: string, path: string, body?: unknown) =>
  request(`${s.url}/api/businesses/${w.businessId}${path}`, { method, token: who(p).accessToken, body });
const roleOf = async (userId: string) =>
  (
    await asOwner(s.engine, (c) =>
      c.query<{ role: string }>('SELECT role FROM app.memberships WHERE business_id = $1 AND user_id = $2', [
        w.businessId,
        userId,
      ]),
    )
  ).rows[0]?.role;
const setRole = (userId: string, role: string) =>
  asOwner(s.engine, (c) =>
    c.query('UPDATE app.memberships SET role = $3 WHERE business_id = $1 AND user_id = $2', [
      w.businessId,
      userId,
      role,
    ]),
  );
const restoreExtra = async () => {
  if (!(await roleOf(extra.userId))) await addMember(s.engine, w.businessId, extra.userId, 'member');
  else await setRole(extra.userId, 'member');
};

interface Case {
  name: string;
  run(p: Persona): Promise<{ status: number; json: any }>;
  expect: Record<Persona, number>;
  undo?: () => Promise<void>;
}

const cases: Case[] = [
  {
    name: 'read the business',
    run: (p) => api(p, 'GET', ''),
    expect: { owner: 200, admin: 200, member: 200, outsider: 404 },
  },
  {
    name: 'update its NMLS number',
    run: (p) => api(p, 'PATCH', '', { nmls_number: '1234567' }),
    expect: { owner: 200, admin: 200, member: 403, outsider: 404 },
    undo: () =>
      asOwner(s.engine, (c) =>
        c.query('UPDATE app.businesses SET nmls_number = NULL WHERE id = $1', [w.businessId]),
      ).then(() => undefined),
  },
  {
    name: 'list members',
    run: (p) => api(p, 'GET', '/members'),
    expect: { owner: 200, admin: 200, member: 200, outsider: 404 },
  },
  {
    name: 'promote a member to admin',
    run: (p) => api(p, 'PATCH', `/members/${extra.userId}`, { role: 'admin' }),
    expect: { owner: 200, admin: 200, member: 403, outsider: 404 },
    undo: restoreExtra,
  },
  {
    name: 'make a member owner',
    run: (p) => api(p, 'PATCH', `/members/${extra.userId}`, { role: 'owner' }),
    expect: { owner: 200, admin: 403, member: 403, outsider: 404 },
    undo: restoreExtra,
  },
  {
    name: 'make herself owner',
    run: (p) => api(p, 'PATCH', `/members/${who(p).userId}`, { role: 'owner' }),
    expect: { owner: 200, admin: 403, member: 403, outsider: 404 },
  },
  {
    name: 'demote the owner',
    run: (p) => api(p, 'PATCH', `/members/${w.owner.userId}`, { role: 'member' }),
    expect: { owner: 409, admin: 403, member: 403, outsider: 404 },
  },
  {
    name: 'remove a member',
    run: (p) => api(p, 'DELETE', `/members/${extra.userId}`),
    expect: { owner: 204, admin: 204, member: 403, outsider: 404 },
    undo: restoreExtra,
  },
  {
    name: 'remove the owner',
    run: (p) => api(p, 'DELETE', `/members/${w.owner.userId}`),
    expect: { owner: 409, admin: 403, member: 403, outsider: 404 },
  },
  {
    name: 'invite a member',
    run: (p) => api(p, 'POST', '/invitations', { email: `m-${p}@example.test`, role: 'member' }),
    expect: { owner: 201, admin: 201, member: 403, outsider: 404 },
  },
  {
    name: 'invite an owner',
    run: (p) => api(p, 'POST', '/invitations', { email: `o-${p}@example.test`, role: 'owner' }),
    expect: { owner: 201, admin: 403, member: 403, outsider: 404 },
  },
  {
    name: 'list invitations',
    run: (p) => api(p, 'GET', '/invitations'),
    expect: { owner: 200, admin: 200, member: 403, outsider: 404 },
  },
  {
    name: 'revoke an invitation',
    run: async (p) => {
      const inv = await api('owner', 'POST', '/invitations', { email: `r-${p}@example.test`, role: 'member' });
      return api(p, 'DELETE', `/invitations/${inv.json.invitation.id}`);
    },
    expect: { owner: 204, admin: 204, member: 403, outsider: 404 },
  },
  {
    name: 'revoke an owner invitation',
    run: async (p) => {
      const inv = await api('owner', 'POST', '/invitations', { email: `ro-${p}@example.test`, role: 'owner' });
      return api(p, 'DELETE', `/invitations/${inv.json.invitation.id}`);
    },
    expect: { owner: 204, admin: 403, member: 403, outsider: 404 },
  },
  {
    name: 'delete the business (with its name)',
    run: (p) =>
      p === 'owner' ? Promise.resolve({ status: 204, json: null }) : api(p, 'DELETE', '', { confirm_name: w.name }),
    expect: { owner: 204, admin: 403, member: 403, outsider: 404 },
  },
];

describe('workspace role matrix over HTTP', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const got: Record<string, number> = {};
      for (const p of PERSONAS) {
        const res = await c.run(p);
        got[p] = res.status;
        if (res.status === 403) expect(res.json.error.code).toBe('forbidden');
        if (res.status === 409) expect(res.json.error.code).toBe('last_owner');
        if (res.status < 300) await c.undo?.();
      }
      expect(got).toEqual(c.expect);
    });
  }

  it('left roles and the business exactly as they were', async () => {
    const state = await asOwner(s.engine, async (c) => ({
      roles: (
        await c.query('SELECT user_id, role FROM app.memberships WHERE business_id = $1 ORDER BY user_id', [
          w.businessId,
        ])
      ).rows,
      business: (await c.query('SELECT name, nmls_number FROM app.businesses WHERE id = $1', [w.businessId])).rows[0],
    }));
    expect(state.business).toEqual({ name: w.name, nmls_number: null });
    const expected = [
      { user_id: w.owner.userId, role: 'owner' },
      { user_id: w.admin.userId, role: 'admin' },
      { user_id: w.member.userId, role: 'member' },
      { user_id: extra.userId, role: 'member' },
    ].sort((x, y) => (x.user_id < y.user_id ? -1 : 1));
    expect(state.roles).toEqual(expected);
  });

  it('leaving: members and admins may leave, the last owner may not', async () => {
    const owner = await signUp(s, { verified: true });
    const bid = await createBusinessHttp(s, owner, 'Leavers Inc');
    const m = await signUp(s, { verified: true });
    await addMember(s.engine, bid, m.userId, 'admin');
    const leave = (u: SignedUpUser) =>
      request(`${s.url}/api/businesses/${bid}/members/${u.userId}`, { method: 'DELETE', token: u.accessToken });
    const refused = await leave(owner);
    expect([refused.status, refused.json.error.code]).toEqual([409, 'last_owner']);
    expect((await leave(m)).status).toBe(204);
    const me = await request(`${s.url}/api/me`, { token: m.accessToken });
    expect(me.json.businesses.map((b: { id: string }) => b.id)).not.toContain(bid);
  });

  it('an owner transfers ownership, then may leave', async () => {
    const owner = await signUp(s, { verified: true });
    const heir = await signUp(s, { verified: true });
    const bid = await createBusinessHttp(s, owner, 'Heirloom Loans');
    await addMember(s.engine, bid, heir.userId, 'member');
    const promote = await request(`${s.url}/api/businesses/${bid}/members/${heir.userId}`, {
      method: 'PATCH',
      token: owner.accessToken,
      body: { role: 'owner' },
    });
    expect(promote.json).toMatchObject({ user_id: heir.userId, role: 'owner' });
    expect(
      (
        await request(`${s.url}/api/businesses/${bid}/members/${owner.userId}`, {
          method: 'DELETE',
          token: owner.accessToken,
        })
      ).status,
    ).toBe(204);
  });
});

describe('deleting a business', () => {
  it('needs the exact name, then cascades its rows and records a business_deleted event', async () => {
    const owner = await signUp(s, { verified: true });
    const bid = await createBusinessHttp(s, owner, 'Doomed Mortgage Co');
    const contact = await request(`${s.url}/api/businesses/${bid}/contacts`, {
      token: owner.accessToken,
      body: { first_name: 'Ada', last_name: 'Lovelace' },
    });
    expect(contact.status).toBe(201);
    const wrong = await request(`${s.url}/api/businesses/${bid}`, {
      method: 'DELETE',
      token: owner.accessToken,
      body: { confirm_name: 'Doomed' },
    });
    expect([wrong.status, wrong.json.error.code]).toEqual([400, 'confirmation_mismatch']);
    const missing = await request(`${s.url}/api/businesses/${bid}`, {
      method: 'DELETE',
      token: owner.accessToken,
      body: {},
    });
    expect(missing.status).toBe(400);
    const ok = await request(`${s.url}/api/businesses/${bid}`, {
      method: 'DELETE',
      token: owner.accessToken,
      body: { confirm_name: 'Doomed Mortgage Co' },
    });
    expect(ok.status).toBe(204);
    const left = await asOwner(s.engine, async (c) => ({
      business: (await c.query('SELECT 1 FROM app.businesses WHERE id = $1', [bid])).rowCount,
      contacts: (await c.query('SELECT 1 FROM app.contacts WHERE business_id = $1', [bid])).rowCount,
      memberships: (await c.query('SELECT 1 FROM app.memberships WHERE business_id = $1', [bid])).rowCount,
      events: (
        await c.query(`SELECT details FROM auth.audit_events WHERE user_id = $1 AND type = 'business_deleted'`, [
          owner.userId,
        ])
      ).rows,
    }));
    expect(left).toMatchObject({ business: 0, contacts: 0, memberships: 0 });
    expect(left.events).toEqual([{ details: { business_id: bid, business_name: 'Doomed Mortgage Co' } }]);
  });

  it('the owner of the matrix business deletes it last (positive control of the matrix row)', async () => {
    const res = await request(`${s.url}/api/businesses/${w.businessId}`, {
      method: 'DELETE',
      token: w.owner.accessToken,
      body: { confirm_name: w.name },
    });
    expect(res.status).toBe(204);
    const gone = await request(`${s.url}/api/businesses/${w.businessId}`, { token: w.admin.accessToken });
    expect(gone.status).toBe(404);
  });
});
