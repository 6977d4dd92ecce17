// Deals, tasks and notes return their timestamps written by the database (`isoSql`,
// docs/ARCHITECTURE.md §3) exactly as Date#toISOString writes them — UTC, milliseconds
// truncated (never rounded up), "Z" — whatever the session's time zone, from every read
// and write that returns a row: get, list, create and update (RETURNING).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asOwner } from '../src/db/engine.ts';
import type { Tx } from '../src/db/index.ts';
import { createDeal, dealStageChanges, getDeal, listDeals, moveDeal, updateDeal } from '../src/crm/deals.ts';
import { createNote, listNotes, updateNote } from '../src/crm/notes.ts';
import { createTask, getTask, listTasks, updateTask } from '../src/crm/tasks.ts';
import { createTestDatabase, type TestDatabase } from './support/engine.ts';
import { twoBusinesses } from './support/factories.ts';

let t: TestDatabase;
let w: Awaited<ReturnType<typeof twoBusinesses>>;
/** As the member, in a session whose time zone is not UTC. */
const inNewYork = <T>(fn: (tx: Tx) => Promise<T>) =>
  t.db.asUser({ sub: w.a.member.id }, async (tx) => {
    await tx.query(`SET LOCAL TIME ZONE 'America/New_York'`);
    return fn(tx);
  });

// Microseconds PostgreSQL keeps and JavaScript's Date drops: 59.999999 s must read .999.
const STORED = '2026-03-08 01:59:59.999999-05';
const WRITTEN = '2026-03-08T06:59:59.999Z';
const ANCIENT = '0999-01-02 03:04:05.5+00';
const ANCIENT_WRITTEN = new Date(Date.UTC(999, 0, 2, 3, 4, 5, 500)).toISOString();
/** An ISO timestamp as toISOString writes it, and the same instant the database holds. */
const isIsoOf = (value: string | null, at: number) => {
  expect(value).not.toBeNull();
  expect(new Date(value!).toISOString()).toBe(value);
  expect(Math.abs(Date.parse(value!) - at)).toBeLessThan(60_000);
};

beforeAll(async () => {
  t = await createTestDatabase();
  w = await twoBusinesses(t.engine);
});
afterAll(async () => t?.close());

describe('timestamps of deals, tasks and notes', () => {
  it('deals: get, list, create, update, move and stage changes', async () => {
    const created = await inNewYork((tx) => createDeal(tx, w.a.business.id, { title: 'Clock loan' }));
    isIsoOf(created.created_at, Date.now());
    isIsoOf(created.updated_at, Date.now());
    const updated = await inNewYork((tx) => updateDeal(tx, w.a.business.id, created.id, { title: 'Clock loan 2' }));
    isIsoOf(updated.updated_at, Date.now());
    const moved = await inNewYork((tx) => moveDeal(tx, w.a.business.id, created.id, { stage: 'application' }));
    expect(moved.stage).toBe('application');

    await asOwner(t.engine, async (db) => {
      await db.query(`UPDATE app.deals SET created_at = $2 WHERE id = $1`, [created.id, STORED]);
      await db.query(`UPDATE app.deal_stage_changes SET changed_at = $2 WHERE deal_id = $1`, [created.id, ANCIENT]);
    });
    const read = await inNewYork((tx) => getDeal(tx, w.a.business.id, created.id));
    expect(read.created_at).toBe(WRITTEN);
    const listed = await inNewYork((tx) => listDeals(tx, w.a.business.id, { limit: 200 }));
    expect(listed.items.find((d) => d.id === created.id)?.created_at).toBe(WRITTEN);
    const changes = await inNewYork((tx) => dealStageChanges(tx, w.a.business.id, created.id));
    expect(changes.length).toBeGreaterThan(0);
    for (const c of changes) expect(c.changed_at).toBe(ANCIENT_WRITTEN);
  });

  it('tasks: due, reminder, done, created and updated times from get, list, create and update', async () => {
    const due = '2026-12-24T15:30:00.000Z';
    const created = await inNewYork((tx) =>
      createTask(tx, w.a.business.id, { title: 'Call back', due_at: due, remind_at: due }),
    );
    expect(created).toMatchObject({ due_at: due, remind_at: due, done_at: null });
    isIsoOf(created.created_at, Date.now());
    const done = await inNewYork((tx) => updateTask(tx, w.a.business.id, created.id, { done: true }));
    isIsoOf(done.done_at, Date.now());
    isIsoOf(done.updated_at, Date.now());

    await asOwner(t.engine, (db) =>
      db.query(`UPDATE app.tasks SET created_at = $2, done_at = $3, due_at = $2 WHERE id = $1`, [
        created.id,
        STORED,
        ANCIENT,
      ]),
    );
    const read = await inNewYork((tx) => getTask(tx, w.a.business.id, created.id));
    expect(read).toMatchObject({ created_at: WRITTEN, due_at: WRITTEN, done_at: ANCIENT_WRITTEN, remind_at: due });
    const listed = await inNewYork((tx) => listTasks(tx, w.a.business.id, { limit: 200 }));
    expect(listed.items.find((x) => x.id === created.id)).toMatchObject({
      created_at: WRITTEN,
      due_at: WRITTEN,
      done_at: ANCIENT_WRITTEN,
    });
  });

  it('notes: created and updated times from create, list and update', async () => {
    const deal = await inNewYork((tx) => createDeal(tx, w.a.business.id, { title: 'Noted loan' }));
    const created = await inNewYork((tx) => createNote(tx, w.a.business.id, { deal_id: deal.id }, 'Rate locked'));
    isIsoOf(created.created_at, Date.now());
    await asOwner(t.engine, (db) => db.query(`UPDATE app.notes SET created_at = $2 WHERE id = $1`, [created.id, STORED]));
    const listed = await inNewYork((tx) => listNotes(tx, w.a.business.id, { deal_id: deal.id }, { limit: 50 }));
    expect(listed.items.map((n) => [n.id, n.created_at])).toEqual([[created.id, WRITTEN]]);
    const edited = await inNewYork((tx) => updateNote(tx, w.a.business.id, created.id, 'Rate locked at 6.1%'));
    expect(edited.created_at).toBe(WRITTEN);
    isIsoOf(edited.updated_at, Date.now());
  });
});
