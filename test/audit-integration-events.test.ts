// P6: the integration audit log is append-only for every role, readable by owners and
// admins only, chained so that history edited behind the triggers' back is reported,
// and the only way to change an integration table.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordIntegrationChange, type IntegrationChange } from '../src/audit/integration-events.ts';
import { verifyAuditChains } from '../src/audit/verify.ts';
import { asOwner } from '../src/db/engine.ts';
import type { Tx } from '../src/db/index.ts';
import { parseMasterKey } from '../src/vault/master-key.ts';
import { createVault } from '../src/vault/secrets.ts';
import { createTestDatabase, type TestDatabase } from './support/engine.ts';
import { newBusiness, newUser, twoBusinesses } from './support/factories.ts';

let t: TestDatabase;
let w: Awaited<ReturnType<typeof twoBusinesses>>;
beforeAll(async () => {
  t = await createTestDatabase();
  w = await twoBusinesses(t.engine);
});
afterAll(async () => t?.close());

const change = (
  businessId: string,
  actorUserId: string,
  extra: Partial<IntegrationChange> = {},
): IntegrationChange => ({
  businessId,
  actorUserId,
  action: 'twilio.config.added',
  subjectId: randomUUID(),
  details: { friendly_name: 'Main line', phone_number: '+15550001111', account_sid_masked: 'AC…abcd' },
  ip: '203.0.113.7',
  userAgent: 'vitest',
  ...extra,
});
const record = (c: IntegrationChange) => t.db.asService('test.audit', (tx) => recordIntegrationChange(tx, c));
const errorOf = (p: Promise<unknown>) =>
  p.then(
    () => null,
    (e: { code?: string; cause?: { code?: string } }) => e.cause?.code ?? e.code ?? 'error',
  );

describe('audit.integration_events', () => {
  it('records actor, email snapshot, database time and a valid chain; owners and admins read it, members do not', async () => {
    const before = Date.now();
    await record(change(w.a.business.id, w.a.owner.id));
    await record(change(w.a.business.id, w.a.admin.id, { action: 'twilio.config.default_set' }));
    const read = (sub: string) =>
      t.db.asUser({ sub }, (tx) =>
        tx.query<{ actor_user_id: string; actor_email: string; occurred_at: Date; action: string }>(
          'SELECT actor_user_id, actor_email, occurred_at, action FROM audit.integration_events WHERE business_id = $1 ORDER BY seq',
          [w.a.business.id],
        ),
      );
    const owner = await read(w.a.owner.id);
    expect(owner.rows.map((r) => [r.actor_user_id, r.actor_email, r.action])).toEqual([
      [w.a.owner.id, w.a.owner.email, 'twilio.config.added'],
      [w.a.admin.id, w.a.admin.email, 'twilio.config.default_set'],
    ]);
    expect(owner.rows[0]!.occurred_at.getTime()).toBeGreaterThan(before - 60_000);
    expect((await read(w.a.admin.id)).rowCount).toBe(2);
    expect((await read(w.a.member.id)).rowCount).toBe(0);
    expect((await read(w.b.owner.id)).rowCount).toBe(0);
    const report = await asOwner(t.engine, (c) => verifyAuditChains(c, w.a.business.id));
    expect(report).toMatchObject({ businesses: 1, rows: 2, broken: [] });
  });

  it('refuses UPDATE, DELETE and TRUNCATE to capto_authenticated, capto_service and capto_app', async () => {
    await record(change(w.b.business.id, w.b.owner.id));
    const statements = [
      `UPDATE audit.integration_events SET actor_email = 'x@example.test'`,
      'DELETE FROM audit.integration_events',
      'TRUNCATE audit.integration_events',
    ];
    for (const sql of statements) {
      expect(await errorOf(t.db.asUser({ sub: w.b.owner.id }, (tx) => tx.query(sql))), sql).toBe('42501');
      expect(await errorOf(t.db.asService('test.audit', (tx) => tx.query(sql))), sql).toBe('42501');
      // capto_app itself (the login role, before any SET ROLE) holds nothing at all.
      expect(await errorOf(t.engine.pool.query(sql)), sql).toBe('42501');
    }
    const rows = await asOwner(t.engine, (c) =>
      c.query('SELECT 1 FROM audit.integration_events WHERE business_id = $1', [w.b.business.id]),
    );
    expect(rows.rowCount).toBe(1);
  });

  it('refuses even the table owner while the triggers are enabled (ALWAYS)', async () => {
    await expect(
      asOwner(t.engine, async (c) => {
        await c.query(`UPDATE audit.integration_events SET actor_email = 'x@example.test'`);
      }),
    ).rejects.toThrow(/append-only|permission denied/);
    await expect(asOwner(t.engine, (c) => c.query('TRUNCATE audit.integration_events'))).rejects.toThrow(/append-only/);
  });

  it('refuses a forked chain (prev_hash that is not the head)', async () => {
    const head = await asOwner(t.engine, (c) =>
      c.query<{ hash: string }>(
        'SELECT hash FROM audit.integration_events WHERE business_id = $1 ORDER BY seq LIMIT 1',
        [w.a.business.id],
      ),
    );
    const err = await errorOf(
      t.db.asService('test.audit', (tx) =>
        tx.query(
          `INSERT INTO audit.integration_events (business_id, actor_user_id, action, prev_hash, hash) VALUES ($1, $2, 'google.connected', $3, $3)`,
          [w.a.business.id, w.a.owner.id, head.rows[0]!.hash],
        ),
      ),
    );
    expect(err).toBe('23514');
  });

  it('serialises concurrent writers of one business into one linear chain', async () => {
    const owner = await newUser(t.engine);
    const biz = await newBusiness(t.engine, owner.id);
    await Promise.all(Array.from({ length: 6 }, () => record(change(biz.id, owner.id))));
    const report = await asOwner(t.engine, (c) => verifyAuditChains(c, biz.id));
    expect(report).toMatchObject({ rows: 6, broken: [] });
  });

  it('reports a row altered with the triggers disabled (committed) and names the first broken link', async () => {
    const owner = await newUser(t.engine);
    const biz = await newBusiness(t.engine, owner.id);
    for (let i = 0; i < 4; i++) await record(change(biz.id, owner.id, { details: { friendly_name: `line ${i}` } }));
    const rows = await asOwner(t.engine, (c) =>
      c.query<{ seq: string; id: string }>(
        'SELECT seq::text AS seq, id FROM audit.integration_events WHERE business_id = $1 ORDER BY seq',
        [biz.id],
      ),
    );
    // The owner role disables the guard, edits, re-enables — and commits.
    await asOwner(t.engine, async (c) => {
      await c.query('ALTER TABLE audit.integration_events DISABLE TRIGGER integration_events_no_update_delete');
      await c.query(`UPDATE audit.integration_events SET details = '{"friendly_name":"forged"}' WHERE id = $1`, [
        rows.rows[1]!.id,
      ]);
      await c.query('ALTER TABLE audit.integration_events ENABLE ALWAYS TRIGGER integration_events_no_update_delete');
    });
    const report = await asOwner(t.engine, (c) => verifyAuditChains(c));
    expect(report.broken).toEqual([
      { businessId: biz.id, seq: Number(rows.rows[1]!.seq), id: rows.rows[1]!.id, reason: 'hash_mismatch' },
    ]);

    // A deleted row breaks the link of the row after it.
    const other = await newBusiness(t.engine, owner.id);
    for (let i = 0; i < 3; i++) await record(change(other.id, owner.id));
    const o = await asOwner(t.engine, (c) =>
      c.query<{ seq: string; id: string }>(
        'SELECT seq::text AS seq, id FROM audit.integration_events WHERE business_id = $1 ORDER BY seq',
        [other.id],
      ),
    );
    await asOwner(t.engine, async (c) => {
      await c.query('ALTER TABLE audit.integration_events DISABLE TRIGGER integration_events_no_update_delete');
      await c.query('DELETE FROM audit.integration_events WHERE id = $1', [o.rows[1]!.id]);
      await c.query('ALTER TABLE audit.integration_events ENABLE ALWAYS TRIGGER integration_events_no_update_delete');
    });
    const second = await asOwner(t.engine, (c) => verifyAuditChains(c, other.id));
    expect(second.broken).toEqual([
      { businessId: other.id, seq: Number(o.rows[2]!.seq), id: o.rows[2]!.id, reason: 'prev_hash_mismatch' },
    ]);
    // Positive control: an untouched business still verifies.
    expect((await asOwner(t.engine, (c) => verifyAuditChains(c, w.a.business.id))).broken).toEqual([]);
  });

  it('keeps the rows of a deleted business, without blocking the deletion', async () => {
    const owner = await newUser(t.engine);
    const biz = await newBusiness(t.engine, owner.id);
    await record(change(biz.id, owner.id));
    await t.db.asUser({ sub: owner.id }, (tx) => tx.query('DELETE FROM app.businesses WHERE id = $1', [biz.id]));
    const left = await asOwner(t.engine, (c) => verifyAuditChains(c, biz.id));
    expect(left).toMatchObject({ rows: 1, broken: [] });
  });
});

describe('integration tables change only with an audit row by an owner or admin', () => {
  const vault = createVault(parseMasterKey(Buffer.alloc(32, 7).toString('base64')));
  const insertConfig = async (tx: Tx, bid: string, id: string) => {
    const secretId = await vault.putSecret(tx, {
      businessId: bid,
      kind: 'twilio.auth_token',
      plaintext: 'f'.repeat(32),
    });
    await tx.query(
      `INSERT INTO app.twilio_configs (id, business_id, friendly_name, account_sid, phone_number, secret_id, is_default)
       VALUES ($1, $2, 'Main', $3, '+15550009999', $4, true)`,
      [id, bid, 'AC' + 'a'.repeat(32), secretId],
    );
  };

  it('refuses a change without an audit row, or audited by a member; accepts an admin', async () => {
    const bid = w.a.business.id;
    const id = randomUUID();
    expect(await errorOf(t.db.asService('test.audit', (tx) => insertConfig(tx, bid, id)))).toBe('42501');
    expect(
      await errorOf(
        t.db.asService('test.audit', async (tx) => {
          await recordIntegrationChange(tx, change(bid, w.a.member.id, { subjectId: id }));
          await insertConfig(tx, bid, id);
        }),
      ),
    ).toBe('42501');
    await t.db.asService('test.audit', async (tx) => {
      await recordIntegrationChange(tx, change(bid, w.a.admin.id, { subjectId: id }));
      await insertConfig(tx, bid, id);
    });
    // Members see the configuration (masked), but cannot write it in SQL at all.
    const seen = await t.db.asUser({ sub: w.a.member.id }, (tx) =>
      tx.query<{ account_sid_masked: string }>('SELECT account_sid_masked FROM app.twilio_configs WHERE id = $1', [id]),
    );
    expect(seen.rows).toEqual([{ account_sid_masked: 'AC…aaaa' }]);
    for (const sql of [
      `UPDATE app.twilio_configs SET is_default = false WHERE id = '${id}'`,
      `DELETE FROM app.twilio_configs WHERE id = '${id}'`,
      `INSERT INTO app.twilio_configs (id, business_id, friendly_name, account_sid, phone_number, secret_id) VALUES (gen_random_uuid(), '${bid}', 'x', 'AC${'b'.repeat(32)}', '+15550001234', gen_random_uuid())`,
      `SELECT account_sid FROM app.twilio_configs`,
    ]) {
      expect(await errorOf(t.db.asUser({ sub: w.a.member.id }, (tx) => tx.query(sql))), sql).toBe('42501');
      expect(await errorOf(t.db.asUser({ sub: w.a.owner.id }, (tx) => tx.query(sql))), sql).toBe('42501');
    }
    // A removal without its audit row is refused too, even for the service role.
    expect(
      await errorOf(
        t.db.asService('test.audit', (tx) => tx.query('DELETE FROM app.twilio_configs WHERE id = $1', [id])),
      ),
    ).toBe('42501');
  });
});
