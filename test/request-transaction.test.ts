// The request transaction (docs/ARCHITECTURE.md §7): role and claims are transaction-local, so a
// pooled connection never carries one user's context into another's request.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, ENGINE, type TestDatabase } from './support/engine.ts';
import { twoBusinesses } from './support/factories.ts';

let t: TestDatabase;
let w: Awaited<ReturnType<typeof twoBusinesses>>;

beforeAll(async () => {
  t = await createTestDatabase({ poolSize: 2 });
  w = await twoBusinesses(t.engine);
});
afterAll(async () => t?.close());

describe('request transactions over a small pool', () => {
  it(`200 interleaved requests of two users over 2 connections each see only their own rows (${ENGINE})`, async () => {
    const users = [
      { sub: w.a.owner.id, business: w.a.business.id },
      { sub: w.b.owner.id, business: w.b.business.id },
    ];
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => {
        const u = users[i % 2]!;
        return t.db.asUser({ sub: u.sub }, async (tx) => {
          const who = await tx.query<{ current_user: string; uid: string }>('SELECT current_user, app.uid() AS uid');
          const seen = await tx.query<{ id: string }>('SELECT id FROM app.businesses');
          return { expected: u, who: who.rows[0]!, seen: seen.rows.map((r) => r.id) };
        });
      }),
    );
    for (const r of results) {
      expect(r.who.current_user).toBe('capto_authenticated');
      expect(r.who.uid).toBe(r.expected.sub);
      expect(r.seen).toEqual([r.expected.business]);
    }
  });

  it(`READ ONLY transactions (GET routes) refuse writes, answer reads, and leave the connection clean (${ENGINE})`, async () => {
    await expect(
      t.db.asUser(
        { sub: w.a.owner.id },
        (tx) => tx.query(`UPDATE app.businesses SET name = 'Renamed' WHERE id = $1`, [w.a.business.id]),
        { readOnly: true },
      ),
    ).rejects.toThrow();
    // 100 read-only transactions interleaved with writing ones over 2 connections: on the
    // server engine their COMMITs are not awaited, and every next user queues behind them.
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => {
        const [sub, business] = i % 2 ? [w.a.owner.id, w.a.business.id] : [w.b.owner.id, w.b.business.id];
        return t.db.asUser(
          { sub },
          async (tx) => {
            if (i % 5 === 0) await tx.query('UPDATE app.businesses SET name = name WHERE id = $1', [business]);
            const seen = await tx.query<{ id: string; ro: string }>(
              `SELECT id, current_setting('transaction_read_only') AS ro FROM app.businesses`,
            );
            return { business, seen: seen.rows.map((r) => r.id), ro: seen.rows[0]?.ro };
          },
          { readOnly: i % 5 !== 0 },
        );
      }),
    );
    results.forEach((r, i) => {
      expect(r.seen).toEqual([r.business]);
      expect(r.ro).toBe(i % 5 === 0 ? 'off' : 'on');
    });
    const name = await t.db.asUser(
      { sub: w.a.owner.id },
      (tx) => tx.query<{ name: string }>('SELECT name FROM app.businesses'),
      { readOnly: true },
    );
    expect(name.rows[0]!.name).toBe(w.a.business.name);
  });

  it('a failed membership check answers not_found even when the first statement went out with the set-up', async () => {
    const visible = (sub: string) =>
      t.db.asUser(
        { sub },
        async (tx) => (await tx.query<{ id: string }>('SELECT id FROM app.businesses')).rows.map((r) => r.id),
        { memberOf: w.a.business.id, readOnly: true },
      );
    // positive case: the member gets her row
    expect(await visible(w.a.owner.id)).toEqual([w.a.business.id]);
    // the other business's owner is refused before any row reaches the handler's caller
    await expect(visible(w.b.owner.id)).rejects.toMatchObject({ code: 'not_found' });
    // a handler that runs no statement is refused too
    await expect(
      t.db.asUser({ sub: w.b.owner.id }, async () => 'answered', { memberOf: w.a.business.id }),
    ).rejects.toMatchObject({ code: 'not_found' });
  });

  it('after each transaction the connection is back to the login role with no claims', async () => {
    await t.db.asUser({ sub: w.a.owner.id }, (tx) => tx.query('SELECT 1'));
    await t.db.asService('test.check', (tx) => tx.query('SELECT 1'));
    // Check every pooled connection, not only the one that happens to be free.
    const clients = await Promise.all([t.engine.pool.connect(), t.engine.pool.connect()]);
    try {
      for (const c of clients) {
        const r = await c.query<{ current_user: string; claims: string | null; reason: string | null }>(
          `SELECT current_user, current_setting('request.jwt.claims', true) AS claims, current_setting('request.service_reason', true) AS reason`,
        );
        expect(r.rows[0]!.current_user).toBe('capto_app');
        expect(r.rows[0]!.claims ?? '').toBe('');
        expect(r.rows[0]!.reason ?? '').toBe('');
      }
    } finally {
      for (const c of clients) c.release();
    }
  });

  it('a failed transaction rolls back and leaves nothing behind', async () => {
    await expect(
      t.db.asUser({ sub: w.a.owner.id }, async (tx) => {
        await tx.query(`UPDATE app.businesses SET name = 'Renamed' WHERE id = $1`, [w.a.business.id]);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    const name = await t.db.asUser({ sub: w.a.owner.id }, (tx) =>
      tx.query<{ name: string }>('SELECT name FROM app.businesses'),
    );
    expect(name.rows[0]!.name).toBe(w.a.business.name);
  });

  it('a transaction handle stops working once its transaction has ended', async () => {
    let leaked: { query: (s: string) => Promise<unknown> } | undefined;
    await t.db.asUser({ sub: w.a.owner.id }, async (tx) => {
      leaked = tx;
    });
    await expect(leaked!.query('SELECT 1')).rejects.toThrow(/after its transaction ended/);
  });

  it('refuses statements that would change role or end the transaction from a handler', async () => {
    for (const sql of [
      'RESET ROLE',
      'SET ROLE capto_service',
      "SELECT set_config('role', 'capto_service', true)",
      'COMMIT',
      'set local role capto_anon',
    ]) {
      await expect(t.db.asUser({ sub: w.a.owner.id }, (tx) => tx.query(sql))).rejects.toThrow(/not allowed/);
    }
  });

  it('rejects claims that are not UUIDs before touching the database', async () => {
    await expect(
      t.db.asUser({ sub: "x'); DROP TABLE app.businesses; --" }, (tx) => tx.query('SELECT 1')),
    ).rejects.toMatchObject({ code: 'invalid_token' });
  });

  it('malformed, empty or foreign claims mean "nobody": no uid, no rows', async () => {
    const seen = await t.engine.withMaintenanceClient(async (c) => {
      const out: { uid: string | null; rows: number }[] = [];
      for (const v of [
        '',
        'not json',
        '{"sub": 42}',
        '{"sub": "not-a-uuid"}',
        '{}',
        JSON.stringify({ sub: w.outsider.id }),
      ]) {
        await c.query('BEGIN; SET LOCAL ROLE capto_authenticated');
        await c.query(`SELECT set_config('request.jwt.claims', $1, true)`, [v]);
        const uid = await c.query<{ uid: string | null }>('SELECT app.uid() AS uid');
        const rows = await c.query('SELECT 1 FROM app.businesses');
        await c.query('ROLLBACK');
        out.push({ uid: uid.rows[0]!.uid, rows: rows.rowCount ?? 0 });
      }
      return out;
    });
    expect(seen.slice(0, 5)).toEqual(Array(5).fill({ uid: null, rows: 0 }));
    expect(seen[5]).toEqual({ uid: w.outsider.id, rows: 0 });
    // positive control: the same path with a member's claims sees her business
    const own = await t.db.asUser({ sub: w.a.owner.id }, (tx) => tx.query('SELECT 1 FROM app.businesses'));
    expect(own.rowCount).toBe(1);
  });
});
