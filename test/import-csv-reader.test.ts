// The upload reader alone (no database): encoding, quoting, size and row limits are
// refused with stable codes naming the line, and valid exports of the usual tools parse.
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { IMPORT_LIMITS, readCsvUpload, sniffDelimiter } from '../src/crm/import/csv-reader.ts';
import { AppError } from '../src/shared/errors.ts';

const streamOf = (data: string | Buffer, chunk = 7) => {
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += chunk) parts.push(buf.subarray(i, i + chunk));
  return Readable.from(parts);
};

async function refusal(p: Promise<unknown>): Promise<AppError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(AppError);
  return e as AppError;
}

describe('readCsvUpload', () => {
  it('parses headers, rows and the start line of multi-line quoted cells; drops blank rows; strips the BOM', async () => {
    const csv =
      '\uFEFFFirst Name,Email,Notes\r\nAda,ada@example.test,"line one\nline two"\r\n,,\r\n\r\nBob,"b@example.test","say ""hi"""\r\n';
    const up = await readCsvUpload(streamOf(csv));
    expect(up.headers).toEqual(['First Name', 'Email', 'Notes']);
    expect(up.rows).toEqual([
      ['Ada', 'ada@example.test', 'line one\nline two'],
      ['Bob', 'b@example.test', 'say "hi"'],
    ]);
    expect(up.lines).toEqual([2, 6]);
  });

  it('accepts multi-byte characters split across chunks', async () => {
    const up = await readCsvUpload(streamOf('name\nJosé Müller 李\n', 1));
    expect(up.rows[0]).toEqual(['José Müller 李']);
  });

  it('detects semicolon and tab separated files', async () => {
    expect(sniffDelimiter('a;b;"c,d"')).toBe(';');
    expect(sniffDelimiter('a\tb\tc')).toBe('\t');
    const up = await readCsvUpload(streamOf('First;Last\nAda;Lovelace\n'));
    expect(up.rows).toEqual([['Ada', 'Lovelace']]);
  });

  it('refuses Windows-1252 bytes with invalid_csv naming the line', async () => {
    const bytes = Buffer.concat([
      Buffer.from('name,email\nAda,a@example.test\nM'),
      Buffer.from([0xfc]),
      Buffer.from('ller,m@example.test\n'),
    ]);
    const e = await refusal(readCsvUpload(streamOf(bytes)));
    expect(e.code).toBe('invalid_csv');
    expect(e.details).toMatchObject({ line: 3 });
    expect(e.message).toMatch(/UTF-8.*line 3/);
  });

  it('refuses UTF-16, overlong encodings and NUL bytes', async () => {
    const utf16 = Buffer.from('\uFEFFname\nAda\n', 'utf16le');
    expect((await refusal(readCsvUpload(streamOf(utf16)))).message).toMatch(/UTF-16/);
    const overlong = Buffer.concat([Buffer.from('name\n'), Buffer.from([0xc0, 0xaf]), Buffer.from('\n')]);
    expect((await refusal(readCsvUpload(streamOf(overlong)))).code).toBe('invalid_csv');
    expect((await refusal(readCsvUpload(streamOf(Buffer.from('name\nA\u0000da\n'))))).details).toMatchObject({
      line: 2,
    });
  });

  it('refuses bad quoting with invalid_csv and the line', async () => {
    const unclosed = await refusal(readCsvUpload(streamOf('name,notes\nAda,ok\nBob,"never closed\nCid,x\n')));
    expect(unclosed.code).toBe('invalid_csv');
    expect(unclosed.message).toMatch(/never closed|not closed/);
    const stray = await refusal(readCsvUpload(streamOf('name,notes\nAda,ok\nBob,"quoted"tail\n')));
    expect(stray.code).toBe('invalid_csv');
    expect(stray.details).toMatchObject({ line: 3 });
  });

  it('refuses an empty file and a header without rows', async () => {
    expect((await refusal(readCsvUpload(streamOf('')))).code).toBe('invalid_csv');
    const headerOnly = await refusal(readCsvUpload(streamOf('first_name,email\n\n,,\n')));
    expect(headerOnly.code).toBe('invalid_csv');
    expect(headerOnly.message).toMatch(/no data rows/);
  });

  it('accepts exactly the row limit and refuses one more with import_too_large', async () => {
    const limits = { ...IMPORT_LIMITS, maxRows: 50 };
    const rows = (n: number) => `email\n${Array.from({ length: n }, (_, i) => `u${i}@example.test`).join('\n')}\n`;
    expect((await readCsvUpload(streamOf(rows(50), 64), limits)).rows).toHaveLength(50);
    const e = await refusal(readCsvUpload(streamOf(rows(51), 64), limits));
    expect(e.code).toBe('import_too_large');
    expect(e.status).toBe(413);
  });

  it('refuses more bytes than the limit while streaming', async () => {
    const limits = { ...IMPORT_LIMITS, maxBytes: 1000 };
    const e = await refusal(readCsvUpload(streamOf(`name\n${'x'.repeat(2000)}\n`, 100), limits));
    expect(e.code).toBe('import_too_large');
  });

  it('refuses a runaway record and too many columns', async () => {
    const limits = { ...IMPORT_LIMITS, maxRecordChars: 100, maxColumns: 5 };
    expect((await refusal(readCsvUpload(streamOf(`a\n"${'y'.repeat(500)}\n`), limits))).code).toBe('invalid_csv');
    expect((await refusal(readCsvUpload(streamOf('a,b,c,d,e,f\n1,2,3,4,5,6\n'), limits))).message).toMatch(/columns/);
  });
});
