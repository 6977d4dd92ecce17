// Deals, tasks, notes, conversations, messages, the contact timeline, lists,
// notifications, custom fields, import jobs and a contact's opt-outs return their timestamps written by the database (`isoSql`,
// docs/ARCHITECTURE.md §3) exactly as Date#toISOString writes them — UTC, milliseconds
// truncated (never rounded up), "Z" — whatever the session's time zone, from every read
// and write that returns a row: get, list, create and update (RETURNING).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asOwner } from '../src/db/engine.ts';
import type { Tx } from '../src/db/index.ts';
import { createDeal, dealStageChanges, getDeal, listDeals, moveDeal, updateDeal } from '../src/crm/deals.ts';
import { createNote, listNotes, updateNote } from '../src/crm/notes.ts';
import { createTask, getTask, listTasks, updateTask } from '../src/crm/tasks.ts';
import { contactTimeline } from '../src/crm/timeline.ts';
import { createList, getList, listLists } from '../src/crm/lists.ts';
import { listNotifications } from '../src/notifications/notifications.ts';
import { createCustomField, listCustomFields, updateCustomField } from '../src/crm/custom-fields.ts';
import { createImportJob, getImportJob, listImportJobs } from '../src/crm/import/import-jobs.ts';
import { getContactDetail } from '../src/crm/contact-detail.ts';
import { createContact } from '../src/crm/contacts.ts';
import { getConversation, listConversations, listMessages } from '../src/messaging/conversations.ts';
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

describe('timestamps of deals, tasks, notes, conversations, messages, the timeline, lists and notifications', () => {
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
    await asOwner(t.engine, (db) =>
      db.query(`UPDATE app.notes SET created_at = $2 WHERE id = $1`, [created.id, STORED]),
    );
    const listed = await inNewYork((tx) => listNotes(tx, w.a.business.id, { deal_id: deal.id }, { limit: 50 }));
    expect(listed.items.map((n) => [n.id, n.created_at])).toEqual([[created.id, WRITTEN]]);
    const edited = await inNewYork((tx) => updateNote(tx, w.a.business.id, created.id, 'Rate locked at 6.1%'));
    expect(edited.created_at).toBe(WRITTEN);
    isIsoOf(edited.updated_at, Date.now());
  });

  it('conversations, messages and the contact timeline', async () => {
    const contact = await inNewYork((tx) => createContact(tx, w.a.business.id, { first_name: 'Texter' }));
    const conversation = await asOwner(t.engine, async (db) => {
      const v = (
        await db.query<{ id: string }>(
          `INSERT INTO app.conversations (business_id, contact_id, our_number, unread_count, last_message_at, created_at)
           VALUES ($1, $2, '+14155550100', 1, $3, $4) RETURNING id`,
          [w.a.business.id, contact.id, STORED, ANCIENT],
        )
      ).rows[0]!.id;
      await db.query(
        `INSERT INTO app.messages (business_id, conversation_id, direction, body, status, created_at, sent_at, delivered_at)
         VALUES ($1, $2, 'outbound', 'Rate update', 'delivered', $3, $3, $4)`,
        [w.a.business.id, v, STORED, ANCIENT],
      );
      await db.query(`UPDATE app.contact_events SET created_at = $2 WHERE contact_id = $1`, [contact.id, STORED]);
      return v;
    });
    const listed = await inNewYork((tx) => listConversations(tx, w.a.business.id, { limit: 50 }));
    expect(listed.items.find((v) => v.id === conversation)).toMatchObject({
      last_message_at: WRITTEN,
      created_at: ANCIENT_WRITTEN,
    });
    const one = await inNewYork((tx) => getConversation(tx, w.a.business.id, conversation));
    expect(one).toMatchObject({ last_message_at: WRITTEN, created_at: ANCIENT_WRITTEN });
    const messages = await inNewYork((tx) => listMessages(tx, w.a.business.id, conversation, { limit: 50 }));
    expect(messages.items).toEqual([
      expect.objectContaining({ created_at: WRITTEN, sent_at: WRITTEN, delivered_at: ANCIENT_WRITTEN, read_at: null }),
    ]);
    const timeline = await inNewYork((tx) => contactTimeline(tx, w.a.business.id, contact.id, { limit: 50 }));
    expect(timeline.items.find((e) => e.kind === 'created')?.at).toBe(WRITTEN);
  });

  it('lists and notifications', async () => {
    const list = await inNewYork((tx) => createList(tx, w.a.business.id, { name: 'Clock list' }));
    isIsoOf(list.created_at, Date.now());
    const note = await asOwner(t.engine, async (db) => {
      await db.query(`UPDATE app.lists SET created_at = $2 WHERE id = $1`, [list.id, STORED]);
      return (
        await db.query<{ id: string }>(
          `INSERT INTO app.notifications (business_id, user_id, kind, title, created_at, read_at)
           VALUES ($1, $2, 'assignment', 'Clock', $3, $4) RETURNING id`,
          [w.a.business.id, w.a.member.id, STORED, ANCIENT],
        )
      ).rows[0]!.id;
    });
    expect((await inNewYork((tx) => getList(tx, w.a.business.id, list.id))).created_at).toBe(WRITTEN);
    const lists = await inNewYork((tx) => listLists(tx, w.a.business.id));
    expect(lists.find((l) => l.id === list.id)?.created_at).toBe(WRITTEN);
    const notifications = await inNewYork((tx) => listNotifications(tx, { limit: 50 }));
    expect(notifications.items.find((n) => n.id === note)).toMatchObject({
      created_at: WRITTEN,
      read_at: ANCIENT_WRITTEN,
    });
  });

  it('stage changes are in the order they happened, even within one millisecond', async () => {
    const deal = await inNewYork((tx) => createDeal(tx, w.a.business.id, { title: 'Same millisecond' }));
    await inNewYork((tx) => moveDeal(tx, w.a.business.id, deal.id, { stage: 'application' }));
    // The move (lead → application) 800 µs before the creation (→ lead), in one millisecond:
    // ordered by the written text they would tie, and the creation (from NULL) would come first.
    await asOwner(t.engine, (db) =>
      db.query(
        `UPDATE app.deal_stage_changes
            SET changed_at = CASE WHEN from_stage IS NULL THEN '2026-03-08 12:00:00.000900+00'::timestamptz
                                  ELSE '2026-03-08 12:00:00.000100+00'::timestamptz END
          WHERE deal_id = $1`,
        [deal.id],
      ),
    );
    const changes = await inNewYork((tx) => dealStageChanges(tx, w.a.business.id, deal.id));
    expect(changes.map((c) => [c.from_stage, c.to_stage, c.changed_at])).toEqual([
      ['lead', 'application', '2026-03-08T12:00:00.000Z'],
      [null, 'lead', '2026-03-08T12:00:00.000Z'],
    ]);
  });

  it('custom fields, import jobs (newest first) and the opt-outs on a contact page', async () => {
    const field = await t.db.asUser({ sub: w.a.owner.id }, async (tx) => {
      await tx.query(`SET LOCAL TIME ZONE 'America/New_York'`);
      return createCustomField(tx, w.a.business.id, { entity: 'contact', label: 'Clock field', type: 'text' });
    });
    isIsoOf(field.created_at, Date.now());
    const renamed = await t.db.asUser({ sub: w.a.owner.id }, (tx) =>
      updateCustomField(tx, w.a.business.id, field.id, { label: 'Clock field 2' }),
    );
    isIsoOf(renamed.updated_at, Date.now());

    const upload = { headers: ['email'], rows: [['a@example.test']], lines: [2], delimiter: ',' };
    const [older, newer] = await inNewYork(async (tx) => [
      await createImportJob(tx, w.a.business.id, w.a.member.id, 'a.csv', upload),
      await createImportJob(tx, w.a.business.id, w.a.member.id, 'b.csv', upload),
    ]);
    isIsoOf(older!.created_at, Date.now());
    expect(older!.started_at).toBeNull();

    const contact = await inNewYork((tx) =>
      createContact(tx, w.a.business.id, { first_name: 'Opted', phone: '+14155550131' }),
    );
    await asOwner(t.engine, async (db) => {
      await db.query(`UPDATE app.custom_fields SET created_at = $2 WHERE id = $1`, [field.id, STORED]);
      // Two jobs 800 µs apart in one millisecond: the newer first, by time, not by the text.
      await db.query(`UPDATE app.import_jobs SET created_at = $2, started_at = $3, finished_at = $3 WHERE id = $1`, [
        older!.id,
        '2026-03-08 12:00:00.000100+00',
        ANCIENT,
      ]);
      await db.query(`UPDATE app.import_jobs SET created_at = $2 WHERE id = $1`, [
        newer!.id,
        '2026-03-08 12:00:00.000900+00',
      ]);
      await db.query(
        `INSERT INTO app.sms_opt_outs (business_id, contact_id, our_number, keyword, opted_out_at)
         VALUES ($1, $2, '+14155550100', 'STOP', $3)`,
        [w.a.business.id, contact.id, STORED],
      );
    });
    const fields = await inNewYork((tx) => listCustomFields(tx, w.a.business.id, 'contact'));
    expect(fields.find((f) => f.id === field.id)?.created_at).toBe(WRITTEN);
    const job = await inNewYork((tx) => getImportJob(tx, w.a.business.id, older!.id));
    expect([job.created_at, job.started_at, job.finished_at]).toEqual([
      '2026-03-08T12:00:00.000Z',
      ANCIENT_WRITTEN,
      ANCIENT_WRITTEN,
    ]);
    const jobs = await inNewYork((tx) => listImportJobs(tx, w.a.business.id));
    expect(jobs.filter((j) => j.id === older!.id || j.id === newer!.id).map((j) => j.filename)).toEqual([
      'b.csv',
      'a.csv',
    ]);
    const detail = await inNewYork((tx) => getContactDetail(tx, w.a.business.id, contact.id));
    expect(detail.sms_opt_outs).toEqual([{ our_number: '+14155550100', keyword: 'STOP', opted_out_at: WRITTEN }]);
  });
});
