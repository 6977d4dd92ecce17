// Header guessing, row validation, duplicate planning and CSV output (no database).
import { describe, expect, it } from 'vitest';
import { planBatch, prepareRows, type StagedRow } from '../src/crm/import/batch-plan.ts';
import { csvCell, csvLine, neutraliseFormula, restoreEscapedFormula } from '../src/crm/import/csv-writer.ts';
import { checkMapping, guessMapping } from '../src/crm/import/header-mapping.ts';
import { parseSource, parseStatus, splitFullName, validateRow } from '../src/crm/import/row-validation.ts';

describe('guessMapping', () => {
  it('recognises the common spellings of Google, Outlook and hand-made sheets', () => {
    expect(
      guessMapping([
        'First Name',
        'Last Name',
        'E-mail Address',
        'Mobile Phone',
        'Business Phone',
        'Lead Source',
        'Status',
        'Comments',
        'SSN',
      ]),
    ).toEqual({ first_name: 0, last_name: 1, email: 2, mobile: 3, phone: 4, source: 5, status: 6, notes: 7 });
    expect(guessMapping(['fname', 'lname', 'email', 'cell', 'tel'])).toEqual({
      first_name: 0,
      last_name: 1,
      email: 2,
      mobile: 3,
      phone: 4,
    });
    expect(guessMapping(['Name', 'Phone 1 - Value', 'E-mail 1 - Value'])).toEqual({ full_name: 0, phone: 1, email: 2 });
  });

  it('leaves unknown columns unmapped and keeps the first of duplicated headers', () => {
    expect(guessMapping(['Email', 'email', 'Credit Score'])).toEqual({ email: 0 });
  });

  it('checkMapping refuses unknown targets, missing columns, a column used twice, and a mapping without identity', () => {
    expect(checkMapping({ email: 1, notes: null }, 3)).toEqual({ email: 1 });
    expect(() => checkMapping({ email: 5 }, 3)).toThrow(/does not exist/);
    expect(() => checkMapping({ email: 0, phone: 0 }, 3)).toThrow(/both/);
    expect(() => checkMapping({ wat: 0 } as never, 3)).toThrow(/unknown/);
    expect(() => checkMapping({ notes: 0 }, 3)).toThrow(/at least one/);
  });
});

describe('validateRow', () => {
  const headers = ['First', 'Last', 'Phone', 'Mobile', 'Email', 'Status', 'Source', 'Notes'];
  const mapping = guessMapping(headers);

  it('normalises with the contacts module rules: E.164 phone (mobile wins), lower-case email', () => {
    const r = validateRow(
      [
        '  Ada ',
        'Lovelace',
        '(212) 555-0100',
        '415-555-0199',
        'ADA@Example.TEST',
        'Past Client',
        'Website',
        'met at open house',
      ],
      mapping,
      headers,
    );
    expect(r).toEqual({
      ok: true,
      draft: {
        first_name: 'Ada',
        last_name: 'Lovelace',
        phone: '+14155550199',
        email: 'ada@example.test',
        status: 'past_client',
        source: 'web',
        notes: 'met at open house',
        custom: null, // no column is mapped to a custom field
      },
    });
  });

  it('reports every problem of a row with its column', () => {
    const r = validateRow(['A'.repeat(101), '', '12', '', 'not-an-email', 'VIP', '', ''], mapping, headers);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems.map((p) => [p.column, p.code])).toEqual([
      ['First', 'value_too_long'],
      ['Phone', 'invalid_phone'],
      ['Email', 'invalid_email'],
      ['Status', 'invalid_status'],
    ]);
  });

  it('fails a row with nothing that identifies a person', () => {
    const r = validateRow(['', '', '', '', '', 'lead', 'web', 'just a note'], mapping, headers);
    expect(r).toMatchObject({ ok: false, problems: [{ code: 'missing_identity' }] });
  });

  it('undoes the export formula guard on the way back in', () => {
    const r = validateRow(['', '', "'+12125550100", '', '', '', '', "'=1+1"], mapping, headers);
    expect(r).toMatchObject({ ok: true, draft: { phone: '+12125550100', notes: '=1+1' } });
  });

  it('splits full names and maps statuses and sources leniently', () => {
    expect(splitFullName('Doe, Jane')).toEqual({ first: 'Jane', last: 'Doe' });
    expect(splitFullName('Mary Ann  Smith')).toEqual({ first: 'Mary Ann', last: 'Smith' });
    expect(splitFullName('Cher')).toEqual({ first: 'Cher', last: '' });
    expect(parseStatus('DNC')).toBe('do_not_contact');
    expect(parseStatus('referral-partner')).toBe('referral_partner');
    expect(parseStatus('VIP')).toBeUndefined();
    expect(parseSource('Facebook')).toBe('other');
    expect(parseSource('Zillow')).toBe('zillow');
  });
});

describe('prepareRows + planBatch', () => {
  const headers = ['email', 'phone', 'first'];
  const mapping = { email: 0, phone: 1, first_name: 2 };
  const staged: StagedRow[] = [
    ['a@example.test', '', 'A'],
    ['b@example.test', '2125550101', 'B'],
    ['A@EXAMPLE.TEST', '', 'A again'], // same email as row 1 → in-file duplicate
    ['', '(212) 555-0101', 'B by phone'], // same phone as row 2
    ['bad', '', 'X'], // invalid: never "claims" a key
    ['x@example.test', '', 'X'], // matches an existing contact by email
    ['y@example.test', '2125550199', 'Y'], // email of one contact, phone of another
    ['', '2125550177', 'Z'], // matches an existing contact by phone
  ].map((cells, i) => ({ rowNumber: i + 1, line: i + 2, cells }));
  const existing = [
    { id: 'c-x', email: 'x@example.test', phone: null },
    { id: 'c-y', email: 'y@example.test', phone: null },
    { id: 'c-w', email: null, phone: '+12125550199' },
    { id: 'c-z', email: null, phone: '+12125550177' },
  ];

  it('skip mode: first occurrence wins inside the file, existing matches are skipped, conflicts fail', () => {
    const plan = planBatch(prepareRows(staged, mapping, headers), existing, 'skip');
    expect(plan.map((o) => o.kind)).toEqual(['create', 'create', 'skip', 'skip', 'fail', 'skip', 'fail', 'skip']);
    expect(plan[2]).toMatchObject({
      problem: { code: 'duplicate_in_file', message: 'same email as row 1 of this file' },
    });
    expect(plan[3]).toMatchObject({
      problem: { code: 'duplicate_in_file', message: 'same phone as row 2 of this file' },
    });
    expect(plan[6]).toMatchObject({ problems: [{ code: 'duplicate_conflict' }] });
  });

  it('update mode: existing matches become updates of that contact', () => {
    const plan = planBatch(prepareRows(staged, mapping, headers), existing, 'update');
    expect(plan.map((o) => o.kind)).toEqual(['create', 'create', 'skip', 'skip', 'fail', 'update', 'fail', 'update']);
    expect(plan[5]).toMatchObject({ contactId: 'c-x' });
    expect(plan[7]).toMatchObject({ contactId: 'c-z' });
  });
});

describe('CSV output (OWASP CSV injection)', () => {
  it('prefixes cells that a spreadsheet would evaluate, and only those', () => {
    for (const v of ['=HYPERLINK("http://evil")', '+1+1', '-2+3', '@SUM(A1)', '\t=1', '\r=1'])
      expect(neutraliseFormula(v)).toBe(`'${v}`);
    for (const v of ['Ada', 'a=b', '1-2', '', "'quoted"]) expect(neutraliseFormula(v)).toBe(v);
    expect(restoreEscapedFormula(neutraliseFormula('=1+1'))).toBe('=1+1');
  });

  it('quotes every cell and doubles embedded quotes, so no cell can break its row', () => {
    expect(csvCell('say "hi",\r\nnext')).toBe('"say ""hi"",\r\nnext"');
    expect(csvLine(["=cmd|' /C calc'!A0", null, 3])).toBe(`"'=cmd|' /C calc'!A0","","3"\r\n`);
  });
});
