// Contact and global search (docs/ARCHITECTURE.md §11, Search), run as real users through
// RLS on both engines: the tiers in the order users expect (exact last name, exact first
// name, last-name prefix, first-name prefix, email prefix, phone prefix, then substring and
// typo matches), keyset paging across tiers, hostile characters taken literally, phone
// numbers in any format — and another business's rows never appear, while its own
// members find them.
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Tx } from '../src/db/index.ts';
import { listContacts } from '../src/crm/contact-list.ts';
import { createContact, getContact, trashContact, updateContact } from '../src/crm/contacts.ts';
import { createList } from '../src/crm/lists.ts';
import { createDeal } from '../src/crm/deals.ts';
import { globalSearch } from '../src/crm/search.ts';
import { asOwner } from '../src/db/engine.ts';
import { readCsvUpload } from '../src/crm/import/csv-reader.ts';
import { beginImportJob, createImportJob } from '../src/crm/import/import-jobs.ts';
import { createImportRunner } from '../src/crm/import/import-runner.ts';
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

describe('search past the candidate caps, and names stored decomposed', () => {
  // Fresh businesses: these fill a book with matches the tests above must not see.
  let x: Awaited<ReturnType<typeof twoBusinesses>>;
  beforeAll(async () => {
    x = await twoBusinesses(t.engine);
  });
  const emails = (items: { email: string | null }[]) => items.map((c) => c.email);

  // 1,200 trashed contacts used to fill the trigram tier's 1,000 candidates, and a live
  // match was never ranked. With 50 live ones among them, any 1,000 of the 1,250 matches
  // (the old cap, whatever order the plan reads them in) leave some out.
  it('finds every live substring match when trashed matches outnumber the candidates, and the trash finds the trashed', async () => {
    const bid = x.a.business.id;
    // One statement, the live contacts last: stored after the trashed ones.
    await asOwner(t.engine, (c) =>
      c.query(
        `INSERT INTO app.contacts (business_id, email, deleted_at)
         SELECT $1, CASE WHEN g > 1200 THEN 'live' ELSE 'p' END || g || '@bigcorp.test',
                CASE WHEN g <= 1200 THEN now() END
           FROM generate_series(1, 1250) g ORDER BY g`,
        [bid],
      ),
    );
    // Another business's live match (the negative control) — its own members find it.
    await as(x.b.owner, (tx) => createContact(tx, x.b.business.id, { email: 'other@bigcorp.test' }));

    const live = await as(x.a.member, (tx) => listContacts(tx, bid, { q: 'bigcorp', limit: 100 }));
    const expected = Array.from({ length: 50 }, (_, i) => `live${1201 + i}@bigcorp.test`);
    expect(emails(live.items).sort()).toEqual(expected.sort());
    const trash = await as(x.a.member, (tx) => listContacts(tx, bid, { q: 'bigcorp', limit: 50, deleted: true }));
    expect(trash.items).toHaveLength(50);
    expect(trash.items.every((c) => c.deleted_at !== null && c.email!.startsWith('p'))).toBe(true);
    expect(emails((await search(x.b.member, x.b.business.id, 'bigcorp')).items)).toEqual(['other@bigcorp.test']);
    expect((await search(x.a.member, x.b.business.id, 'bigcorp')).items).toEqual([]);
  });

  // The status, owner and list filters are applied before the cap too.
  it('finds every match of a status, owner or list filter among 1,200 other matches', async () => {
    const bid = x.a.business.id;
    const list = await as(x.a.owner, (tx) => createList(tx, bid, { name: 'VIP' }));
    await asOwner(t.engine, async (c) => {
      await c.query(
        `INSERT INTO app.contacts (business_id, email, status, owner_id)
         SELECT $1, CASE WHEN g > 1200 THEN 'vip' ELSE 'q' END || g || '@megacorp.test',
                CASE WHEN g > 1200 THEN 'client' ELSE 'lead' END::app.contact_status,
                CASE WHEN g > 1200 THEN $2::uuid END
           FROM generate_series(1, 1250) g ORDER BY g`,
        [bid, x.a.member.id],
      );
      await c.query(
        `INSERT INTO app.list_members (business_id, list_id, contact_id)
         SELECT $1, $2, id FROM app.contacts WHERE business_id = $1 AND email::text LIKE 'vip%@megacorp.test'`,
        [bid, list.id],
      );
    });
    const vips = Array.from({ length: 50 }, (_, i) => `vip${1201 + i}@megacorp.test`).sort();
    for (const filter of [
      { status: 'client' },
      { owner_id: x.a.member.id },
      { list_id: list.id },
      { owner_id: 'me' },
    ] as const) {
      const r = await as(x.a.member, (tx) => listContacts(tx, bid, { q: 'megacorp', limit: 100, ...filter }));
      expect([filter, emails(r.items).sort()]).toEqual([filter, vips]);
    }
  });

  // One thread with 250 messages containing "escrow" used the global search's 200
  // message candidates, and the other conversation was missing. With a thread of 1,000
  // and ten of one, any 200 of the 1,010 messages (whatever order) leave some out.
  it('finds every conversation in the global search when one thread has many matching messages', async () => {
    const bid = x.a.business.id;
    const people = await as(x.a.owner, async (tx) => {
      const out = [];
      for (const first_name of ['Chatty', ...Array.from({ length: 10 }, (_, i) => `Quiet${i}`)])
        out.push(await createContact(tx, bid, { first_name, last_name: 'Borrower' }));
      return out;
    });
    const theirs = await as(x.b.owner, (tx) =>
      createContact(tx, x.b.business.id, { first_name: 'Their', last_name: 'Borrower' }),
    );
    // One statement, the quiet threads' messages last: stored after the 1,000 others.
    await asOwner(t.engine, async (c) => {
      const conversation = async (business: string, contact: string) =>
        (
          await c.query<{ id: string }>(
            `INSERT INTO app.conversations (business_id, contact_id, our_number, last_message_at)
             VALUES ($1, $2, '+14155550100', now()) RETURNING id`,
            [business, contact],
          )
        ).rows[0]!.id;
      const messages = [
        ...Array.from({ length: 1000 }, (_, i) => [bid, people[0]!.id, `escrow update ${i}`]),
        ...people.slice(1).map((p) => [bid, p.id, 'When does escrow close?']),
        [x.b.business.id, theirs.id, 'Their escrow question'],
      ];
      const threads = new Map<string, string>();
      for (const [business, contact] of messages)
        if (!threads.has(contact!)) threads.set(contact!, await conversation(business!, contact!));
      await c.query(
        `INSERT INTO app.messages (business_id, conversation_id, direction, body, status)
         SELECT m.b, m.v, 'inbound', m.body, 'received'
           FROM unnest($1::uuid[], $2::uuid[], $3::text[]) WITH ORDINALITY AS m (b, v, body, n) ORDER BY m.n`,
        [messages.map((m) => m[0]), messages.map((m) => threads.get(m[1]!)), messages.map((m) => m[2])],
      );
    });
    const r = await as(x.a.member, (tx) => globalSearch(tx, bid, 'escrow', 20));
    expect(r.conversations.map((v) => v.contact_name).sort()).toEqual(
      people.map((p) => `${p.first_name} Borrower`).sort(),
    );
    const b = await as(x.b.member, (tx) => globalSearch(tx, x.b.business.id, 'escrow', 20));
    expect(b.conversations.map((v) => v.contact_name)).toEqual(['Their Borrower']);
    expect((await as(x.a.member, (tx) => globalSearch(tx, x.b.business.id, 'escrow', 20))).conversations).toEqual([]);
  });

  // A name saved decomposed (NFD: 'e' + U+0301, as macOS and phones send it) was found
  // only by the fuzzy tier's full name, never by typing 'José' or 'Ibáñez'.
  it('finds a name saved decomposed by typing it, and stores it composed', async () => {
    const bid = x.b.business.id;
    const nfd = (s: string) => s.normalize('NFD');
    expect(nfd('José')).not.toBe('José');
    const created = await as(x.b.owner, (tx) =>
      createContact(tx, bid, { first_name: nfd('José'), last_name: nfd('Ibáñez') }),
    );
    await as(x.b.owner, (tx) => updateContact(tx, bid, created.id, { last_name: nfd('Muñoz-Ibáñez') }));
    for (const q of [
      'José',
      'jos',
      'Muñoz',
      'muñoz-ibáñez',
      'ibáñez',
      'José Muñoz-Ibáñez',
      nfd('josé'),
      nfd('Muñoz'),
    ]) {
      const r = await search(x.b.member, bid, q);
      expect([q, names(r.items)]).toEqual([q, ['José Muñoz-Ibáñez']]);
    }
    expect(names((await as(x.b.member, (tx) => globalSearch(tx, bid, nfd('Ibáñez'), 5))).contacts)).toEqual([
      'José Muñoz-Ibáñez',
    ]);
    // Stored composed, as the API returns it.
    expect([created.first_name, created.last_name]).toEqual(['José', 'Ibáñez']);
    const stored = await as(x.b.member, (tx) => getContact(tx, bid, created.id));
    expect([stored.first_name, stored.last_name]).toEqual(['José', 'Muñoz-Ibáñez']);
    // A CSV import (and any other writer: the trigger is on the table) stores them composed too.
    const csv = `First Name,Last Name,Email\r\n${nfd('Zoë')},${nfd('Ñúñez')},zoe@import.test\r\n`;
    const parsed = await readCsvUpload(Readable.from([Buffer.from(csv)]));
    const job = await as(x.b.owner, (tx) => createImportJob(tx, bid, x.b.owner.id, 'names.csv', parsed));
    await as(x.b.owner, (tx) => beginImportJob(tx, bid, x.b.owner.id, job.id, { dedupe_mode: 'skip' }));
    const runner = createImportRunner({ db: t.db, inFlight: 1 });
    runner.start({ id: job.id, businessId: bid, userId: x.b.owner.id });
    await runner.settled(job.id);
    const imported = (await search(x.b.member, bid, 'Ñúñez')).items;
    expect(imported.map((c) => [c.first_name, c.last_name])).toEqual([['Zoë', 'Ñúñez']]);
    // Not in the other business, whose members search the same words.
    expect((await search(x.a.member, x.a.business.id, 'josé')).items).toEqual([]);
    expect((await search(x.a.member, bid, 'josé')).items).toEqual([]);
  });
});
