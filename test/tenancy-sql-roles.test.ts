// P4 in the database: owner/admin/member/outsider × every workspace action, issued as
// capto_authenticated with that user's claims, exactly as a compromised route could.
// Allowed cases run in a rolled-back transaction and must succeed (positive controls);
// forbidden ones must fail (policy/privilege violation) or match no row, and the
// fixture is checked unchanged at the end.
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asOwner } from '../src/db/engine.ts';
import { createTestDatabase, ENGINE, type TestDatabase } from './support/engine.ts';
import { addMember, newBusiness, newUser, twoBusinesses } from './support/factories.ts';
import { newInvitation, probe, summarise } from './support/tenancy.ts';

type Persona = 'owner' | 'admin' | 'member' | 'outsider';
const PERSONAS: Persona[] = ['owner', 'admin', 'member', 'outsider'];

let t: TestDatabase;
let w: Awaited<ReturnType<typeof twoBusinesses>>;
let invites: { member: string; owner: string };

beforeAll(async () => {
  t = await createTestDatabase();
  w = await twoBusinesses(t.engine);
  invites = {
    member: (await newInvitation(t.engine, w.a.business.id, 'invitee@example.test', 'member')).id,
    owner: (await newInvitation(t.engine, w.a.business.id, 'partner@example.test', 'owner')).id,
  };
});
afterAll(async () => t?.close());

const userOf = (p: Persona) => (p === 'outsider' ? w.outsider : w.a[p]).id;

interface Action {
  name: string;
  sql: (me: string) => [string, unknown[]];
  expect: Record<Persona, string>;
}

const hash = () => randomBytes(32);
const A = () => w.a.business.id;

const actions: Action[] = [
  {
    name: 'read the business',
    sql: () => ['SELECT 1 FROM app.businesses WHERE id = $1', [A()]],
    expect: { owner: 'ok', admin: 'ok', member: 'ok', outsider: 'none' },
  },
  {
    name: 'read its members',
    sql: () => ['SELECT 1 FROM app.memberships WHERE business_id = $1', [A()]],
    expect: { owner: 'ok', admin: 'ok', member: 'ok', outsider: 'none' },
  },
  {
    name: 'rename the business',
    sql: () => [`UPDATE app.businesses SET name = 'Renamed' WHERE id = $1`, [A()]],
    expect: { owner: 'ok', admin: 'ok', member: 'none', outsider: 'none' },
  },
  {
    name: 'set its NMLS number',
    sql: () => [`UPDATE app.businesses SET nmls_number = '1234567' WHERE id = $1`, [A()]],
    expect: { owner: 'ok', admin: 'ok', member: 'none', outsider: 'none' },
  },
  {
    name: 'flag it as a demo',
    sql: () => ['UPDATE app.businesses SET is_demo = true WHERE id = $1', [A()]],
    expect: { owner: 'denied', admin: 'denied', member: 'denied', outsider: 'denied' },
  },
  {
    name: 'extend its trial',
    sql: () => [`UPDATE app.businesses SET trial_ends_at = now() + interval '10 years' WHERE id = $1`, [A()]],
    expect: { owner: 'denied', admin: 'denied', member: 'denied', outsider: 'denied' },
  },
  {
    name: 'delete the business',
    sql: () => ['DELETE FROM app.businesses WHERE id = $1', [A()]],
    expect: { owner: 'ok', admin: 'none', member: 'none', outsider: 'none' },
  },
  {
    name: 'rename another business',
    sql: () => [`UPDATE app.businesses SET name = 'Hijacked' WHERE id = $1`, [w.b.business.id]],
    expect: { owner: 'none', admin: 'none', member: 'none', outsider: 'none' },
  },
  {
    name: 'create a business of her own',
    sql: (me) => [`INSERT INTO app.businesses (id, name, created_by) VALUES ($1, 'Mine', $2)`, [randomUUID(), me]],
    expect: { owner: 'ok', admin: 'ok', member: 'ok', outsider: 'ok' },
  },
  {
    name: 'create a business in someone else’s name',
    sql: () => [
      `INSERT INTO app.businesses (id, name, created_by) VALUES ($1, 'Theirs', $2)`,
      [randomUUID(), w.b.owner.id],
    ],
    expect: { owner: 'denied', admin: 'denied', member: 'denied', outsider: 'denied' },
  },
  {
    name: 'create a demo business',
    sql: (me) => [
      `INSERT INTO app.businesses (id, name, created_by, is_demo, demo_expires_at) VALUES ($1, 'Demo', $2, true, now())`,
      [randomUUID(), me],
    ],
    expect: { owner: 'denied', admin: 'denied', member: 'denied', outsider: 'denied' },
  },
  {
    name: 'add herself to the business as owner',
    sql: (me) => [
      `INSERT INTO app.memberships (business_id, user_id, role) VALUES ($1, $2, 'owner') ON CONFLICT DO NOTHING`,
      [A(), me],
    ],
    expect: { owner: 'denied', admin: 'denied', member: 'denied', outsider: 'denied' },
  },
  {
    name: 'add herself to another business',
    sql: (me) => [
      `INSERT INTO app.memberships (business_id, user_id, role) VALUES ($1, $2, 'member')`,
      [w.b.business.id, me],
    ],
    expect: { owner: 'denied', admin: 'denied', member: 'denied', outsider: 'denied' },
  },
  {
    name: 'promote the member to admin',
    sql: () => [
      `UPDATE app.memberships SET role = 'admin' WHERE business_id = $1 AND user_id = $2`,
      [A(), w.a.member.id],
    ],
    expect: { owner: 'ok', admin: 'ok', member: 'none', outsider: 'none' },
  },
  {
    name: 'make the member an owner',
    sql: () => [
      `UPDATE app.memberships SET role = 'owner' WHERE business_id = $1 AND user_id = $2`,
      [A(), w.a.member.id],
    ],
    expect: { owner: 'ok', admin: 'denied', member: 'none', outsider: 'none' },
  },
  {
    name: 'make herself owner',
    sql: (me) => [`UPDATE app.memberships SET role = 'owner' WHERE business_id = $1 AND user_id = $2`, [A(), me]],
    expect: { owner: 'ok', admin: 'denied', member: 'none', outsider: 'none' },
  },
  {
    name: 'demote the admin to member',
    sql: () => [
      `UPDATE app.memberships SET role = 'member' WHERE business_id = $1 AND user_id = $2`,
      [A(), w.a.admin.id],
    ],
    expect: { owner: 'ok', admin: 'ok', member: 'none', outsider: 'none' },
  },
  {
    name: 'demote the (only) owner',
    sql: () => [
      `UPDATE app.memberships SET role = 'admin' WHERE business_id = $1 AND user_id = $2`,
      [A(), w.a.owner.id],
    ],
    expect: { owner: 'last_owner', admin: 'none', member: 'none', outsider: 'none' },
  },
  {
    name: 'move a membership to another business',
    sql: () => ['UPDATE app.memberships SET business_id = $2 WHERE business_id = $1', [A(), w.b.business.id]],
    expect: { owner: 'denied', admin: 'denied', member: 'denied', outsider: 'denied' },
  },
  {
    name: 'promote a member of another business',
    sql: () => [`UPDATE app.memberships SET role = 'owner' WHERE business_id = $1`, [w.b.business.id]],
    expect: { owner: 'none', admin: 'none', member: 'none', outsider: 'none' },
  },
  {
    name: 'remove the member (or leave, for the member)',
    sql: () => ['DELETE FROM app.memberships WHERE business_id = $1 AND user_id = $2', [A(), w.a.member.id]],
    expect: { owner: 'ok', admin: 'ok', member: 'ok', outsider: 'none' },
  },
  {
    name: 'remove the admin (or leave, for the admin)',
    sql: () => ['DELETE FROM app.memberships WHERE business_id = $1 AND user_id = $2', [A(), w.a.admin.id]],
    expect: { owner: 'ok', admin: 'ok', member: 'none', outsider: 'none' },
  },
  {
    name: 'remove the (only) owner',
    sql: () => ['DELETE FROM app.memberships WHERE business_id = $1 AND user_id = $2', [A(), w.a.owner.id]],
    expect: { owner: 'last_owner', admin: 'none', member: 'none', outsider: 'none' },
  },
  {
    name: 'invite a member',
    sql: (me) => [
      `INSERT INTO app.invitations (business_id, email, role, token_hash, invited_by) VALUES ($1, 'new@example.test', 'member', $2, $3)`,
      [A(), hash(), me],
    ],
    expect: { owner: 'ok', admin: 'ok', member: 'denied', outsider: 'denied' },
  },
  {
    name: 'invite an admin',
    sql: (me) => [
      `INSERT INTO app.invitations (business_id, email, role, token_hash, invited_by) VALUES ($1, 'new@example.test', 'admin', $2, $3)`,
      [A(), hash(), me],
    ],
    expect: { owner: 'ok', admin: 'ok', member: 'denied', outsider: 'denied' },
  },
  {
    name: 'invite an owner',
    sql: (me) => [
      `INSERT INTO app.invitations (business_id, email, role, token_hash, invited_by) VALUES ($1, 'new@example.test', 'owner', $2, $3)`,
      [A(), hash(), me],
    ],
    expect: { owner: 'ok', admin: 'denied', member: 'denied', outsider: 'denied' },
  },
  {
    name: 'invite in someone else’s name',
    sql: () => [
      `INSERT INTO app.invitations (business_id, email, role, token_hash, invited_by) VALUES ($1, 'new@example.test', 'member', $2, $3)`,
      [A(), hash(), w.b.owner.id],
    ],
    expect: { owner: 'denied', admin: 'denied', member: 'denied', outsider: 'denied' },
  },
  {
    name: 'invite into another business',
    sql: (me) => [
      `INSERT INTO app.invitations (business_id, email, role, token_hash, invited_by) VALUES ($1, 'new@example.test', 'member', $2, $3)`,
      [w.b.business.id, hash(), me],
    ],
    expect: { owner: 'denied', admin: 'denied', member: 'denied', outsider: 'denied' },
  },
  {
    name: 'read pending invitations',
    sql: () => ['SELECT id, email FROM app.invitations WHERE business_id = $1', [A()]],
    expect: { owner: 'ok', admin: 'ok', member: 'none', outsider: 'none' },
  },
  {
    name: 'read invitation token hashes',
    sql: () => ['SELECT token_hash FROM app.invitations WHERE business_id = $1', [A()]],
    expect: { owner: 'denied', admin: 'denied', member: 'denied', outsider: 'denied' },
  },
  {
    name: 'revoke a member invitation',
    sql: () => ['UPDATE app.invitations SET revoked_at = now() WHERE id = $1', [invites.member]],
    expect: { owner: 'ok', admin: 'ok', member: 'none', outsider: 'none' },
  },
  {
    name: 'revoke an owner invitation',
    sql: () => ['UPDATE app.invitations SET revoked_at = now() WHERE id = $1', [invites.owner]],
    expect: { owner: 'ok', admin: 'none', member: 'none', outsider: 'none' },
  },
  {
    name: 'upgrade an invitation to owner',
    sql: () => [`UPDATE app.invitations SET role = 'owner' WHERE id = $1`, [invites.member]],
    expect: { owner: 'denied', admin: 'denied', member: 'denied', outsider: 'denied' },
  },
  {
    name: 'extend an invitation',
    sql: () => [`UPDATE app.invitations SET expires_at = now() + interval '1 year' WHERE id = $1`, [invites.member]],
    expect: { owner: 'denied', admin: 'denied', member: 'denied', outsider: 'denied' },
  },
  {
    name: 'delete an invitation (history is kept)',
    sql: () => ['DELETE FROM app.invitations WHERE id = $1', [invites.member]],
    expect: { owner: 'denied', admin: 'denied', member: 'denied', outsider: 'denied' },
  },
];

describe(`workspace role matrix in SQL as capto_authenticated (${ENGINE})`, () => {
  for (const action of actions) {
    it(action.name, async () => {
      const got: Record<string, string> = {};
      for (const p of PERSONAS) {
        const me = userOf(p);
        const [sql, params] = action.sql(me);
        got[p] = summarise(await probe(t.db, me, sql, params));
      }
      expect(got).toEqual(action.expect);
    });
  }

  it('left the fixture exactly as it was (forbidden statements changed nothing)', async () => {
    const state = await asOwner(t.engine, async (c) => ({
      business: (await c.query('SELECT name, nmls_number, is_demo FROM app.businesses WHERE id = $1', [A()])).rows[0],
      roles: (await c.query('SELECT user_id, role FROM app.memberships WHERE business_id = $1 ORDER BY role', [A()]))
        .rows,
      invitations: (
        await c.query('SELECT role, revoked_at FROM app.invitations WHERE business_id = $1 ORDER BY role', [A()])
      ).rows,
      businesses: Number((await c.query('SELECT count(*) FROM app.businesses')).rows[0]!.count),
      foreignMemberships: Number(
        (await c.query('SELECT count(*) FROM app.memberships WHERE business_id = $1', [w.b.business.id])).rows[0]!
          .count,
      ),
    }));
    expect(state.business).toEqual({ name: w.a.business.name, nmls_number: null, is_demo: false });
    expect(state.roles).toEqual([
      { user_id: w.a.member.id, role: 'member' },
      { user_id: w.a.admin.id, role: 'admin' },
      { user_id: w.a.owner.id, role: 'owner' },
    ]);
    expect(state.invitations).toEqual([
      { role: 'member', revoked_at: null },
      { role: 'owner', revoked_at: null },
    ]);
    expect(state.businesses).toBe(2);
    expect(state.foreignMemberships).toBe(3);
  });
});

describe('creating a business', () => {
  it('makes the signed-in creator its owner in the same statement, with a 14-day trial', async () => {
    const u = await newUser(t.engine);
    const id = randomUUID();
    const row = await t.db.asUser({ sub: u.id }, async (tx) => {
      await tx.query(
        `INSERT INTO app.businesses (id, name, nmls_number, created_by) VALUES ($1, 'Harbor Lending', '42', $2)`,
        [id, u.id],
      );
      return (
        await tx.query<{ role: string; is_demo: boolean; days: number }>(
          `SELECT m.role, b.is_demo, extract(epoch FROM b.trial_ends_at - b.created_at) / 86400 AS days
           FROM app.businesses b JOIN app.memberships m ON m.business_id = b.id WHERE b.id = $1`,
          [id],
        )
      ).rows[0];
    });
    expect(row).toEqual({ role: 'owner', is_demo: false, days: expect.anything() });
    expect(Number(row!.days)).toBe(14);
  });

  it('refuses an NMLS number that is not digits', async () => {
    const u = await newUser(t.engine);
    const o = await probe(
      t.db,
      u.id,
      `INSERT INTO app.businesses (id, name, nmls_number, created_by) VALUES ($1, 'X', 'NMLS#12', $2)`,
      [randomUUID(), u.id],
    );
    expect(o).toMatchObject({ kind: 'error', code: '23514' });
  });

  it('demo users can neither create a business nor be invited into one', async () => {
    const demoUser = await newUser(t.engine);
    const demo = randomUUID();
    await asOwner(t.engine, async (c) => {
      await c.query(
        `INSERT INTO app.businesses (id, name, is_demo, demo_expires_at) VALUES ($1, 'Demo', true, now() + interval '1 day')`,
        [demo],
      );
      await c.query(`INSERT INTO app.memberships (business_id, user_id, role) VALUES ($1, $2, 'owner')`, [
        demo,
        demoUser.id,
      ]);
    });
    const create = await probe(
      t.db,
      demoUser.id,
      `INSERT INTO app.businesses (id, name, created_by) VALUES ($1, 'Real', $2)`,
      [randomUUID(), demoUser.id],
    );
    expect(summarise(create)).toBe('denied');
    const invite = await probe(
      t.db,
      demoUser.id,
      `INSERT INTO app.invitations (business_id, email, role, token_hash, invited_by) VALUES ($1, 'victim@example.test', 'member', $2, $3)`,
      [demo, hash(), demoUser.id],
    );
    expect(summarise(invite)).toBe('demo_restricted');
    // Positive control: the same demo user may rename her demo business.
    expect(
      summarise(await probe(t.db, demoUser.id, `UPDATE app.businesses SET name = 'Mine' WHERE id = $1`, [demo])),
    ).toBe('ok');
  });
});

describe('last-owner guard', () => {
  // The two owners of a business step down at the same moment: each statement sees the
  // other owner on its own snapshot, so both would pass a naive count; the guard's row
  // lock on the business serialises them and the second re-counts after the first.
  it('keeps an owner when both owners demote themselves concurrently', async () => {
    const o1 = await newUser(t.engine);
    const o2 = await newUser(t.engine);
    const b = await newBusiness(t.engine, o1.id);
    await addMember(t.engine, b.id, o2.id, 'owner');
    const demote = (actor: string, target: string) =>
      t.db.asUser({ sub: actor }, async (tx) => {
        await tx.query(`UPDATE app.memberships SET role = 'admin' WHERE business_id = $1 AND user_id = $2`, [
          b.id,
          target,
        ]);
        await tx.query('SELECT pg_sleep(0.3)');
      });
    const results = await Promise.allSettled([demote(o1.id, o1.id), demote(o2.id, o2.id)]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(failed.reason).toMatchObject({ hint: 'last_owner' });
    const owners = await asOwner(t.engine, (c) =>
      c.query(`SELECT user_id FROM app.memberships WHERE business_id = $1 AND role = 'owner'`, [b.id]),
    );
    expect(owners.rowCount).toBe(1);
  });

  it('lets an owner leave once ownership is transferred (positive control)', async () => {
    const o1 = await newUser(t.engine);
    const m = await newUser(t.engine);
    const b = await newBusiness(t.engine, o1.id);
    await addMember(t.engine, b.id, m.id, 'member');
    await t.db.asUser({ sub: o1.id }, async (tx) => {
      await tx.query(`UPDATE app.memberships SET role = 'owner' WHERE business_id = $1 AND user_id = $2`, [b.id, m.id]);
      await tx.query('DELETE FROM app.memberships WHERE business_id = $1 AND user_id = $2', [b.id, o1.id]);
    });
    const rows = await asOwner(t.engine, (c) =>
      c.query('SELECT user_id, role FROM app.memberships WHERE business_id = $1', [b.id]),
    );
    expect(rows.rows).toEqual([{ user_id: m.id, role: 'owner' }]);
  });
});
