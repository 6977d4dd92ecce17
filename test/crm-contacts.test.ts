// Contacts at the service level, run as real users through RLS: normalisation, duplicate
// detection, the trash (soft delete, restore, 30-day purge by the service role),
// keyset paging, sorting, filters, ranked search — and another business's ids are 404.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asOwner } from '../src/db/engine.ts';
import type { Tx } from '../src/db/index.ts';
import { listContacts } from '../src/crm/contact-list.ts';
import {
  createContact,
  getContact,
  purgeDeletedContacts,
  restoreContact,
  trashContact,
  updateContact,
  deleteContactForever,
} from '../src/crm/contacts.ts';
import { normaliseEmail, normalisePhone } from '../src/crm/contact-fields.ts';
import { addListMembers, createList } from '../src/crm/lists.ts';
import { createTestDatabase, type TestDatabase } from './support/engine.ts';
import { twoBusinesses } from './support/factories.ts';

let t: TestDatabase;
let w: Awaited<ReturnType<typeof twoBusinesses>>;
const as = <T>(user: { id: string }, fn: (tx: Tx) => Promise<T>) => t.db.asUser({ sub: user.id }, fn);

beforeAll(async () => {
  t = await createTestDatabase();
  w = await twoBusinesses(t.engine);
});
afterAll(async () => t?.close());

describe('contact fields', () => {
  it('normalises US and international phone numbers to E.164', () => {
    expect(normalisePhone('(415) 555-0132')).toBe('+14155550132');
    expect(normalisePhone('+44 20 7946 0958')).toBe('+442079460958');
    for (const bad of ['12', 'not a phone', '+1 555 555 0100', '', '1'.repeat(41)]) {
      expect(() => normalisePhone(bad)).toThrow(expect.objectContaining({ code: 'invalid_phone' }));
    }
  });
  it('lower-cases emails and refuses malformed ones', () => {
    expect(normaliseEmail('  Ann.Lee@Example.COM ')).toBe('ann.lee@example.com');
    for (const bad of ['ann', 'ann@', '@x.com', 'a b@x.com', 'ann@x', `${'a'.repeat(250)}@x.com`]) {
      expect(() => normaliseEmail(bad)).toThrow(expect.objectContaining({ code: 'invalid_email' }));
    }
  });
});

describe('contacts service', () => {
  it('creates a contact with normalised fields, owned by its creator, with a created event', async () => {
    const c = await as(w.a.member, (tx) =>
      createContact(tx, w.a.business.id, {
        first_name: ' Ann ',
        last_name: 'Lee',
        phone: '415-555-0101',
        email: 'ANN@Example.com',
      }),
    );
    expect(c).toMatchObject({
      first_name: 'Ann',
      phone: '+14155550101',
      email: 'ann@example.com',
      source: 'manual',
      status: 'lead',
      owner_id: w.a.member.id,
    });
    const events = await as(
      w.a.member,
      async (tx) =>
        (await tx.query('SELECT kind, actor_id FROM app.contact_events WHERE contact_id = $1', [c.id])).rows,
    );
    expect(events).toEqual([{ kind: 'created', actor_id: w.a.member.id }]);
  });

  it('writes timestamps as Date#toISOString does (UTC, milliseconds truncated, "Z"), whatever the session time zone', async () => {
    const c = await as(w.a.member, (tx) => createContact(tx, w.a.business.id, { first_name: 'Clock' }));
    // Microseconds PostgreSQL keeps and JavaScript's Date drops: 59.999999 s must read .999, not round up.
    await asOwner(t.engine, (db) =>
      db.query(
        `UPDATE app.contacts SET created_at = '2026-03-08 01:59:59.999999-05', deleted_at = '0999-01-02 03:04:05.5+00'
          WHERE id = $1`,
        [c.id],
      ),
    );
    const read = await as(w.a.member, async (tx) => {
      await tx.query(`SET LOCAL TIME ZONE 'America/New_York'`);
      return getContact(tx, w.a.business.id, c.id);
    });
    expect(read.created_at).toBe('2026-03-08T06:59:59.999Z');
    expect(read.deleted_at).toBe(new Date(Date.UTC(999, 0, 2, 3, 4, 5, 500)).toISOString());
    expect(new Date(read.updated_at).toISOString()).toBe(read.updated_at);
    const listed = await as(w.a.member, (tx) => listContacts(tx, w.a.business.id, { limit: 200, deleted: true }));
    expect(listed.items.find((x) => x.id === c.id)?.created_at).toBe('2026-03-08T06:59:59.999Z');
    // Out of the trash again: the purge test below counts what is in it.
    await asOwner(t.engine, (db) => db.query('UPDATE app.contacts SET deleted_at = NULL WHERE id = $1', [c.id]));
  });

  it('refuses a duplicate email or phone with the existing id, and nothing is written', async () => {
    const first = await as(w.a.owner, (tx) =>
      createContact(tx, w.a.business.id, { first_name: 'Dup', email: 'dup@example.com', phone: '+14155550102' }),
    );
    for (const input of [{ email: 'DUP@example.com' }, { phone: '(415) 555-0102' }]) {
      await expect(
        as(w.a.owner, (tx) => createContact(tx, w.a.business.id, { first_name: 'Again', ...input })),
      ).rejects.toMatchObject({ code: 'duplicate_contact', details: { existing_id: first.id } });
    }
    const n = await as(
      w.a.owner,
      async (tx) => (await tx.query(`SELECT 1 FROM app.contacts WHERE first_name = 'Again'`)).rowCount,
    );
    expect(n).toBe(0);
    // the same person in another business is not a duplicate
    const other = await as(w.b.owner, (tx) =>
      createContact(tx, w.b.business.id, { first_name: 'Dup', email: 'dup@example.com' }),
    );
    expect(other.business_id).toBe(w.b.business.id);
  });

  // Two tabs (or an import and a form) creating the same person at once.
  it('lets exactly one of concurrent identical creates win; the others get its id', async () => {
    const results = await Promise.allSettled(
      [1, 2, 3, 4, 5].map(() =>
        as(w.a.member, (tx) => createContact(tx, w.a.business.id, { first_name: 'Racer', email: 'racer@example.com' })),
      ),
    );
    const won = results
      .filter((r) => r.status === 'fulfilled')
      .map((r) => (r as PromiseFulfilledResult<{ id: string }>).value.id);
    expect(won).toHaveLength(1);
    for (const r of results.filter((x) => x.status === 'rejected')) {
      expect((r as PromiseRejectedResult).reason).toMatchObject({
        code: 'duplicate_contact',
        details: { existing_id: won[0] },
      });
    }
  });

  it('refuses an owner who is not a member of the business', async () => {
    await expect(
      as(w.a.owner, (tx) => createContact(tx, w.a.business.id, { first_name: 'X', owner_id: w.b.owner.id })),
    ).rejects.toMatchObject({ code: 'validation_failed' });
  });

  it('updates, records status changes, and refuses a duplicate on update', async () => {
    const a = await as(w.a.member, (tx) =>
      createContact(tx, w.a.business.id, { first_name: 'Up', email: 'up@example.com' }),
    );
    await as(w.a.member, (tx) =>
      createContact(tx, w.a.business.id, { first_name: 'Taken', email: 'taken@example.com' }),
    );
    const u = await as(w.a.member, (tx) =>
      updateContact(tx, w.a.business.id, a.id, { status: 'client', last_name: 'Dated' }),
    );
    expect(u).toMatchObject({ status: 'client', last_name: 'Dated' });
    const kinds = await as(w.a.member, async (tx) =>
      (
        await tx.query<{ kind: string }>('SELECT kind FROM app.contact_events WHERE contact_id = $1 ORDER BY kind', [
          a.id,
        ])
      ).rows.map((r) => r.kind),
    );
    expect(kinds).toEqual(['created', 'status_changed', 'updated']);
    await expect(
      as(w.a.member, (tx) => updateContact(tx, w.a.business.id, a.id, { email: 'taken@example.com' })),
    ).rejects.toMatchObject({ code: 'duplicate_contact' });
  });

  it('answers another business contact id with not_found on read, update and delete', async () => {
    const b = await as(w.b.member, (tx) => createContact(tx, w.b.business.id, { first_name: 'Secret' }));
    for (const fn of [
      (tx: Tx) => getContact(tx, w.a.business.id, b.id),
      (tx: Tx) => getContact(tx, w.b.business.id, b.id), // RLS: even naming B's business
      (tx: Tx) => updateContact(tx, w.b.business.id, b.id, { first_name: 'Pwned' }),
      (tx: Tx) => trashContact(tx, w.b.business.id, b.id),
    ])
      await expect(as(w.a.owner, fn)).rejects.toMatchObject({ code: 'not_found' });
    expect((await as(w.b.member, (tx) => getContact(tx, w.b.business.id, b.id))).first_name).toBe('Secret');
  });

  it('trashes, restores, refuses restoring over a new duplicate, and deletes forever only as admin', async () => {
    const c = await as(w.a.member, (tx) =>
      createContact(tx, w.a.business.id, { first_name: 'Trash', email: 'trash@example.com' }),
    );
    const trashed = await as(w.a.member, (tx) => trashContact(tx, w.a.business.id, c.id));
    expect(trashed.deleted_at).not.toBeNull();
    const live = await as(w.a.member, (tx) => listContacts(tx, w.a.business.id, { limit: 200 }));
    expect(live.items.map((x) => x.id)).not.toContain(c.id);
    const trash = await as(w.a.member, (tx) => listContacts(tx, w.a.business.id, { limit: 200, deleted: true }));
    expect(trash.items[0]!.id).toBe(c.id); // the trash lists the latest deletion first
    // someone re-creates the same email meanwhile: restore would make a duplicate
    const again = await as(w.a.member, (tx) =>
      createContact(tx, w.a.business.id, { first_name: 'Again', email: 'trash@example.com' }),
    );
    await expect(as(w.a.member, (tx) => restoreContact(tx, w.a.business.id, c.id))).rejects.toMatchObject({
      code: 'duplicate_contact',
      details: { existing_id: again.id },
    });
    await as(w.a.member, (tx) => trashContact(tx, w.a.business.id, again.id));
    expect((await as(w.a.member, (tx) => restoreContact(tx, w.a.business.id, c.id))).deleted_at).toBeNull();
    // delete forever: a member may not, an admin may
    await expect(as(w.a.member, (tx) => deleteContactForever(tx, w.a.business.id, again.id))).rejects.toMatchObject({
      code: 'forbidden',
    });
    await as(w.a.admin, (tx) => deleteContactForever(tx, w.a.business.id, again.id));
    await expect(as(w.a.admin, (tx) => getContact(tx, w.a.business.id, again.id))).rejects.toMatchObject({
      code: 'not_found',
    });
  });

  it('purges through the service role only what has been in the trash for 30 days', async () => {
    const [young, old] = await as(w.a.member, async (tx) => [
      await createContact(tx, w.a.business.id, { first_name: 'Young' }),
      await createContact(tx, w.a.business.id, { first_name: 'Old' }),
    ]);
    await as(w.a.member, async (tx) => {
      await trashContact(tx, w.a.business.id, young!.id);
      await trashContact(tx, w.a.business.id, old!.id);
    });
    await asOwner(t.engine, (c) =>
      c.query(`UPDATE app.contacts SET deleted_at = now() - interval '31 days' WHERE id = $1`, [old!.id]),
    );
    await expect(as(w.a.member, (tx) => restoreContact(tx, w.a.business.id, old!.id))).rejects.toMatchObject({
      code: 'not_found',
    });
    const purged = await t.db.asService('crm.purge', (tx) => purgeDeletedContacts(tx));
    expect(purged).toBe(1);
    const left = await asOwner(t.engine, async (c) =>
      (
        await c.query<{ id: string }>('SELECT id FROM app.contacts WHERE id = ANY ($1)', [[young!.id, old!.id]])
      ).rows.map((r) => r.id),
    );
    expect(left).toEqual([young!.id]);
  });
});

describe('listing and search', () => {
  let bid: string;
  beforeAll(async () => {
    // A business of its own so counts are exact.
    const { newBusiness } = await import('./support/factories.ts');
    bid = (await newBusiness(t.engine, w.a.owner.id)).id;
    await as(w.a.owner, async (tx) => {
      const people = [
        ['Maria', 'Garcia', '+14155550111', 'maria@garcia.test', 'client'],
        ['Mario', 'Rossi', '+14155550112', 'mario@rossi.test', 'lead'],
        ['John', 'Smith', '+12125550113', 'jsmith@mail.test', 'lead'],
        ['Jane', 'Smithers', null, 'jane@mail.test', 'prospect'],
        ['Zed', 'Alpha', '+13105550114', null, 'lead'],
      ] as const;
      for (const [first_name, last_name, phone, email, status] of people) {
        await createContact(tx, bid, { first_name, last_name, phone, email, status });
      }
    });
  });

  it('pages with a keyset cursor, without gaps or repeats', async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let i = 0; i < 5; i++) {
      const pageOf = await as(w.a.owner, (tx) => listContacts(tx, bid, { limit: 2, cursor, sort: 'name' }));
      seen.push(...pageOf.items.map((c) => c.last_name));
      if (!pageOf.next_cursor) break;
      cursor = pageOf.next_cursor;
    }
    expect(seen).toEqual(['Alpha', 'Garcia', 'Rossi', 'Smith', 'Smithers']);
    const desc = await as(w.a.owner, (tx) => listContacts(tx, bid, { limit: 10, sort: '-name' }));
    expect(desc.items.map((c) => c.last_name)).toEqual(['Smithers', 'Smith', 'Rossi', 'Garcia', 'Alpha']);
  });

  it('filters by status, owner and list', async () => {
    const leads = await as(w.a.owner, (tx) => listContacts(tx, bid, { limit: 10, status: 'lead' }));
    expect(leads.items).toHaveLength(3);
    const mine = await as(w.a.owner, (tx) => listContacts(tx, bid, { limit: 10, owner_id: 'me' }));
    expect(mine.items).toHaveLength(5);
    const listed = await as(w.a.owner, async (tx) => {
      const list = await createList(tx, bid, { name: 'Hot Leads', color: '#FF0000' });
      const smiths = (await listContacts(tx, bid, { limit: 10, q: 'smith' })).items.map((c) => c.id);
      await addListMembers(tx, bid, list.id, smiths);
      return listContacts(tx, bid, { limit: 10, list_id: list.id, sort: 'name' });
    });
    expect(listed.items.map((c) => c.last_name)).toEqual(['Smith', 'Smithers']);
  });

  it('searches by name, email and phone digits, best match first', async () => {
    const q = (text: string) =>
      as(w.a.owner, async (tx) => (await listContacts(tx, bid, { limit: 10, q: text })).items.map((c) => c.last_name));
    expect((await q('maria'))[0]).toBe('Garcia');
    expect(await q('rossi.test')).toEqual(['Rossi']);
    expect(await q('(212) 555')).toEqual(['Smith']);
    expect(await q('0114')).toEqual(['Alpha']);
    expect((await q('smith'))[0]).toBe('Smith');
    expect(await q('100%_')).toEqual([]); // LIKE wildcards are literal
  });

  it('fuzzy name matching ignores digits and symbols: queries differing only in them find the same contacts', async () => {
    const q = (text: string) =>
      as(w.a.owner, async (tx) => (await listContacts(tx, bid, { limit: 10, q: text })).items.map((c) => c.id));
    // What sqlmap sends for "true" and "false": before, trigram similarity told them apart.
    const pairs = [
      ["smith' AND 8526=8526 AND 'a'='a", "smith' AND 8526=1234 AND 'a'='a"],
      ['smith) AND 7191=7191 AND (6734=6734', 'smith) AND 7191=2811 AND (6734=6734'],
    ];
    for (const [t, f] of pairs) expect(await q(t!)).toEqual(await q(f!));
    expect(await q(pairs[0]![0]!)).not.toEqual([]); // the words still fuzzily find Smith
  });

  it('rejects a forged cursor with a 400', async () => {
    await expect(
      as(w.a.owner, (tx) => listContacts(tx, bid, { limit: 2, cursor: 'not-a-cursor' })),
    ).rejects.toMatchObject({ code: 'validation_failed' });
  });
});
