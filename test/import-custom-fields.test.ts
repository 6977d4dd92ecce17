// Custom fields in CSV import and export (docs/ARCHITECTURE.md §14), both engines: a
// column maps to a contact custom field (guessed by label or key), each cell is read as
// its field's type with a sentence for a person when it is not one, the values land typed
// on the contact (and merge on update), a key of another business is refused, and the
// export writes the values back in a form the import reads to the same values.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asOwner } from '../src/db/engine.ts';
import { readCustomCell, writeCustomCell, type FieldDef } from '../src/crm/import/custom-cells.ts';
import { signUp, type SignedUpUser } from './support/auth.ts';
import { ENGINE } from './support/engine.ts';
import { newBusiness } from './support/factories.ts';
import { request } from './support/http.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const field = (type: FieldDef['type'], options: string[] = []): FieldDef => ({
  key: 'f',
  label: 'Field',
  type,
  options,
});

describe('custom-field cells', () => {
  it('reads spreadsheet spellings as typed values', () => {
    const ok = (f: FieldDef, raw: string) => readCustomCell(f, raw);
    expect(ok(field('money'), '$612,500.00')).toEqual({ ok: true, value: 61_250_000 });
    expect(ok(field('money'), '612500')).toEqual({ ok: true, value: 61_250_000 });
    expect(ok(field('money'), '-12.5')).toEqual({ ok: true, value: -1250 });
    expect(ok(field('number'), '1,234.5')).toEqual({ ok: true, value: 1234.5 });
    expect(ok(field('date'), '3/4/2026')).toEqual({ ok: true, value: '2026-03-04' });
    expect(ok(field('date'), '2026-12-31')).toEqual({ ok: true, value: '2026-12-31' });
    expect(ok(field('choice', ['Gold', 'Silver']), ' gold ')).toEqual({ ok: true, value: 'Gold' });
    expect(ok(field('checkbox'), 'Yes')).toEqual({ ok: true, value: true });
    expect(ok(field('checkbox'), 'n')).toEqual({ ok: true, value: false });
    expect(ok(field('text'), 'anything')).toEqual({ ok: true, value: 'anything' });
  });

  it('says what is wrong, in a sentence naming the field', () => {
    expect(readCustomCell(field('money'), '12.345')).toEqual({
      ok: false,
      message: 'Field must be an amount in dollars, like 612500.00',
    });
    expect(readCustomCell(field('number'), 'twelve')).toEqual({ ok: false, message: 'Field must be a number' });
    expect(readCustomCell(field('date'), '2026-02-30')).toEqual({
      ok: false,
      message: 'Field must be a date (YYYY-MM-DD)',
    });
    expect(readCustomCell(field('choice', ['Gold']), 'Bronze')).toEqual({
      ok: false,
      message: 'Field must be one of "Gold"',
    });
    expect(readCustomCell(field('checkbox'), 'maybe')).toMatchObject({ ok: false });
  });

  it('writes values that read back to themselves', () => {
    const cases: [FieldDef, string | number | boolean][] = [
      [field('money'), 61_250_000],
      [field('money'), -1250],
      [field('money'), 7],
      [field('number'), 1234.5],
      [field('date'), '2026-03-04'],
      [field('choice', ['Gold']), 'Gold'],
      [field('checkbox'), true],
      [field('checkbox'), false],
      [field('text'), 'plain words'],
    ];
    for (const [f, v] of cases) expect(readCustomCell(f, writeCustomCell(f, v))).toEqual({ ok: true, value: v });
    expect(writeCustomCell(field('money'), 61_250_000)).toBe('612500.00');
    expect(writeCustomCell(field('checkbox'), true)).toBe('Yes');
  });
});

let server: TestServer;
let ownerA: SignedUpUser, ownerB: SignedUpUser;
let bidA: string, bidB: string;

const FIELDS = [
  { label: 'Credit tier', type: 'choice', options: ['A', 'B', 'C'] },
  { label: 'Pre-approved', type: 'checkbox' },
  { label: 'Credit score', type: 'number' },
  { label: 'Max budget', type: 'money' },
  { label: 'Pre-approval expires', type: 'date' },
  // a label that is also one of the export's own headers: exported as custom.loan_status
  { label: 'Status', key: 'loan_status', type: 'text' },
];

const url = (bid: string, path = '') => `${server.url}/api/businesses/${bid}${path}`;
const upload = (bid: string, csv: string, token: string) =>
  request(url(bid, '/contacts/import?filename=leads.csv'), {
    method: 'POST',
    raw: csv,
    headers: { 'content-type': 'text/csv' },
    token,
  });
async function finished(bid: string, id: string, token: string) {
  for (let i = 0; i < 600; i++) {
    const r = await request(url(bid, `/contacts/import/${id}`), { token });
    if (r.json.status === 'completed' || r.json.status === 'failed') return r.json;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error('import did not finish');
}
const customOf = (bid: string, email: string) =>
  asOwner(server.engine, async (c) => {
    const r = await c.query<{ custom: Record<string, unknown> }>(
      'SELECT custom FROM app.contacts WHERE business_id = $1 AND email = $2',
      [bid, email],
    );
    return r.rows[0]?.custom;
  });

beforeAll(async () => {
  server = await startTestServer();
  [ownerA, ownerB] = (await Promise.all([signUp(server, { verified: true }), signUp(server, { verified: true })])) as [
    SignedUpUser,
    SignedUpUser,
  ];
  bidA = (await newBusiness(server.engine, ownerA.userId)).id;
  bidB = (await newBusiness(server.engine, ownerB.userId)).id;
  for (const [bid, who] of [
    [bidA, ownerA],
    [bidB, ownerB],
  ] as const) {
    for (const f of FIELDS) {
      const r = await request(url(bid, '/custom-fields'), {
        body: { entity: 'contact', ...f },
        token: who.accessToken,
      });
      expect(r.status).toBe(201);
    }
  }
  // a field only B has
  const onlyB = await request(url(bidB, '/custom-fields'), {
    body: { entity: 'contact', label: 'Secret B', type: 'text' },
    token: ownerB.accessToken,
  });
  expect(onlyB.status).toBe(201);
}, 120_000);
afterAll(async () => server?.stop());

describe(`import maps columns to custom fields (${ENGINE})`, () => {
  it('guesses the mapping by label, previews and stores typed values, and reports a bad cell in a sentence', async () => {
    const csv = [
      'First Name,Email,Credit tier,Pre-approved,credit_score,Max budget,Pre-approval expires,Status,Notes',
      'Ann,ann@example.test,b,Yes,742,"$612,500.00",3/4/2027,Locked,first',
      'Ben,ben@example.test,Z,no,700,100,2027-01-01,,second',
      'Cy,cy@example.test,,,,,,,third',
    ].join('\r\n');
    const up = await upload(bidA, csv, ownerA.accessToken);
    expect(up.status).toBe(201);
    expect(up.json.mapping).toEqual({
      first_name: 0,
      email: 1,
      'custom.credit_tier': 2,
      'custom.pre_approved': 3,
      'custom.credit_score': 4,
      'custom.max_budget': 5,
      'custom.pre_approval_expires': 6,
      status: 7, // the contact's own field wins a tie with a custom label
      notes: 8,
    });
    const id = up.json.id as string;
    // "Status" holds loan states here, not contact statuses: map it to the custom field instead.
    const mapping = { ...up.json.mapping, status: null, 'custom.loan_status': 7 };
    const patched = await request(url(bidA, `/contacts/import/${id}`), {
      method: 'PATCH',
      body: { mapping },
      token: ownerA.accessToken,
    });
    expect(patched.status).toBe(200);
    expect(patched.json.mapping['custom.loan_status']).toBe(7);

    const preview = await request(url(bidA, `/contacts/import/${id}/preview`), { token: ownerA.accessToken });
    expect(preview.status).toBe(200);
    const [ann, ben, cy] = preview.json.rows;
    expect(ann).toMatchObject({ action: 'create', problems: [] });
    expect(ann.values.custom).toEqual({
      credit_tier: 'B',
      pre_approved: true,
      credit_score: 742,
      max_budget: 61_250_000,
      pre_approval_expires: '2027-03-04',
      loan_status: 'Locked',
    });
    expect(ben).toMatchObject({
      action: 'fail',
      problems: [
        { column: 'Credit tier', code: 'invalid_custom', message: 'Credit tier must be one of "A", "B", "C"' },
      ],
    });
    expect(cy).toMatchObject({ action: 'create', values: { custom: null } });

    const started = await request(url(bidA, `/contacts/import/${id}/start`), { body: {}, token: ownerA.accessToken });
    expect(started.status).toBe(202);
    const done = await finished(bidA, id, ownerA.accessToken);
    expect(done).toMatchObject({ status: 'completed', counts: { created: 2, failed: 1 } });
    expect(await customOf(bidA, 'ann@example.test')).toEqual(ann.values.custom);
    expect(await customOf(bidA, 'cy@example.test')).toEqual({});
    expect(await customOf(bidA, 'ben@example.test')).toBeUndefined();
    const report = await request(url(bidA, `/contacts/import/${id}/errors.csv`), { token: ownerA.accessToken });
    expect(report.text).toContain('Credit tier must be one of ""A"", ""B"", ""C""');

    // The contact API shows them like values set in the form.
    const list = await request(url(bidA, '/contacts?custom=credit_tier:B'), { token: ownerA.accessToken });
    expect(list.json.items.map((c: { email: string }) => c.email)).toEqual(['ann@example.test']);
  }, 120_000);

  it('in update mode, sets the given values and keeps the others', async () => {
    const up = await upload(bidA, 'Email,Credit score,Pre-approved\r\nann@example.test,760,\r\n', ownerA.accessToken);
    expect(up.status).toBe(201);
    const started = await request(url(bidA, `/contacts/import/${up.json.id}/start`), {
      body: { dedupe_mode: 'update' },
      token: ownerA.accessToken,
    });
    expect(started.status).toBe(202);
    expect(await finished(bidA, up.json.id, ownerA.accessToken)).toMatchObject({ counts: { updated: 1 } });
    expect(await customOf(bidA, 'ann@example.test')).toMatchObject({
      credit_score: 760, // changed
      pre_approved: true, // an empty cell changes nothing
      credit_tier: 'B',
    });
  }, 120_000);

  it("refuses a custom target the business does not have — another business's field included", async () => {
    const up = await upload(bidA, 'Email,Secret\r\nx@example.test,s\r\n', ownerA.accessToken);
    expect(up.status).toBe(201);
    expect(up.json.mapping).toEqual({ email: 0 }); // B's "Secret B" is no guess in A
    for (const target of ['custom.secret_b', 'custom.nope', 'credit_tier']) {
      const r = await request(url(bidA, `/contacts/import/${up.json.id}`), {
        method: 'PATCH',
        body: { mapping: { email: 0, [target]: 1 } },
        token: ownerA.accessToken,
      });
      expect({ target, status: r.status, code: r.json.error.code }).toEqual({
        target,
        status: 400,
        code: 'validation_failed',
      });
    }
    // Positive control: B maps the same column to her own field.
    const upB = await upload(bidB, 'Email,Secret\r\nx@example.test,s\r\n', ownerB.accessToken);
    const okB = await request(url(bidB, `/contacts/import/${upB.json.id}`), {
      method: 'PATCH',
      body: { mapping: { email: 0, 'custom.secret_b': 1 } },
      token: ownerB.accessToken,
    });
    expect(okB.status).toBe(200);
  }, 60_000);
});

describe(`export writes custom fields (${ENGINE})`, () => {
  it('one column per field, values a person reads, and the file imports back to the same values', async () => {
    const r = await request(url(bidA, '/contacts/export.csv'), { token: ownerA.accessToken });
    expect(r.status).toBe(200);
    const lines = r.text
      .replace(/^\uFEFF/, '')
      .trimEnd()
      .split('\r\n');
    expect(lines[0]).toBe(
      '"id","first_name","last_name","phone","email","source","status","notes","owner_email","created_at","updated_at",' +
        '"Credit tier","Pre-approved","Credit score","Max budget","Pre-approval expires","custom.loan_status"',
    );
    const ann = lines.find((l) => l.includes('ann@example.test'))!;
    expect(ann.endsWith('"B","Yes","760","612500.00","2027-03-04","Locked"')).toBe(true);

    // B has the same fields: importing A's export there gives the same values.
    const up = await upload(bidB, r.text.replace(/^\uFEFF/, ''), ownerB.accessToken);
    expect(up.status).toBe(201);
    expect(up.json.mapping).toMatchObject({
      'custom.credit_tier': 11,
      'custom.pre_approved': 12,
      'custom.credit_score': 13,
      'custom.max_budget': 14,
      'custom.pre_approval_expires': 15,
      'custom.loan_status': 16,
    });
    const started = await request(url(bidB, `/contacts/import/${up.json.id}/start`), {
      body: {},
      token: ownerB.accessToken,
    });
    expect(started.status).toBe(202);
    expect(await finished(bidB, up.json.id, ownerB.accessToken)).toMatchObject({ status: 'completed' });
    expect(await customOf(bidB, 'ann@example.test')).toEqual(await customOf(bidA, 'ann@example.test'));
  }, 120_000);
});
