// P3 on the CRM tables (migration 0004): RLS forced everywhere, members confined to
// their business, business_id never updatable, composite foreign keys that cannot
// point across businesses, the service role's narrow purge, and the database-enforced
// duplicate and stage-history rules.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asOwner } from '../src/db/engine.ts';
import { createTestDatabase, type TestDatabase } from './support/engine.ts';
import { twoBusinesses } from './support/factories.ts';

const CRM_TABLES = [
  'contacts',
  'sms_opt_outs',
  'lists',
  'list_members',
  'deals',
  'deal_stage_changes',
  'conversations',
  'messages',
  'notes',
  'tasks',
  'contact_events',
];

let t: TestDatabase;
let w: Awaited<ReturnType<typeof twoBusinesses>>;
let contactA: string;
let contactB: string;

beforeAll(async () => {
  t = await createTestDatabase();
  w = await twoBusinesses(t.engine);
  contactA = await t.db.asUser(
    { sub: w.a.member.id },
    async (tx) =>
      (
        await tx.query<{ id: string }>(
          `INSERT INTO app.contacts (business_id, first_name, email) VALUES ($1, 'Ann', 'ann@a.test') RETURNING id`,
          [w.a.business.id],
        )
      ).rows[0]!.id,
  );
  contactB = await t.db.asUser(
    { sub: w.b.member.id },
    async (tx) =>
      (
        await tx.query<{ id: string }>(
          `INSERT INTO app.contacts (business_id, first_name, phone) VALUES ($1, 'Bob', '+15555550100') RETURNING id`,
          [w.b.business.id],
        )
      ).rows[0]!.id,
  );
});
afterAll(async () => t?.close());

describe('CRM schema', () => {
  it('enables and forces row-level security on every CRM table', async () => {
    const rows = await asOwner(
      t.engine,
      async (c) =>
        (
          await c.query<{ relname: string; relrowsecurity: boolean; relforcerowsecurity: boolean }>(
            `SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class
          WHERE relnamespace = 'app'::regnamespace AND relkind = 'r' AND relname = ANY ($1)`,
            [CRM_TABLES],
          )
        ).rows,
    );
    expect(rows.map((r) => r.relname).sort()).toEqual([...CRM_TABLES].sort());
    for (const r of rows) expect([r.relname, r.relrowsecurity, r.relforcerowsecurity]).toEqual([r.relname, true, true]);
  });

  it('shows a member her business contacts and nothing of another business', async () => {
    const seen = await t.db.asUser({ sub: w.a.member.id }, async (tx) =>
      (await tx.query<{ id: string }>('SELECT id FROM app.contacts')).rows.map((r) => r.id),
    );
    expect(seen).toEqual([contactA]);
    const outsider = await t.db.asUser(
      { sub: w.outsider.id },
      async (tx) => (await tx.query('SELECT id FROM app.contacts')).rowCount,
    );
    expect(outsider).toBe(0);
  });

  it('app.contact_search_ids (migrations 0007, 0075, 0133) answers members of the business only', async () => {
    const search = (sub: string, business: string, like: string, q: string, digits: string | null = null) =>
      t.db.asUser({ sub }, async (tx) =>
        // (business, trash, status, source, kinds, owner, list, name like, email like, fuzzy query, digits like, skip prefix, at most)
        (
          await tx.query<{ id: string }>(
            'SELECT app.contact_search_ids($1, false, NULL, NULL, NULL, NULL, NULL, $2, $2, $3, $4, NULL, 100) AS id',
            [business, like, q, digits],
          )
        ).rows.map((r) => r.id),
      );
    // positive cases: each member finds her own business's contact, by name and by phone digits
    expect(await search(w.a.member.id, w.a.business.id, '%ann%', 'ann')).toEqual([contactA]);
    expect(await search(w.b.member.id, w.b.business.id, '%zzz%', 'zzz', '%5550100%')).toEqual([contactB]);
    // a member of A asking about B (and the reverse) gets nothing, even for a pattern matching everything
    expect(await search(w.a.member.id, w.b.business.id, '%', 'bob', '%')).toEqual([]);
    expect(await search(w.b.member.id, w.a.business.id, '%', 'ann', '%')).toEqual([]);
    expect(await search(w.outsider.id, w.a.business.id, '%', 'ann', '%')).toEqual([]);
    // the anonymous role cannot call it at all (refused for the grant, not for a wrong signature)
    await expect(
      t.db.asAnon((tx) =>
        tx.query(
          `SELECT app.contact_search_ids($1, false, NULL, NULL, NULL, NULL, NULL, '%', '%', 'a', NULL, NULL, 100)`,
          [w.a.business.id],
        ),
      ),
    ).rejects.toMatchObject({ code: 'forbidden' });
  });

  it('refuses inserting into another business', async () => {
    await expect(
      t.db.asUser({ sub: w.a.owner.id }, (tx) =>
        tx.query(`INSERT INTO app.contacts (business_id, first_name) VALUES ($1, 'Eve')`, [w.b.business.id]),
      ),
    ).rejects.toMatchObject({ code: 'forbidden' });
  });

  it('never lets a request update business_id', async () => {
    await expect(
      t.db.asUser({ sub: w.a.owner.id }, (tx) =>
        tx.query('UPDATE app.contacts SET business_id = $1 WHERE id = $2', [w.b.business.id, contactA]),
      ),
    ).rejects.toMatchObject({ code: 'forbidden' });
    // positive control: a granted column is updatable by the same user
    const r = await t.db.asUser({ sub: w.a.owner.id }, (tx) =>
      tx.query(`UPDATE app.contacts SET last_name = 'Able' WHERE id = $1`, [contactA]),
    );
    expect(r.rowCount).toBe(1);
  });

  it('refuses a list membership that points at another business contact (composite FK)', async () => {
    const listA = await t.db.asUser(
      { sub: w.a.member.id },
      async (tx) =>
        (
          await tx.query<{ id: string }>(
            `INSERT INTO app.lists (business_id, name) VALUES ($1, 'Hot Leads') RETURNING id`,
            [w.a.business.id],
          )
        ).rows[0]!.id,
    );
    await expect(
      t.db.asUser({ sub: w.a.member.id }, (tx) =>
        tx.query('INSERT INTO app.list_members (business_id, list_id, contact_id) VALUES ($1, $2, $3)', [
          w.a.business.id,
          listA,
          contactB,
        ]),
      ),
    ).rejects.toMatchObject({ code: 'conflict' });
    const ok = await t.db.asUser({ sub: w.a.member.id }, (tx) =>
      tx.query('INSERT INTO app.list_members (business_id, list_id, contact_id) VALUES ($1, $2, $3)', [
        w.a.business.id,
        listA,
        contactA,
      ]),
    );
    expect(ok.rowCount).toBe(1);
  });

  it('refuses a contact owner who is not a member of the business', async () => {
    await expect(
      t.db.asUser({ sub: w.a.owner.id }, (tx) =>
        tx.query('UPDATE app.contacts SET owner_id = $1 WHERE id = $2', [w.b.owner.id, contactA]),
      ),
    ).rejects.toMatchObject({ code: 'conflict' });
    const r = await t.db.asUser({ sub: w.a.owner.id }, (tx) =>
      tx.query('UPDATE app.contacts SET owner_id = $1 WHERE id = $2', [w.a.member.id, contactA]),
    );
    expect(r.rowCount).toBe(1);
  });

  it('refuses a second live contact with the same email in a business, but not in another', async () => {
    await expect(
      t.db.asUser({ sub: w.a.member.id }, (tx) =>
        tx.query(`INSERT INTO app.contacts (business_id, email) VALUES ($1, 'ann@a.test')`, [w.a.business.id]),
      ),
    ).rejects.toMatchObject({ code: 'conflict' });
    const r = await t.db.asUser({ sub: w.b.member.id }, (tx) =>
      tx.query(`INSERT INTO app.contacts (business_id, email) VALUES ($1, 'ann@a.test')`, [w.b.business.id]),
    );
    expect(r.rowCount).toBe(1);
  });

  it('records every stage a deal enters, with who moved it', async () => {
    const history = await t.db.asUser({ sub: w.a.member.id }, async (tx) => {
      const deal = (
        await tx.query<{ id: string }>(
          `INSERT INTO app.deals (business_id, title, contact_id) VALUES ($1, 'Refi', $2) RETURNING id`,
          [w.a.business.id, contactA],
        )
      ).rows[0]!.id;
      await tx.query(`UPDATE app.deals SET stage = 'application' WHERE id = $1`, [deal]);
      return (
        await tx.query<{ from_stage: string | null; to_stage: string; changed_by: string }>(
          'SELECT from_stage, to_stage, changed_by FROM app.deal_stage_changes WHERE deal_id = $1 ORDER BY changed_at, to_stage',
          [deal],
        )
      ).rows;
    });
    expect(history).toEqual([
      { from_stage: null, to_stage: 'lead', changed_by: w.a.member.id },
      { from_stage: 'lead', to_stage: 'application', changed_by: w.a.member.id },
    ]);
  });

  it('lets a request queue only outbound messages in its own name', async () => {
    const conv = await t.db.asService(
      'test.seed',
      async (tx) =>
        (
          await tx.query<{ id: string }>(
            `INSERT INTO app.conversations (business_id, contact_id, our_number) VALUES ($1, $2, '+15555550199') RETURNING id`,
            [w.a.business.id, contactA],
          )
        ).rows[0]!.id,
    );
    await expect(
      t.db.asUser({ sub: w.a.member.id }, (tx) =>
        tx.query(
          `INSERT INTO app.messages (business_id, conversation_id, direction, body, status) VALUES ($1, $2, 'inbound', 'spoof', 'received')`,
          [w.a.business.id, conv],
        ),
      ),
    ).rejects.toMatchObject({ code: 'forbidden' });
    const ok = await t.db.asUser({ sub: w.a.member.id }, (tx) =>
      tx.query(
        `INSERT INTO app.messages (business_id, conversation_id, direction, body, status, sender_user_id) VALUES ($1, $2, 'outbound', 'hi', 'queued', $3)`,
        [w.a.business.id, conv, w.a.member.id],
      ),
    );
    expect(ok.rowCount).toBe(1);
  });

  it('lets the service purge only contacts in the trash for more than 30 days', async () => {
    const [fresh, old] = await t.db.asUser({ sub: w.a.member.id }, async (tx) => {
      const ids: string[] = [];
      for (const name of ['Fresh', 'Old']) {
        ids.push(
          (
            await tx.query<{ id: string }>(
              `INSERT INTO app.contacts (business_id, first_name, deleted_at) VALUES ($1, $2, now()) RETURNING id`,
              [w.a.business.id, name],
            )
          ).rows[0]!.id,
        );
      }
      return ids;
    });
    await asOwner(t.engine, (c) =>
      c.query(`UPDATE app.contacts SET deleted_at = now() - interval '31 days' WHERE id = $1`, [old]),
    );
    const purged = await t.db.asService('test.purge', (tx) =>
      tx.query('DELETE FROM app.contacts WHERE id = ANY ($1)', [[fresh, old]]),
    );
    expect(purged.rowCount).toBe(1);
    const left = await asOwner(t.engine, async (c) =>
      (await c.query<{ id: string }>('SELECT id FROM app.contacts WHERE id = ANY ($1)', [[fresh, old]])).rows.map(
        (r) => r.id,
      ),
    );
    expect(left).toEqual([fresh]);
  });
});
