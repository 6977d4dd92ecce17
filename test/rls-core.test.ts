// P3/P4 at the core: a user of business A reads A's business and memberships, never
// B's; a member cannot promote herself; claims that name nobody see nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/engine.ts';
import { twoBusinesses } from './support/factories.ts';

let t: TestDatabase;
let w: Awaited<ReturnType<typeof twoBusinesses>>;

beforeAll(async () => {
  t = await createTestDatabase();
  w = await twoBusinesses(t.engine);
});
afterAll(async () => t?.close());

describe('row-level security on the core tenancy tables', () => {
  it('a member reads her own business and its memberships, and nothing of another business', async () => {
    const rows = await t.db.asUser({ sub: w.a.member.id }, async (tx) => ({
      businesses: (await tx.query<{ id: string }>('SELECT id FROM app.businesses')).rows.map((r) => r.id),
      memberships: (await tx.query<{ business_id: string }>('SELECT business_id FROM app.memberships')).rows.map(
        (r) => r.business_id,
      ),
      foreign: (await tx.query('SELECT * FROM app.businesses WHERE id = $1', [w.b.business.id])).rowCount,
    }));
    expect(rows.businesses).toEqual([w.a.business.id]); // positive control
    expect(rows.memberships).toHaveLength(3);
    expect(new Set(rows.memberships)).toEqual(new Set([w.a.business.id]));
    expect(rows.foreign).toBe(0);
  });

  it('an outsider sees no business and no membership', async () => {
    const counts = await t.db.asUser({ sub: w.outsider.id }, async (tx) => [
      (await tx.query('SELECT 1 FROM app.businesses')).rowCount,
      (await tx.query('SELECT 1 FROM app.memberships')).rowCount,
    ]);
    expect(counts).toEqual([0, 0]);
  });

  it('refuses a member who promotes herself to owner, in the database', async () => {
    const updated = await t.db.asUser({ sub: w.a.member.id }, (tx) =>
      tx.query(`UPDATE app.memberships SET role = 'owner' WHERE user_id = $1`, [w.a.member.id]),
    );
    expect(updated.rowCount).toBe(0);
    const role = await t.db.asUser({ sub: w.a.member.id }, (tx) =>
      tx.query<{ role: string }>('SELECT role FROM app.memberships WHERE user_id = $1', [w.a.member.id]),
    );
    expect(role.rows[0]?.role).toBe('member');
  });

  it('lets an owner change a role (the positive case of the same rule)', async () => {
    const updated = await t.db.asUser({ sub: w.a.owner.id }, (tx) =>
      tx.query(`UPDATE app.memberships SET role = 'admin' WHERE business_id = $1 AND user_id = $2`, [
        w.a.business.id,
        w.a.member.id,
      ]),
    );
    expect(updated.rowCount).toBe(1);
    await t.db.asUser({ sub: w.a.owner.id }, (tx) =>
      tx.query(`UPDATE app.memberships SET role = 'member' WHERE business_id = $1 AND user_id = $2`, [
        w.a.business.id,
        w.a.member.id,
      ]),
    );
  });

  it('refuses to move a membership to another business (column grant)', async () => {
    await expect(
      t.db.asUser({ sub: w.a.owner.id }, (tx) =>
        tx.query('UPDATE app.memberships SET business_id = $1 WHERE user_id = $2', [w.b.business.id, w.a.member.id]),
      ),
    ).rejects.toMatchObject({ code: 'forbidden' });
  });

  it('refuses a member inserting herself into another business', async () => {
    await expect(
      t.db.asUser({ sub: w.a.member.id }, (tx) =>
        tx.query(`INSERT INTO app.memberships (business_id, user_id, role) VALUES ($1, $2, 'owner')`, [
          w.b.business.id,
          w.a.member.id,
        ]),
      ),
    ).rejects.toMatchObject({ code: 'forbidden' });
  });

  it('keeps the last owner: demoting the only owner fails', async () => {
    await expect(
      t.db.asUser({ sub: w.b.owner.id }, (tx) =>
        tx.query(`UPDATE app.memberships SET role = 'admin' WHERE business_id = $1 AND user_id = $2`, [
          w.b.business.id,
          w.b.owner.id,
        ]),
      ),
    ).rejects.toThrow(/at least one owner/);
  });

  it('anonymous requests see no tenant rows at all', async () => {
    await expect(t.db.asAnon((tx) => tx.query('SELECT 1 FROM app.businesses'))).rejects.toMatchObject({
      code: 'forbidden',
    });
  });

  it('the request role cannot read or write the migration bookkeeping', async () => {
    await expect(
      t.db.asUser({ sub: w.a.owner.id }, (tx) => tx.query('SELECT * FROM capto_meta.schema_migrations')),
    ).rejects.toMatchObject({ code: 'forbidden' });
  });
});
