// Automations' tables (migration 0101, docs/ARCHITECTURE.md §25) on the engine under test:
// who may create, edit, activate and pause (owners and admins, in the policies), who reads
// (every member of the business, nobody else), that versions and enrollment history cannot
// be rewritten by a request role, the enrollment state machine, its unique key, and that
// pausing an automation holds its running enrollments.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asOwner } from '../src/db/engine.ts';
import {
  createAutomation,
  getAutomation,
  listAutomations,
  setAutomationStatus,
  updateAutomation,
  type AutomationInput,
} from '../src/automations/automations.ts';
import { createTestDatabase, ENGINE, type TestDatabase } from './support/engine.ts';
import { twoBusinesses } from './support/factories.ts';
import { probe, summarise } from './support/tenancy.ts';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
}, 300_000);
afterAll(async () => t?.close());

const input = (name = 'Nurture'): AutomationInput => ({
  name,
  trigger: { type: 'contact_created' },
  steps: [
    { type: 'wait', amount: 1, unit: 'days' },
    { type: 'set_contact_status', status: 'prospect' },
  ],
});

async function newContact(businessId: string): Promise<string> {
  const id = randomUUID();
  await asOwner(t.engine, (c) =>
    c.query(`INSERT INTO app.contacts (id, business_id, first_name) VALUES ($1, $2, 'Dana')`, [id, businessId]),
  );
  return id;
}

/** An enrollment written as the service would (the only writer). */
async function enroll(businessId: string, automationId: string, contactId: string, eventId = randomUUID()) {
  return t.db.asService('test.enroll', async (tx) => {
    const r = await tx.query<{ id: string }>(
      `INSERT INTO app.automation_enrollments (business_id, automation_id, version, contact_id, trigger_event_id, next_run_at)
       SELECT business_id, id, version, $3, $4, now() FROM app.automations WHERE business_id = $1 AND id = $2
       RETURNING id`,
      [businessId, automationId, contactId, eventId],
    );
    return r.rows[0]!.id;
  });
}

const asUser = <T>(sub: string, fn: Parameters<TestDatabase['db']['asUser']>[1]) =>
  t.db.asUser({ sub }, fn) as Promise<T>;

describe(`automations: who creates and who reads (${ENGINE})`, () => {
  it('owners and admins create; a member, another business and an outsider cannot', async () => {
    const w = await twoBusinesses(t.engine);
    for (const role of ['owner', 'admin'] as const) {
      const a = await asUser<Awaited<ReturnType<typeof createAutomation>>>(w.a[role].id, (tx) =>
        createAutomation(tx, { userId: w.a[role].id }, w.a.business.id, input(`by ${role}`)),
      );
      expect(a).toMatchObject({
        name: `by ${role}`,
        status: 'draft',
        version: 1,
        trigger: { type: 'contact_created' },
      });
      expect(a.counts).toEqual({ active: 0, paused: 0, completed: 0, exited: 0, failed: 0 });
    }
    await expect(
      asUser(w.a.member.id, (tx) => createAutomation(tx, { userId: w.a.member.id }, w.a.business.id, input())),
    ).rejects.toMatchObject({ code: 'forbidden' });
    await expect(
      asUser(w.b.owner.id, (tx) => createAutomation(tx, { userId: w.b.owner.id }, w.a.business.id, input())),
    ).rejects.toMatchObject({ code: 'forbidden' });
    await expect(
      asUser(w.outsider.id, (tx) => createAutomation(tx, { userId: w.outsider.id }, w.a.business.id, input())),
    ).rejects.toMatchObject({ code: 'forbidden' });
    // An owner cannot insert in someone else's name, nor an active one straight away.
    expect(
      summarise(
        await probe(
          t.db,
          w.a.owner.id,
          `INSERT INTO app.automations (business_id, name, trigger_type, created_by) VALUES ($1, 'x', 'date', $2)`,
          [w.a.business.id, w.a.admin.id],
        ),
      ),
    ).toBe('denied');

    // Every member of A reads both; B's owner and the outsider see none of them.
    for (const role of ['owner', 'admin', 'member'] as const)
      expect(
        (await asUser<unknown[]>(w.a[role].id, (tx) => listAutomations(tx, w.a.business.id))).map(
          (a) => (a as { name: string }).name,
        ),
      ).toEqual(['by owner', 'by admin']);
    expect(await asUser<unknown[]>(w.b.owner.id, (tx) => listAutomations(tx, w.a.business.id))).toEqual([]);
    expect(await asUser<unknown[]>(w.outsider.id, (tx) => listAutomations(tx, w.a.business.id))).toEqual([]);
    for (const table of ['automations', 'automation_versions'])
      expect(
        summarise(
          await probe(t.db, w.b.admin.id, `SELECT 1 FROM app.${table} WHERE business_id = $1`, [w.a.business.id]),
        ),
      ).toBe('none');
  });

  it('a definition that names another business’s list is refused as not found', async () => {
    const w = await twoBusinesses(t.engine);
    const listB = randomUUID();
    await asOwner(t.engine, (c) =>
      c.query(`INSERT INTO app.lists (id, business_id, name) VALUES ($1, $2, 'B list')`, [listB, w.b.business.id]),
    );
    await expect(
      asUser(w.a.owner.id, (tx) =>
        createAutomation(tx, { userId: w.a.owner.id }, w.a.business.id, {
          ...input(),
          steps: [{ type: 'add_to_list', list_id: listB }],
        }),
      ),
    ).rejects.toMatchObject({ code: 'not_found' });
  });
});

describe(`automations: edit, activate, pause (${ENGINE})`, () => {
  it('admins activate and pause; members cannot; another business gets not found', async () => {
    const w = await twoBusinesses(t.engine);
    const a = await asUser<{ id: string }>(w.a.owner.id, (tx) =>
      createAutomation(tx, { userId: w.a.owner.id }, w.a.business.id, input()),
    );
    await expect(
      asUser(w.a.member.id, (tx) => setAutomationStatus(tx, w.a.business.id, a.id, 'active')),
    ).rejects.toMatchObject({ code: 'forbidden' });
    await expect(
      asUser(w.b.owner.id, (tx) => setAutomationStatus(tx, w.a.business.id, a.id, 'active')),
    ).rejects.toMatchObject({ code: 'not_found' });
    const active = await asUser<{ status: string; activated_at: string | null }>(w.a.admin.id, (tx) =>
      setAutomationStatus(tx, w.a.business.id, a.id, 'active'),
    );
    expect(active.status).toBe('active');
    expect(active.activated_at).not.toBeNull();
    // active → active is no transition
    await expect(
      asUser(w.a.admin.id, (tx) => setAutomationStatus(tx, w.a.business.id, a.id, 'active')),
    ).rejects.toMatchObject({ code: 'invalid_transition' });
    await expect(
      asUser(w.a.member.id, (tx) => setAutomationStatus(tx, w.a.business.id, a.id, 'paused')),
    ).rejects.toMatchObject({ code: 'forbidden' });
    expect(
      (await asUser<{ status: string }>(w.a.owner.id, (tx) => setAutomationStatus(tx, w.a.business.id, a.id, 'paused')))
        .status,
    ).toBe('paused');
  });

  it('an edit is the next version; running enrollments stay on theirs; versions cannot be rewritten', async () => {
    const w = await twoBusinesses(t.engine);
    const a = await asUser<{ id: string }>(w.a.owner.id, (tx) =>
      createAutomation(tx, { userId: w.a.owner.id }, w.a.business.id, input()),
    );
    await asUser(w.a.owner.id, (tx) => setAutomationStatus(tx, w.a.business.id, a.id, 'active'));
    const contact = await newContact(w.a.business.id);
    const enrollment = await enroll(w.a.business.id, a.id, contact);
    await expect(
      asUser(w.a.member.id, (tx) =>
        updateAutomation(tx, { userId: w.a.member.id }, w.a.business.id, a.id, { name: 'mine now' }),
      ),
    ).rejects.toMatchObject({ code: 'forbidden' });
    const edited = await asUser<{ version: number; name: string; steps: unknown[] }>(w.a.admin.id, (tx) =>
      updateAutomation(tx, { userId: w.a.admin.id }, w.a.business.id, a.id, {
        name: 'Nurture v2',
        definition: { trigger: { type: 'contact_created' }, steps: [{ type: 'set_contact_status', status: 'client' }] },
      }),
    );
    expect(edited).toMatchObject({ version: 2, name: 'Nurture v2', steps: [{ type: 'set_contact_status' }] });
    const e = await asOwner(t.engine, (c) =>
      c.query<{ version: number }>('SELECT version FROM app.automation_enrollments WHERE id = $1', [enrollment]),
    );
    expect(e.rows[0]!.version).toBe(1);
    // Even the service cannot move an enrollment to another version (no grant), nor the
    // owner role past the guard.
    await expect(
      t.db.asService('test', (tx) =>
        tx.query('UPDATE app.automation_enrollments SET version = 2 WHERE id = $1', [enrollment]),
      ),
    ).rejects.toMatchObject({ code: 'forbidden' });
    await expect(
      asOwner(t.engine, (c) =>
        c.query('UPDATE app.automation_enrollments SET version = 2 WHERE id = $1', [enrollment]),
      ),
    ).rejects.toMatchObject({ hint: 'enrollment_fixed' });
    for (const sql of [
      `UPDATE app.automation_versions SET definition = '{}' WHERE automation_id = $1`,
      'DELETE FROM app.automation_versions WHERE automation_id = $1',
      'DELETE FROM app.automations WHERE id = $1',
    ])
      expect(summarise(await probe(t.db, w.a.owner.id, sql, [a.id]))).toBe('denied');
    // Skipping a version is refused by the guard.
    expect(
      summarise(await probe(t.db, w.a.owner.id, 'UPDATE app.automations SET version = 5 WHERE id = $1', [a.id])),
    ).toBe('invalid_version');
  });
});

describe(`automation enrollments (${ENGINE})`, () => {
  it('only the service writes them; members read their business’s, nobody else', async () => {
    const w = await twoBusinesses(t.engine);
    const a = await asUser<{ id: string }>(w.a.owner.id, (tx) =>
      createAutomation(tx, { userId: w.a.owner.id }, w.a.business.id, input()),
    );
    const contact = await newContact(w.a.business.id);
    const enrollment = await enroll(w.a.business.id, a.id, contact);
    await t.db.asService('test', (tx) =>
      tx.query(
        `INSERT INTO app.automation_enrollment_events (business_id, enrollment_id, contact_id, kind) VALUES ($1, $2, $3, 'enrolled')`,
        [w.a.business.id, enrollment, contact],
      ),
    );
    for (const table of ['automation_enrollments', 'automation_enrollment_events']) {
      for (const role of ['owner', 'admin', 'member'] as const)
        expect(
          summarise(
            await probe(t.db, w.a[role].id, `SELECT 1 FROM app.${table} WHERE business_id = $1`, [w.a.business.id]),
          ),
        ).toBe('ok');
      for (const who of [w.b.owner.id, w.outsider.id])
        expect(
          summarise(await probe(t.db, who, `SELECT 1 FROM app.${table} WHERE business_id = $1`, [w.a.business.id])),
        ).toBe('none');
      for (const sql of [`UPDATE app.${table} SET business_id = business_id`, `DELETE FROM app.${table}`])
        expect(summarise(await probe(t.db, w.a.owner.id, sql))).toBe('denied');
    }
    expect(
      summarise(
        await probe(
          t.db,
          w.a.owner.id,
          `INSERT INTO app.automation_enrollments (business_id, automation_id, version, contact_id, trigger_event_id, next_run_at)
           VALUES ($1, $2, 1, $3, 'x', now())`,
          [w.a.business.id, a.id, contact],
        ),
      ),
    ).toBe('denied');
  });

  it('one enrollment per (automation, contact, trigger event): a retried event enrolls once', async () => {
    const w = await twoBusinesses(t.engine);
    const a = await asUser<{ id: string }>(w.a.owner.id, (tx) =>
      createAutomation(tx, { userId: w.a.owner.id }, w.a.business.id, input()),
    );
    const contact = await newContact(w.a.business.id);
    const event = randomUUID();
    await enroll(w.a.business.id, a.id, contact, event);
    await expect(enroll(w.a.business.id, a.id, contact, event)).rejects.toMatchObject({ code: 'conflict' });
    await enroll(w.a.business.id, a.id, contact, randomUUID()); // another event is another run
    const n = await asOwner(t.engine, (c) =>
      c.query<{ n: number }>('SELECT count(*)::int AS n FROM app.automation_enrollments WHERE automation_id = $1', [
        a.id,
      ]),
    );
    expect(n.rows[0]!.n).toBe(2);
  });

  it('pausing an automation holds its running enrollments; activating releases them; finished ones stay', async () => {
    const w = await twoBusinesses(t.engine);
    const a = await asUser<{ id: string }>(w.a.owner.id, (tx) =>
      createAutomation(tx, { userId: w.a.owner.id }, w.a.business.id, input()),
    );
    await asUser(w.a.owner.id, (tx) => setAutomationStatus(tx, w.a.business.id, a.id, 'active'));
    const running = await enroll(w.a.business.id, a.id, await newContact(w.a.business.id));
    const done = await enroll(w.a.business.id, a.id, await newContact(w.a.business.id));
    await t.db.asService('test', (tx) =>
      tx.query(`UPDATE app.automation_enrollments SET state = 'completed', finished_at = now() WHERE id = $1`, [done]),
    );
    const states = async () =>
      Object.fromEntries(
        (
          await asOwner(t.engine, (c) =>
            c.query<{ id: string; state: string }>(
              'SELECT id, state FROM app.automation_enrollments WHERE automation_id = $1',
              [a.id],
            ),
          )
        ).rows.map((r) => [r.id, r.state]),
      );
    const paused = await asUser<{ counts: Record<string, number> }>(w.a.admin.id, (tx) =>
      setAutomationStatus(tx, w.a.business.id, a.id, 'paused'),
    );
    expect(await states()).toEqual({ [running]: 'paused', [done]: 'completed' });
    expect(paused.counts).toMatchObject({ paused: 1, completed: 1, active: 0 });
    await asUser(w.a.admin.id, (tx) => setAutomationStatus(tx, w.a.business.id, a.id, 'active'));
    expect(await states()).toEqual({ [running]: 'active', [done]: 'completed' });
    // A finished enrollment never runs again.
    await expect(
      t.db.asService('test', (tx) =>
        tx.query(
          `UPDATE app.automation_enrollments SET state = 'active', finished_at = NULL, next_run_at = now() WHERE id = $1`,
          [done],
        ),
      ),
    ).rejects.toMatchObject({ hint: 'invalid_transition' });
    const visible = await asUser<{ counts: Record<string, number> }>(w.a.member.id, (tx) =>
      getAutomation(tx, w.a.business.id, a.id),
    );
    expect(visible.counts).toMatchObject({ active: 1, completed: 1 });
  });
});
