// Accepting an invitation in the database (app.accept_invitation): the only way a
// non-member joins a business. Each refusal is checked to change nothing, and each
// rule has its positive case.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asOwner } from '../src/db/engine.ts';
import { createTestDatabase, ENGINE, type TestDatabase } from './support/engine.ts';
import { newUser, twoBusinesses } from './support/factories.ts';
import { newInvitation, probe, sha256, summarise, verifyEmail } from './support/tenancy.ts';

let t: TestDatabase;
let w: Awaited<ReturnType<typeof twoBusinesses>>;

beforeAll(async () => {
  t = await createTestDatabase();
  w = await twoBusinesses(t.engine);
});
afterAll(async () => t?.close());

const accept = (sub: string, token: string) =>
  probe(t.db, sub, 'SELECT * FROM app.accept_invitation($1)', [sha256(token)]);
const acceptForReal = (sub: string, token: string) =>
  t.db.asUser({ sub }, (tx) =>
    tx.query<{ business_id: string; role: string }>('SELECT * FROM app.accept_invitation($1)', [sha256(token)]),
  );
const membershipsOf = (userId: string) =>
  asOwner(t.engine, (c) =>
    c.query('SELECT business_id, role FROM app.memberships WHERE user_id = $1 ORDER BY business_id', [userId]),
  ).then((r) => r.rows);

async function verifiedUser(email?: string) {
  const u = await newUser(t.engine, email);
  await verifyEmail(t.engine, u.id);
  return u;
}

describe(`accepting an invitation (${ENGINE})`, () => {
  it('joins the verified invitee with the invited role, once', async () => {
    const u = await verifiedUser();
    const inv = await newInvitation(t.engine, w.a.business.id, u.email.toUpperCase(), 'admin');
    const r = await acceptForReal(u.id, inv.token);
    expect(r.rows).toEqual([{ business_id: w.a.business.id, role: 'admin' }]);
    expect(await membershipsOf(u.id)).toEqual([{ business_id: w.a.business.id, role: 'admin' }]);
    // Reuse: single use, even by the same person.
    expect(summarise(await accept(u.id, inv.token))).toBe('invitation_accepted');
  });

  // Two tabs open the same link at once: the invitation row lock makes exactly one win.
  it('a token accepted twice concurrently joins once', async () => {
    const u = await verifiedUser();
    const inv = await newInvitation(t.engine, w.b.business.id, u.email);
    const once = () =>
      t.db.asUser({ sub: u.id }, async (tx) => {
        await tx.query('SELECT * FROM app.accept_invitation($1)', [sha256(inv.token)]);
        await tx.query('SELECT pg_sleep(0.2)');
      });
    const results = await Promise.allSettled([once(), once()]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason).toMatchObject({
      hint: 'invitation_accepted',
    });
    expect(await membershipsOf(u.id)).toEqual([{ business_id: w.b.business.id, role: 'member' }]);
  });

  it('refuses an expired invitation', async () => {
    const u = await verifiedUser();
    const inv = await newInvitation(t.engine, w.a.business.id, u.email);
    await asOwner(t.engine, (c) =>
      c.query(`UPDATE app.invitations SET expires_at = now() - interval '1 second' WHERE id = $1`, [inv.id]),
    );
    expect(summarise(await accept(u.id, inv.token))).toBe('invitation_expired');
    expect(await membershipsOf(u.id)).toEqual([]);
  });

  it('refuses a revoked invitation', async () => {
    const u = await verifiedUser();
    const inv = await newInvitation(t.engine, w.a.business.id, u.email);
    await t.db.asUser({ sub: w.a.admin.id }, (tx) =>
      tx.query('UPDATE app.invitations SET revoked_at = now() WHERE id = $1', [inv.id]),
    );
    expect(summarise(await accept(u.id, inv.token))).toBe('invitation_revoked');
    expect(await membershipsOf(u.id)).toEqual([]);
  });

  it('refuses a signed-in user whose email is not the invited one', async () => {
    const u = await verifiedUser();
    const inv = await newInvitation(t.engine, w.a.business.id, 'someone-else@example.test');
    expect(summarise(await accept(u.id, inv.token))).toBe('invitation_email_mismatch');
    expect(await membershipsOf(u.id)).toEqual([]);
  });

  it('refuses an unverified email, then accepts once it is verified', async () => {
    const u = await newUser(t.engine);
    const inv = await newInvitation(t.engine, w.a.business.id, u.email);
    expect(summarise(await accept(u.id, inv.token))).toBe('email_not_verified');
    expect(await membershipsOf(u.id)).toEqual([]);
    await verifyEmail(t.engine, u.id);
    expect(summarise(await accept(u.id, inv.token))).toBe('ok');
  });

  it('refuses an unknown token and a missing caller', async () => {
    const u = await verifiedUser();
    expect(summarise(await accept(u.id, 'not-a-token'))).toBe('invitation_invalid');
    const inv = await newInvitation(t.engine, w.a.business.id, u.email);
    await expect(
      t.db.asAnon((tx) => tx.query('SELECT * FROM app.accept_invitation($1)', [sha256(inv.token)])),
    ).rejects.toMatchObject({ code: 'forbidden' });
  });

  it('a token of business A joins A only; an admin of B can neither see nor revoke it', async () => {
    const u = await verifiedUser();
    const inv = await newInvitation(t.engine, w.a.business.id, u.email);
    expect(
      summarise(
        await probe(t.db, w.b.admin.id, 'UPDATE app.invitations SET revoked_at = now() WHERE id = $1', [inv.id]),
      ),
    ).toBe('none');
    expect(summarise(await probe(t.db, w.b.owner.id, 'SELECT 1 FROM app.invitations WHERE id = $1', [inv.id]))).toBe(
      'none',
    );
    await acceptForReal(u.id, inv.token);
    expect(await membershipsOf(u.id)).toEqual([{ business_id: w.a.business.id, role: 'member' }]);
  });

  it('an existing member uses the invitation up without changing her role', async () => {
    const inv = await newInvitation(t.engine, w.a.business.id, w.a.member.email, 'admin');
    await verifyEmail(t.engine, w.a.member.id);
    const r = await acceptForReal(w.a.member.id, inv.token);
    expect(r.rows).toEqual([{ business_id: w.a.business.id, role: 'member' }]);
  });

  it('keeps one open invitation per address: a second needs the first revoked', async () => {
    await newInvitation(t.engine, w.b.business.id, 'twice@example.test');
    const again = await probe(
      t.db,
      w.b.owner.id,
      `INSERT INTO app.invitations (business_id, email, role, token_hash, invited_by) VALUES ($1, 'TWICE@example.test', 'member', $2, $3)`,
      [w.b.business.id, sha256('x'), w.b.owner.id],
    );
    expect(again).toMatchObject({ kind: 'error', code: '23505' });
    const replaced = await probe(
      t.db,
      w.b.owner.id,
      `
      WITH old AS (UPDATE app.invitations SET revoked_at = now() WHERE business_id = $1 AND email = 'twice@example.test' AND revoked_at IS NULL AND accepted_at IS NULL)
      SELECT 1`,
      [w.b.business.id],
    );
    expect(replaced.kind).toBe('rows');
  });

  it('revocation is one-way and server-stamped', async () => {
    const inv = await newInvitation(t.engine, w.a.business.id, 'oneway@example.test');
    await t.db.asUser({ sub: w.a.owner.id }, (tx) =>
      tx.query(`UPDATE app.invitations SET revoked_at = '2000-01-01' WHERE id = $1`, [inv.id]),
    );
    const row = await asOwner(t.engine, (c) =>
      c.query<{ recent: boolean }>(
        `SELECT revoked_at > now() - interval '1 minute' AS recent FROM app.invitations WHERE id = $1`,
        [inv.id],
      ),
    );
    expect(row.rows[0]!.recent).toBe(true);
    expect(
      summarise(
        await probe(t.db, w.a.owner.id, 'UPDATE app.invitations SET revoked_at = NULL WHERE id = $1', [inv.id]),
      ),
    ).toBe('invitation_revoked');
  });
});
