// The pipeline, notes, tasks and the timeline at the service level: concurrent kanban
// moves keep positions dense, references must stay inside the business, notes belong
// to their author (admins may delete), and what happens when a member leaves or a
// contact is purged.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asOwner } from '../src/db/engine.ts';
import type { Tx } from '../src/db/index.ts';
import { createContact, purgeDeletedContacts, trashContact } from '../src/crm/contacts.ts';
import { createDeal, deleteDeal, getDeal, listDeals, moveDeal, updateDeal } from '../src/crm/deals.ts';
import { createNote, deleteNote, updateNote } from '../src/crm/notes.ts';
import { createTask, listTasks, updateTask } from '../src/crm/tasks.ts';
import { contactTimeline } from '../src/crm/timeline.ts';
import { createTestDatabase, type TestDatabase } from './support/engine.ts';
import { twoBusinesses } from './support/factories.ts';

let t: TestDatabase;
let w: Awaited<ReturnType<typeof twoBusinesses>>;
const as = <T>(user: { id: string }, fn: (tx: Tx) => Promise<T>) => t.db.asUser({ sub: user.id }, fn);

beforeAll(async () => {
  t = await createTestDatabase({ poolSize: 6 });
  w = await twoBusinesses(t.engine);
});
afterAll(async () => t?.close());

const positions = async (bid: string, stage: 'underwriting' | 'processing') =>
  (await as(w.a.owner, (tx) => listDeals(tx, bid, { limit: 200, stage }))).items.map((d) => d.position);

describe('pipeline', () => {
  it('keeps positions a dense 0..n-1 under concurrent moves', async () => {
    const deals = await as(w.a.member, async (tx) => {
      const out = [];
      for (let i = 0; i < 8; i++)
        out.push(await createDeal(tx, w.a.business.id, { title: `Move ${i}`, stage: 'underwriting' }));
      return out;
    });
    await Promise.all(
      deals.map((d, i) =>
        as(w.a.member, (tx) =>
          moveDeal(tx, w.a.business.id, d.id, i % 2 ? { position: 0 } : { stage: 'processing', position: i }),
        ),
      ),
    );
    expect(await positions(w.a.business.id, 'underwriting')).toEqual([0, 1, 2, 3]);
    expect(await positions(w.a.business.id, 'processing')).toEqual([0, 1, 2, 3]);
    await as(w.a.member, (tx) => deleteDeal(tx, w.a.business.id, deals[1]!.id));
    expect(await positions(w.a.business.id, 'underwriting')).toEqual([0, 1, 2]);
  });

  it('refuses a contact or owner from another business', async () => {
    const foreign = await as(w.b.member, (tx) => createContact(tx, w.b.business.id, { first_name: 'Foreign' }));
    await expect(
      as(w.a.member, (tx) => createDeal(tx, w.a.business.id, { title: 'X', contact_id: foreign.id })),
    ).rejects.toMatchObject({ code: 'not_found' });
    await expect(
      as(w.a.member, (tx) => createDeal(tx, w.a.business.id, { title: 'X', owner_id: w.b.member.id })),
    ).rejects.toMatchObject({ code: 'validation_failed' });
    const deal = await as(w.a.member, (tx) => createDeal(tx, w.a.business.id, { title: 'Mine' }));
    await expect(
      as(w.a.member, (tx) => updateDeal(tx, w.a.business.id, deal.id, { contact_id: foreign.id })),
    ).rejects.toMatchObject({ code: 'not_found' });
    await expect(as(w.b.owner, (tx) => getDeal(tx, w.a.business.id, deal.id))).rejects.toMatchObject({
      code: 'not_found',
    });
  });

  it('keeps a deal when its contact is purged, and a contact when its owner leaves', async () => {
    const { contact, deal } = await as(w.a.owner, async (tx) => {
      const contact = await createContact(tx, w.a.business.id, { first_name: 'Gone', owner_id: w.a.admin.id });
      return {
        contact,
        deal: await createDeal(tx, w.a.business.id, {
          title: 'Survives',
          contact_id: contact.id,
          amount_cents: 1_000_000,
        }),
      };
    });
    // the admin leaves: the contact stays, unowned
    await asOwner(t.engine, (c) =>
      c.query('DELETE FROM app.memberships WHERE business_id = $1 AND user_id = $2', [w.a.business.id, w.a.admin.id]),
    );
    const owner = await asOwner(
      t.engine,
      async (c) =>
        (await c.query<{ owner_id: string | null }>('SELECT owner_id FROM app.contacts WHERE id = $1', [contact.id]))
          .rows[0],
    );
    expect(owner).toEqual({ owner_id: null });
    await asOwner(t.engine, (c) =>
      c.query(`INSERT INTO app.memberships (business_id, user_id, role) VALUES ($1, $2, 'admin')`, [
        w.a.business.id,
        w.a.admin.id,
      ]),
    );
    // the contact is purged: the deal stays, without a contact
    await as(w.a.owner, (tx) => trashContact(tx, w.a.business.id, contact.id));
    await asOwner(t.engine, (c) =>
      c.query(`UPDATE app.contacts SET deleted_at = now() - interval '40 days' WHERE id = $1`, [contact.id]),
    );
    await t.db.asService('crm.purge', (tx) => purgeDeletedContacts(tx));
    expect(await as(w.a.owner, (tx) => getDeal(tx, w.a.business.id, deal.id))).toMatchObject({
      title: 'Survives',
      contact_id: null,
      amount_cents: 1_000_000,
    });
  });
});

describe('notes, tasks and the timeline', () => {
  it('lets the author edit her note, refuses a colleague, and lets an admin delete it', async () => {
    const contact = await as(w.a.member, (tx) => createContact(tx, w.a.business.id, { first_name: 'Noted' }));
    const note = await as(w.a.member, (tx) =>
      createNote(tx, w.a.business.id, { contact_id: contact.id }, 'called, left a voicemail'),
    );
    expect((await as(w.a.member, (tx) => updateNote(tx, w.a.business.id, note.id, 'called twice'))).body).toBe(
      'called twice',
    );
    await expect(as(w.a.owner, (tx) => updateNote(tx, w.a.business.id, note.id, 'rewritten'))).rejects.toMatchObject({
      code: 'forbidden',
    });
    await expect(as(w.b.owner, (tx) => deleteNote(tx, w.a.business.id, note.id))).rejects.toMatchObject({
      code: 'not_found',
    });
    await as(w.a.admin, (tx) => deleteNote(tx, w.a.business.id, note.id));
    await expect(as(w.a.member, (tx) => deleteNote(tx, w.a.business.id, note.id))).rejects.toMatchObject({
      code: 'not_found',
    });
  });

  it('sets and clears done_at with the done flag, and refuses foreign references', async () => {
    const task = await as(w.a.member, (tx) =>
      createTask(tx, w.a.business.id, { title: 'Order appraisal', due_date: '2027-05-01' }),
    );
    expect(task).toMatchObject({ assignee_id: w.a.member.id, done: false, done_at: null, due_date: '2027-05-01' });
    const done = await as(w.a.member, (tx) => updateTask(tx, w.a.business.id, task.id, { done: true }));
    expect(done.done_at).not.toBeNull();
    expect(
      (await as(w.a.member, (tx) => updateTask(tx, w.a.business.id, task.id, { done: false }))).done_at,
    ).toBeNull();
    const foreignContact = await as(w.b.member, (tx) => createContact(tx, w.b.business.id, { first_name: 'F' }));
    await expect(
      as(w.a.member, (tx) => createTask(tx, w.a.business.id, { title: 'x', contact_id: foreignContact.id })),
    ).rejects.toMatchObject({ code: 'not_found' });
    const open = await as(w.a.member, (tx) =>
      listTasks(tx, w.a.business.id, { limit: 50, assignee: 'me', done: false }),
    );
    expect(open.items.map((x) => x.id)).toContain(task.id);
    const othersView = await as(w.b.member, (tx) => listTasks(tx, w.b.business.id, { limit: 50 }));
    expect(othersView.items.map((x) => x.id)).not.toContain(task.id);
  });

  it('merges events, contact and deal notes and stage changes newest first', async () => {
    // One step per transaction: rows written in one transaction share its timestamp.
    const contact = await as(w.a.member, (tx) => createContact(tx, w.a.business.id, { first_name: 'Timeline' }));
    const deal = await as(w.a.member, (tx) =>
      createDeal(tx, w.a.business.id, { title: 'Purchase', contact_id: contact.id }),
    );
    await as(w.a.member, (tx) => createNote(tx, w.a.business.id, { contact_id: contact.id }, 'pre-approved'));
    await as(w.a.member, (tx) => moveDeal(tx, w.a.business.id, deal.id, { stage: 'application' }));
    await as(w.a.member, (tx) => createNote(tx, w.a.business.id, { deal_id: deal.id }, 'appraisal ordered'));
    const items = (await as(w.a.member, (tx) => contactTimeline(tx, w.a.business.id, contact.id, { limit: 10 }))).items;
    expect(items.map((i) => (i.kind === 'stage_changed' ? `stage:${String(i.data.to_stage)}` : i.kind))).toEqual([
      'note',
      'stage:application',
      'note',
      'stage:lead',
      'created',
    ]);
    expect(items[0]!.data).toMatchObject({ body: 'appraisal ordered', deal_id: deal.id });
  });
});
