// Streaming CSV upload reader: bytes → UTF-8 guard → csv-parse → header + rows.
// Every limit is enforced while streaming, so a 2 GB or 10-million-row upload is
// refused after reading at most the limit, and a malformed file is refused as a
// whole (nothing is written) with the line a user can find in a text editor.
import type { Readable } from 'node:stream';
import { parse, type CsvError, type Info } from 'csv-parse';
import { AppError } from '../../shared/errors.ts';
import { Utf8Guard } from './utf8-guard.ts';

export const IMPORT_LIMITS = Object.freeze({
  maxBytes: 20 * 1024 * 1024,
  maxRows: 100_000,
  maxColumns: 100,
  /** One record (all its cells) — a runaway quoted field must not swallow the file. */
  maxRecordChars: 64 * 1024,
});
export type ImportLimits = { readonly [K in keyof typeof IMPORT_LIMITS]: number };

export interface CsvUpload {
  headers: string[];
  /** Data rows (blank rows dropped), cells as written. */
  rows: string[][];
  /** 1-based physical line on which each row starts (quoted cells may span lines). */
  lines: number[];
  delimiter: string;
}

const DELIMITERS = [',', ';', '\t'] as const;

/** Excel writes ';' in locales whose decimal mark is ','; tabs come from copy-paste exports. */
export function sniffDelimiter(firstLine: string): string {
  let best: string = ',';
  let bestCount = 0;
  for (const d of DELIMITERS) {
    let n = 0;
    let quoted = false;
    for (const ch of firstLine) {
      if (ch === '"') quoted = !quoted;
      else if (ch === d && !quoted) n++;
    }
    if (n > bestCount) [best, bestCount] = [d, n];
  }
  return best;
}

export async function readCsvUpload(source: Readable, limits: ImportLimits = IMPORT_LIMITS): Promise<CsvUpload> {
  const guard = new Utf8Guard(limits.maxBytes);
  source.on('error', (e) => guard.destroy(e));
  source.pipe(guard);

  const upload: CsvUpload = { headers: [], rows: [], lines: [], delimiter: ',' };
  let parser: ReturnType<typeof parse> | undefined;
  let failure: unknown;
  let head = Buffer.alloc(0);
  let prev = { lines: 0, empty: 0 };

  const onRecord = ({ record, info }: { record: string[]; info: Info }) => {
    const start = prev.lines + 1 + (info.empty_lines - prev.empty);
    prev = { lines: info.lines, empty: info.empty_lines };
    if (failure) return;
    if (record.length > limits.maxColumns) {
      failure = invalidCsv(
        start,
        `line ${start} has ${record.length} columns; at most ${limits.maxColumns} are supported`,
      );
      return;
    }
    if (info.records === 1) {
      upload.headers = record.map((h, i) => h.trim() || `Column ${i + 1}`);
      return;
    }
    if (record.every((c) => c.trim() === '')) return;
    if (upload.rows.length >= limits.maxRows) {
      failure = new AppError(
        'import_too_large',
        `the file has more than ${limits.maxRows.toLocaleString('en-US')} rows; split it into smaller files`,
        { details: { max_rows: limits.maxRows } },
      );
      return;
    }
    upload.rows.push(record);
    upload.lines.push(start);
  };

  const startParser = (): ReturnType<typeof parse> => {
    const text = head.subarray(0, 64 * 1024).toString('utf8');
    upload.delimiter = sniffDelimiter(text.replace(/^\uFEFF/, '').split(/\r?\n/, 1)[0] ?? '');
    const p = parse({
      bom: true,
      delimiter: upload.delimiter,
      info: true,
      relax_column_count: true,
      skip_empty_lines: true,
      max_record_size: limits.maxRecordChars,
    });
    p.on('data', onRecord);
    p.on('error', () => undefined); // surfaced through write()/end(); never an unhandled 'error' event
    return p;
  };

  const feed = async (chunk: Buffer) => {
    try {
      await write(parser!, chunk);
    } catch (e) {
      failure = toUploadError(e);
    }
  };
  try {
    for await (const chunk of guard as AsyncIterable<Buffer>) {
      if (failure) continue; // keep reading (bounded by the guard) so the client gets our answer
      if (!parser) {
        head = Buffer.concat([head, chunk]);
        if (!head.includes(0x0a) && head.length < 64 * 1024) continue;
        parser = startParser();
        await feed(head);
      } else {
        await feed(chunk);
      }
    }
  } catch (e) {
    throw toUploadError(e);
  }
  if (!failure) {
    if (!parser) {
      parser = startParser();
      await feed(head);
    }
    if (!failure) await end(parser).catch((e: unknown) => void (failure = toUploadError(e)));
  }
  if (failure) throw failure;
  if (upload.headers.length === 0) throw invalidCsv(1, 'the file is empty; the first line must name the columns');
  if (upload.rows.length === 0) throw invalidCsv(2, 'the file has a header line but no data rows');
  return upload;
}

function write(parser: ReturnType<typeof parse>, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: unknown) => reject(e);
    parser.once('error', onError);
    parser.write(chunk, (e) => {
      parser.off('error', onError);
      if (e) reject(e);
      else resolve();
    });
  });
}

function end(parser: ReturnType<typeof parse>): Promise<void> {
  return new Promise((resolve, reject) => {
    parser.once('error', reject);
    parser.once('end', () => resolve());
    parser.end();
    parser.resume();
  });
}

function invalidCsv(line: number, message: string): AppError {
  return new AppError('invalid_csv', message, { details: { line } });
}

const CSV_MESSAGES: Record<string, string> = {
  CSV_QUOTE_NOT_CLOSED: 'a quoted cell is never closed',
  CSV_INVALID_CLOSING_QUOTE: 'a quote inside a cell is not doubled ("")',
  CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE: 'unexpected text after a closing quote',
  INVALID_OPENING_QUOTE: 'a quote appears in the middle of an unquoted cell',
  CSV_MAX_RECORD_SIZE: 'a row is too long (a quote may be missing)',
};

function toUploadError(e: unknown): unknown {
  if (e instanceof AppError) return e;
  const csv = e as Partial<CsvError> & { lines?: number };
  if (typeof csv?.code === 'string' && (csv.code.startsWith('CSV_') || csv.code.startsWith('INVALID_'))) {
    const line = typeof csv.lines === 'number' ? csv.lines : 0;
    const what = CSV_MESSAGES[csv.code] ?? 'the file is not valid CSV';
    return invalidCsv(line, `invalid CSV at line ${line}: ${what}`);
  }
  return e;
}
