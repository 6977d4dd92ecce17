// Loan files over HTTP (docs/ARCHITECTURE.md §11 "Loan files"): a deal with its
// borrower (chosen, or created in the same transaction), co-borrower, referral partner,
// property, rate, purpose and milestone dates; the contact's deals in every role; the
// contact kind and the import-job filter. Every role of the business may do it, nobody
// outside it can see or reference anything across the boundary — in the API and in SQL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asOwner } from '../src/db/engine.ts';
import { signUp, type SignedUpUser } from './support/auth.ts';
import { addMember, newBusiness } from './support/factories.ts';
import { request } from './support/http.ts';
import { startTestServer, type TestServer } from './support/server.ts';

let server: TestServer;
let owner: SignedUpUser;
let admin: SignedUpUser;
let member: SignedUpUser;
let outsider: SignedUpUser;
let bid: string;
let otherBid: string;
const api = (path: string, token: string, init: { method?: string; body?: unknown } = {}, business = bid) =>
  request(`${server.url}/api/businesses/${business}${path}`, { token, ...init });
const dealCount = async (business: string) =>
  asOwner(server.engine, async (c) =>
    Number(
      (await c.query<{ n: string }>('SELECT count(*) AS n FROM app.deals WHERE business_id = $1', [business])).rows[0]!
        .n,
    ),
  );
const newContact = async (token: string, body: Record<string, unknown>, business = bid): Promise<string> => {
  const r = await api('/contacts', token, { body }, business);
  expect(r.status).toBe(201);
  return r.json.id as string;
};

beforeAll(async () => {
  server = await startTestServer();
  [owner, admin, member, outsider] = (await Promise.all(
    [1, 2, 3, 4].map(() => signUp(server, { verified: true })),
  )) as [SignedUpUser, SignedUpUser, SignedUpUser, SignedUpUser];
  bid = (await newBusiness(server.engine, owner.userId, 'Loan File Lending')).id;
  await addMember(server.engine, bid, admin.userId, 'admin');
  await addMember(server.engine, bid, member.userId, 'member');
  otherBid = (await newBusiness(server.engine, outsider.userId, 'Other Lending')).id;
});
afterAll(async () => server?.stop());

describe('loan files', () => {
  it('creates a full loan file in every role and reads it back with names and milestones', async () => {
    for (const [who, user] of [
      ['owner', owner],
      ['admin', admin],
      ['member', member],
    ] as const) {
      const borrower = await newContact(user.accessToken, { first_name: 'Bea', last_name: `Borrower-${who}` });
      const co = await newContact(user.accessToken, { first_name: 'Cole', last_name: `Co-${who}` });
      const realtor = await newContact(user.accessToken, {
        first_name: 'Rita',
        last_name: `Realtor-${who}`,
        kind: 'realtor',
      });
      const r = await api('/deals', user.accessToken, {
        body: {
          title: `Loan ${who}`,
          contact_id: borrower,
          co_borrower_id: co,
          partner_id: realtor,
          amount_cents: 61_250_000,
          rate_percent: 6.875,
          loan_type: 'fha',
          loan_purpose: 'purchase',
          property_address: '12 Harbor Rd, Austin, TX 78704',
          expected_close_date: '2027-01-15',
          milestones: { application: '2026-11-02', appraisal_ordered: '2026-11-10' },
        },
      });
      expect(r.status).toBe(201);
      expect(r.json).toMatchObject({
        title: `Loan ${who}`,
        contact_id: borrower,
        contact_name: `Bea Borrower-${who}`,
        co_borrower_id: co,
        co_borrower_name: `Cole Co-${who}`,
        partner_id: realtor,
        partner_name: `Rita Realtor-${who}`,
        amount_cents: 61_250_000,
        rate_percent: 6.875,
        loan_type: 'fha',
        loan_purpose: 'purchase',
        property_address: '12 Harbor Rd, Austin, TX 78704',
        expected_close_date: '2027-01-15',
        milestones: {
          application: '2026-11-02',
          disclosures: null,
          appraisal_ordered: '2026-11-10',
          appraisal_received: null,
          conditional_approval: null,
          clear_to_close: null,
          funded: null,
        },
      });
      // A milestone set, another cleared, the rest untouched.
      const u = await api(`/deals/${r.json.id}`, user.accessToken, {
        method: 'PATCH',
        body: { milestones: { disclosures: '2026-11-04', application: null }, rate_percent: 6.5, co_borrower_id: null },
      });
      expect(u.status).toBe(200);
      expect(u.json.milestones).toMatchObject({
        application: null,
        disclosures: '2026-11-04',
        appraisal_ordered: '2026-11-10',
      });
      expect(u.json).toMatchObject({
        rate_percent: 6.5,
        co_borrower_id: null,
        partner_id: realtor,
        amount_cents: 61_250_000,
      });
      // The contact page's question: every deal this contact is part of, in any role.
      for (const party of [borrower, realtor]) {
        const list = await api(`/deals?party_id=${party}`, user.accessToken);
        expect(list.json.items.map((d: { id: string }) => d.id)).toEqual([r.json.id]);
      }
    }
  });

  it('creates the borrower with the deal in one transaction, and neither when the borrower is a duplicate', async () => {
    const r = await api('/deals', member.accessToken, {
      body: {
        title: 'New borrower loan',
        amount_cents: 61_250_000,
        borrower: { first_name: 'Nina', last_name: 'New', email: 'nina.new@example.test', phone: '(202) 456-1414' },
      },
    });
    expect(r.status).toBe(201);
    expect(r.json.contact_name).toBe('Nina New');
    const contact = await api(`/contacts/${r.json.contact_id}`, member.accessToken);
    expect(contact.json).toMatchObject({ email: 'nina.new@example.test', phone: '+12024561414', kind: 'person' });

    const before = await dealCount(bid);
    const dup = await api('/deals', member.accessToken, {
      body: { title: 'Twice', borrower: { first_name: 'Nina', email: 'nina.new@example.test' } },
    });
    expect(dup.status).toBe(409);
    expect(dup.json.error).toMatchObject({ code: 'duplicate_contact', existing_id: r.json.contact_id });
    const bad = await api('/deals', member.accessToken, {
      body: { title: 'Bad phone', borrower: { first_name: 'Pat', phone: '12' } },
    });
    expect([bad.status, bad.json.error.code]).toEqual([400, 'invalid_phone']);
    const both = await api('/deals', member.accessToken, {
      body: { title: 'Both', contact_id: r.json.contact_id, borrower: { first_name: 'Pat' } },
    });
    expect([both.status, both.json.error.code]).toEqual([400, 'validation_failed']);
    expect(await dealCount(bid)).toBe(before);
  });

  it('refuses a partner who is not marked as one, the borrower as co-borrower, and bad values', async () => {
    const person = await newContact(member.accessToken, { first_name: 'Just', last_name: 'Person' });
    const cases: [Record<string, unknown>, string][] = [
      [{ title: 'X', partner_id: person }, 'validation_failed'],
      [{ title: 'X', contact_id: person, co_borrower_id: person }, 'validation_failed'],
      [{ title: 'X', rate_percent: 100 }, 'validation_failed'],
      [{ title: 'X', rate_percent: 6.8751 }, 'validation_failed'],
      [{ title: 'X', loan_purpose: 'flip' }, 'validation_failed'],
      [{ title: 'X', milestones: { funded: 'yesterday' } }, 'validation_failed'],
      [{ title: 'X', milestones: { closing: '2026-01-01' } }, 'validation_failed'],
      [{ title: 'X', property_address: 'x'.repeat(301) }, 'validation_failed'],
      [{ title: 'X', amount_cents: 12.5 }, 'validation_failed'],
    ];
    const before = await dealCount(bid);
    for (const [body, code] of cases) {
      const r = await api('/deals', member.accessToken, { body });
      expect([JSON.stringify(body), r.status, r.json.error?.code]).toEqual([JSON.stringify(body), 400, code]);
    }
    expect(await dealCount(bid)).toBe(before);
  });

  it('keeps every reference inside the business: the API answers 404, the database refuses the row', async () => {
    const foreign = await newContact(outsider.accessToken, { first_name: 'Far', kind: 'realtor' }, otherBid);
    const mine = await api('/deals', member.accessToken, { body: { title: 'Inside' } });
    for (const field of ['contact_id', 'co_borrower_id', 'partner_id']) {
      const c = await api('/deals', member.accessToken, { body: { title: 'Across', [field]: foreign } });
      expect([field, c.status, c.json.error.code]).toEqual([field, 404, 'not_found']);
      const u = await api(`/deals/${mine.json.id}`, member.accessToken, {
        method: 'PATCH',
        body: { [field]: foreign },
      });
      expect([field, u.status]).toEqual([field, 404]);
    }
    // The outsider sees none of it, by id or by listing her own business with our ids.
    expect((await api(`/deals/${mine.json.id}`, outsider.accessToken)).status).toBe(404);
    expect((await api('/deals', outsider.accessToken)).status).toBe(404);
    const hers = await api(`/deals?party_id=${foreign}`, outsider.accessToken, {}, otherBid);
    expect(hers.status).toBe(200);
    expect(hers.json.items).toEqual([]);
    // In SQL, as the member herself: the composite foreign keys refuse a foreign partner
    // or co-borrower even if the service's checks were skipped.
    for (const column of ['co_borrower_id', 'partner_id']) {
      await expect(
        server.db.asUser({ sub: member.userId }, (tx) =>
          tx.query(`UPDATE app.deals SET ${column} = $3 WHERE business_id = $1 AND id = $2`, [
            bid,
            mine.json.id,
            foreign,
          ]),
        ),
      ).rejects.toMatchObject({ code: 'conflict', message: expect.stringMatching(/refers to a record/) });
    }
    // And the member's own row is readable with the new columns (not an empty table).
    const own = await server.db.asUser({ sub: member.userId }, (tx) =>
      tx.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM app.deals WHERE business_id = $1 AND property_address = $2',
        [bid, ''],
      ),
    );
    expect(own.rows[0]!.n).toBeGreaterThan(0);
    const outsiderView = await server.db.asUser({ sub: outsider.userId }, (tx) =>
      tx.query<{ n: number }>('SELECT count(*)::int AS n FROM app.deals WHERE business_id = $1', [bid]),
    );
    expect(outsiderView.rows[0]!.n).toBe(0);
  });

  it('marks contacts by kind and lists the referral partners', async () => {
    const partner = await newContact(admin.accessToken, { first_name: 'Paula', last_name: 'Partner', kind: 'partner' });
    const person = await newContact(admin.accessToken, { first_name: 'Pete', last_name: 'Person' });
    const partners = await api('/contacts?kind=realtor,partner&limit=100', admin.accessToken);
    const ids = partners.json.items.map((c: { id: string }) => c.id);
    expect(ids).toContain(partner);
    expect(ids).not.toContain(person);
    expect(partners.json.items.every((c: { kind: string }) => c.kind !== 'person')).toBe(true);
    const changed = await api(`/contacts/${person}`, member.accessToken, {
      method: 'PATCH',
      body: { kind: 'realtor' },
    });
    expect(changed.json.kind).toBe('realtor');
    expect((await api('/contacts?kind=broker', admin.accessToken)).status).toBe(400);
  });

  it('lists the contacts of one CSV import: those it created and those it updated', async () => {
    const existing = await newContact(owner.accessToken, { first_name: 'Old', email: 'old.one@example.test' });
    const csv = ['First Name,Last Name,Email', 'Old,One,old.one@example.test', 'Ann,New,ann.new@example.test'].join(
      '\n',
    );
    const up = await request(`${server.url}/api/businesses/${bid}/contacts/import?filename=x.csv`, {
      token: owner.accessToken,
      raw: csv,
      headers: { 'content-type': 'text/csv' },
      method: 'POST',
    });
    expect(up.status).toBe(201);
    const job = up.json.id as string;
    expect(
      (await api(`/contacts/import/${job}`, owner.accessToken, { method: 'PATCH', body: { dedupe_mode: 'update' } }))
        .status,
    ).toBe(200);
    expect((await api(`/contacts/import/${job}/start`, owner.accessToken, { method: 'POST', body: {} })).status).toBe(
      202,
    );
    for (let i = 0; i < 100; i++) {
      const s = await api(`/contacts/import/${job}`, owner.accessToken);
      if (s.json.status === 'completed') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const listed = await api(`/contacts?import_job_id=${job}`, owner.accessToken);
    const ids = listed.json.items.map((c: { id: string; email: string }) => c.email).sort();
    expect(ids).toEqual(['ann.new@example.test', 'old.one@example.test']);
    expect(listed.json.items.find((c: { email: string }) => c.email === 'old.one@example.test').id).toBe(existing);
    // Another business's caller learns nothing about the job.
    expect((await api(`/contacts?import_job_id=${job}`, outsider.accessToken)).status).toBe(404);
  });
});
