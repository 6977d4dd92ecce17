// Contact and global search (docs/ARCHITECTURE.md §11, Search), run as real users through
// RLS on both engines: the tiers in the order users expect (exact last name, exact first
// name, last-name prefix, first-name prefix, email prefix, phone prefix, then substring and
// typo matches), keyset paging across tiers, hostile characters taken literally, phone
// numbers in any format — and another business's rows never appear, while its own
// members find them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Tx } from '../src/db/index.ts';
import { listContacts } from '../src/crm/contact-list.ts';
import { createContact, trashContact } from '../src/crm/contacts.ts';
import { createDeal } from '../src/crm/deals.ts';
import { globalSearch } from '../src/crm/search.ts';
import { asOwner } from '../src/db/engine.ts';
import { createTestDatabase, type TestDatabase } from './support/engine.ts';
import { twoBusinesses } from './support/factories.ts';

let t: TestDatabase;
let w: Awaited<ReturnType<typeof twoBusinesses>>;
const as = <T>(user: { id: string }, fn: (tx: Tx) => Promise<T>) => t.db.asUser({ sub: user.id }, fn);

const PEOPLE: [first: string, last: string, email: string | null, phone: string | null][] = [
  ['John', 'Smith', 'jsmith@mail.test', '+12125550113'],
  ['Anna', 'Smith', null, null],
  ['Jane', 'Smithers', 'jane@mail.test', null],
  ['Bob', 'Smithson', null, '+13105550199'],
  ['Smith', 'Jones', null, null],
  ['Smitty', 'Brown', null, null],
  ['Pat', 'Lee', 'smith.family@home.test', null],
  ['Al', 'Goldsmith', null, null],
  ['Maria', 'García', 'maria@garcia.test', '+442079460958'],
  ['Zoë', 'Adams', null, null],
  ['Sean', "O'Brien", null, null],
  ['Dee', 'Back\\slash', null, null],
  ['Percy', '100%_Sure', null, null],
  ['Johnny', 'Smithfield', null, null],
];

const names = (items: { first_name: string; last_name: string }[]) =>
  items.map((c) => `${c.first_name} ${c.last_name}`);
const search = (user: { id: string }, bid: string, q: string, limit = 50, cursor?: string) =>
  as(user, (tx) => listContacts(tx, bid, { q: q.toLowerCase(), limit, cursor }));

beforeAll(async () => {
  t = await createTestDatabase();
  w = await twoBusinesses(t.engine);
  await as(w.a.owner, async (tx) => {
    for (const [first_name, last_name, email, phone] of PEOPLE)
      await createContact(tx, w.a.business.id, { first_name, last_name, email, phone });
  });
  // Business B has its own John Smith (same phone number even) and Smithers.
  await as(w.b.owner, async (tx) => {
    await createContact(tx, w.b.business.id, { first_name: 'John', last_name: 'Smith', phone: '+12125550113' });
    await createContact(tx, w.b.business.id, { first_name: 'Beta', last_name: 'Smithers', email: 'jsmith@beta.test' });
  });
});
afterAll(async () => t?.close());

describe('contact search ranking', () => {
  it('lists exact last names, exact first names, last-name then first-name prefixes, emails, then the rest', async () => {
    const r = await search(w.a.member, w.a.business.id, 'Smith');
    expect(names(r.items)).toEqual([
      'Anna Smith', // exact last name, by first name
      'John Smith',
      'Smith Jones', // exact first name
      'Jane Smithers', // last-name prefix, by last name
      'Johnny Smithfield',
      'Bob Smithson',
      'Pat Lee', // email prefix (smith.family@…)
      'Al Goldsmith', // substring (trigram tier)
    ]);
    expect(r.next_cursor).toBeNull();
    expect(names((await search(w.a.member, w.a.business.id, 'smit')).items)).toEqual([
      'Anna Smith', // last-name prefix, by last name then first name
      'John Smith',
      'Jane Smithers',
      'Johnny Smithfield',
      'Bob Smithson',
      'Smith Jones', // first-name prefix, by first name
      'Smitty Brown',
      'Pat Lee',
      'Al Goldsmith',
    ]);
  });

  it('pages through every tier with the cursor, without gaps or repeats', async () => {
    const all = names((await search(w.a.member, w.a.business.id, 'smith')).items);
    for (const size of [1, 2, 3, 4]) {
      const seen: string[] = [];
      let cursor: string | undefined;
      for (let i = 0; i < 20; i++) {
        const page = await search(w.a.member, w.a.business.id, 'smith', size, cursor);
        seen.push(...names(page.items));
        if (!page.next_cursor) break;
        cursor = page.next_cursor;
      }
      expect(seen).toEqual(all);
    }
  });

  it('finds full names either way round, and forgives a typo after the exact matches', async () => {
    expect(names((await search(w.a.member, w.a.business.id, 'john smith')).items)[0]).toBe('John Smith');
    expect(names((await search(w.a.member, w.a.business.id, 'Smith, John')).items)[0]).toBe('John Smith');
    // Prefixes of both words, either way round, by last name then first name; then similar names.
    expect(names((await search(w.a.member, w.a.business.id, 'jo smith')).items).slice(0, 3)).toEqual([
      'Smith Jones',
      'John Smith',
      'Johnny Smithfield',
    ]);
    expect(names((await search(w.a.member, w.a.business.id, 'jhon smith')).items)).toContain('John Smith');
    // Two letters: prefixes only (Jones as a last name before Johnny as a first name).
    expect(names((await search(w.a.member, w.a.business.id, 'jo')).items)).toEqual([
      'Smith Jones',
      'John Smith',
      'Johnny Smithfield',
    ]);
  });

  it('finds emails exactly, by prefix and by substring', async () => {
    expect(names((await search(w.a.member, w.a.business.id, 'jsmith@mail.test')).items)).toEqual(['John Smith']);
    expect(names((await search(w.a.member, w.a.business.id, 'JSmith@')).items)).toEqual(['John Smith']);
    expect(names((await search(w.a.member, w.a.business.id, 'garcia.test')).items)).toEqual(['Maria García']);
  });

  it('reads one word with a dot, @ or digit as the start of an email: no similar names', async () => {
    // "smith fam" as words is similar to John Smith, Anna Smith and Smith Jones (0.375–0.4).
    expect(names((await search(w.a.member, w.a.business.id, 'smith.fam')).items)).toEqual(['Pat Lee']);
    expect(names((await search(w.a.member, w.a.business.id, 'smith.famil')).items)).toEqual(['Pat Lee']);
    // With a space it is a name again, and similar names come after the matches.
    expect(names((await search(w.a.member, w.a.business.id, 'smith fam')).items)).toContain('John Smith');
  });

  it('finds phone numbers however they are typed', async () => {
    for (const q of [
      '(212) 555-0113',
      '212.555.0113',
      '+1 212 555 0113',
      '2125550113',
      '12125550113',
      '212-555',
      '555-0113',
      '0113',
    ]) {
      expect([q, names((await search(w.a.member, w.a.business.id, q)).items)]).toEqual([q, ['John Smith']]);
    }
    for (const q of ['+44 20 7946 0958', '020 7946 0958'.replace(/^0/, '44 '), '7946']) {
      expect([q, names((await search(w.a.member, w.a.business.id, q)).items)]).toEqual([q, ['Maria García']]);
    }
  });

  it('takes special characters literally and finds names with accents, apostrophes and backslashes', async () => {
    for (const q of ['%', '_', '%%', '\\', "'", '"', '_%_', '%_%', '\\%']) {
      expect([q, names((await search(w.a.member, w.a.business.id, q)).items)]).toEqual([q, []]);
    }
    expect(names((await search(w.a.member, w.a.business.id, '100%_')).items)).toEqual(['Percy 100%_Sure']);
    expect(names((await search(w.a.member, w.a.business.id, 'back\\slash')).items)).toEqual(['Dee Back\\slash']);
    expect(names((await search(w.a.member, w.a.business.id, "o'brien")).items)).toEqual(["Sean O'Brien"]);
    expect(names((await search(w.a.member, w.a.business.id, 'García')).items)).toEqual(['Maria García']);
    expect(names((await search(w.a.member, w.a.business.id, 'zoë')).items)).toEqual(['Zoë Adams']);
    expect(names((await search(w.a.member, w.a.business.id, 'zo')).items)).toEqual(['Zoë Adams']);
  });

  it('applies the other filters and the trash to every tier', async () => {
    const bid = w.a.business.id;
    const smithers = (await search(w.a.member, bid, 'smithers')).items[0]!;
    await as(w.a.member, (tx) => trashContact(tx, bid, smithers.id));
    expect(names((await search(w.a.member, bid, 'smith')).items)).not.toContain('Jane Smithers');
    const trash = await as(w.a.member, (tx) => listContacts(tx, bid, { q: 'smith', limit: 10, deleted: true }));
    expect(names(trash.items)).toEqual(['Jane Smithers']);
    const clients = await as(w.a.member, (tx) => listContacts(tx, bid, { q: 'smith', limit: 10, status: 'client' }));
    expect(clients.items).toEqual([]);
  });

  it('rejects a forged or foreign-shaped cursor with a 400', async () => {
    const forged = Buffer.from(JSON.stringify([0, 'a', '', 'x'])).toString('base64url');
    for (const cursor of ['not-a-cursor', forged]) {
      await expect(search(w.a.member, w.a.business.id, 'smith', 2, cursor)).rejects.toMatchObject({
        code: 'validation_failed',
      });
    }
  });
});

describe('search across businesses', () => {
  it("never shows another business's contacts, while that business's members find them", async () => {
    for (const user of [w.a.owner, w.a.admin, w.a.member]) {
      const own = await search(user, w.a.business.id, 'smith');
      expect(own.items.every((c) => c.business_id === w.a.business.id)).toBe(true);
      expect(own.items.length).toBeGreaterThan(5);
      // A's people asking for B's business: nothing (RLS), not even by exact phone or email.
      for (const q of ['smith', '+1 212 555 0113', 'jsmith@beta.test', 'beta'])
        expect((await search(user, w.b.business.id, q)).items).toEqual([]);
    }
    const theirs = await search(w.b.member, w.b.business.id, 'smith');
    expect(names(theirs.items)).toEqual(['John Smith', 'Beta Smithers']);
    expect(names((await search(w.b.member, w.b.business.id, '212 555 0113')).items)).toEqual(['John Smith']);
    expect((await search(w.outsider, w.a.business.id, 'smith')).items).toEqual([]);
  });

  it('finds contacts, deals and conversations in the global search, only within the business', async () => {
    const a = w.a.business.id;
    const b = w.b.business.id;
    const john = (await search(w.a.owner, a, 'john smith')).items[0]!;
    await as(w.a.owner, (tx) => createDeal(tx, a, { title: 'Smith purchase', contact_id: john.id }));
    await as(w.b.owner, (tx) => createDeal(tx, b, { title: 'Smith refinance' }));
    await asOwner(t.engine, async (c) => {
      for (const [bid, contact] of [[a, john.id]] as const) {
        const v = await c.query<{ id: string }>(
          `INSERT INTO app.conversations (business_id, contact_id, our_number) VALUES ($1, $2, '+14155550100') RETURNING id`,
          [bid, contact],
        );
        await c.query(
          `INSERT INTO app.messages (business_id, conversation_id, direction, body, status)
           VALUES ($1, $2, 'inbound', 'Is the appraisal back yet?', 'received')`,
          [bid, v.rows[0]!.id],
        );
      }
    });
    const r = await as(w.a.member, (tx) => globalSearch(tx, a, 'smith', 5));
    // (Jane Smithers is in the trash since the filters test.)
    expect(names(r.contacts)).toEqual(['Anna Smith', 'John Smith', 'Smith Jones', 'Johnny Smithfield', 'Bob Smithson']);
    expect(r.deals.map((d) => d.title)).toEqual(['Smith purchase']);
    expect(r.conversations.map((v) => v.contact_name)).toEqual(['John Smith']);
    const byText = await as(w.a.member, (tx) => globalSearch(tx, a, 'appraisal', 5));
    expect(byText.conversations.map((v) => v.snippet)).toEqual(['Is the appraisal back yet?']);
    const theirs = await as(w.b.member, (tx) => globalSearch(tx, b, 'smith', 5));
    expect(theirs.deals.map((d) => d.title)).toEqual(['Smith refinance']);
    expect(theirs.conversations).toEqual([]);
    const across = await as(w.a.member, (tx) => globalSearch(tx, b, 'smith', 5));
    expect(across).toEqual({ contacts: [], deals: [], conversations: [] });
  });
});
