// Deciding what happens to each row, without touching the database: validate the
// whole file once (so duplicates inside the file are judged the same way however the
// job is split into batches, and again identically when it resumes after a crash),
// then, per batch, match rows against the business's existing contacts.
//
// Rules (documented in docs/ARCHITECTURE.md "CSV import"):
// - a row whose email or phone already appeared in an EARLIER valid row of the file is
//   skipped as `duplicate_in_file` (first occurrence wins, in both modes);
// - a row matching an existing live contact by email or phone is skipped (mode skip)
//   or updates that contact with the row's non-empty fields (mode update);
// - a row whose email matches one contact and phone another fails `duplicate_conflict`
//   (merging two people is not an import's decision).
import type { FieldDef } from './custom-cells.ts';
import type { HeaderMapping } from './header-mapping.ts';
import { validateRow, type ContactDraft, type RowProblem, type ValidatedRow } from './row-validation.ts';

export type DedupeMode = 'skip' | 'update';

export interface StagedRow {
  rowNumber: number;
  line: number;
  cells: string[];
}

export interface PreparedRow extends StagedRow {
  result: ValidatedRow;
  /** Row number of the earlier row with the same email or phone. */
  duplicateOf?: number;
  duplicateKey?: 'email' | 'phone';
}

export interface ExistingContact {
  id: string;
  email: string | null;
  phone: string | null;
}

export type RowOutcome =
  | { kind: 'create'; row: PreparedRow; draft: ContactDraft }
  | { kind: 'update'; row: PreparedRow; draft: ContactDraft; contactId: string }
  | { kind: 'skip'; row: PreparedRow; problem?: RowProblem }
  | { kind: 'fail'; row: PreparedRow; problems: RowProblem[] };

/**
 * Validates rows in file order, remembering the emails and phones already claimed,
 * so a row is only ever compared with EARLIER rows: batches can be prepared one after
 * another (the next while the previous one is in the database), and a resume first
 * replays the committed rows to rebuild the same state.
 */
export function createRowPreparer(
  mapping: HeaderMapping,
  headers: readonly string[],
  fields: readonly FieldDef[] = [],
) {
  const seenEmail = new Map<string, number>();
  const seenPhone = new Map<string, number>();
  const one = (row: StagedRow): PreparedRow => {
    const result = validateRow(row.cells, mapping, headers, fields);
    const prepared: PreparedRow = { ...row, result };
    if (!result.ok) return prepared;
    const { email, phone } = result.draft;
    const byEmail = email ? seenEmail.get(email) : undefined;
    const byPhone = phone ? seenPhone.get(phone) : undefined;
    if (byEmail !== undefined || byPhone !== undefined) {
      prepared.duplicateOf = byEmail ?? byPhone;
      prepared.duplicateKey = byEmail !== undefined ? 'email' : 'phone';
      return prepared;
    }
    if (email) seenEmail.set(email, row.rowNumber);
    if (phone) seenPhone.set(phone, row.rowNumber);
    return prepared;
  };
  return {
    prepare: (rows: readonly StagedRow[]): PreparedRow[] => rows.map(one),
    /** The same, yielding to the event loop every `slice` rows: validating 100k rows
     *  (libphonenumber ≈ 30 µs a row) must not stall every other request for seconds. */
    async prepareAsync(rows: readonly StagedRow[], slice = 250): Promise<PreparedRow[]> {
      const out: PreparedRow[] = [];
      for (let i = 0; i < rows.length; i += slice) {
        if (i > 0) await new Promise((r) => setImmediate(r));
        for (const row of rows.slice(i, i + slice)) out.push(one(row));
      }
      return out;
    },
  };
}
export type RowPreparer = ReturnType<typeof createRowPreparer>;

export function prepareRows(
  staged: readonly StagedRow[],
  mapping: HeaderMapping,
  headers: readonly string[],
  fields: readonly FieldDef[] = [],
): PreparedRow[] {
  return createRowPreparer(mapping, headers, fields).prepare(staged);
}

/** Emails and phones of a batch's rows that still need a lookup against existing contacts. */
export function batchKeys(rows: readonly PreparedRow[]): { emails: string[]; phones: string[] } {
  const emails: string[] = [];
  const phones: string[] = [];
  for (const r of rows) {
    if (!r.result.ok || r.duplicateOf !== undefined) continue;
    if (r.result.draft.email) emails.push(r.result.draft.email);
    if (r.result.draft.phone) phones.push(r.result.draft.phone);
  }
  return { emails, phones };
}

export function planBatch(
  rows: readonly PreparedRow[],
  existing: readonly ExistingContact[],
  mode: DedupeMode,
): RowOutcome[] {
  const byEmail = new Map<string, ExistingContact>();
  const byPhone = new Map<string, ExistingContact>();
  for (const c of existing) {
    if (c.email) byEmail.set(c.email.toLowerCase(), c);
    if (c.phone) byPhone.set(c.phone, c);
  }
  const updating = new Set<string>();
  return rows.map((row): RowOutcome => {
    if (!row.result.ok) return { kind: 'fail', row, problems: row.result.problems };
    const draft = row.result.draft;
    if (row.duplicateOf !== undefined) {
      return {
        kind: 'skip',
        row,
        problem: {
          column: null,
          code: 'duplicate_in_file',
          message: `same ${row.duplicateKey} as row ${row.duplicateOf} of this file`,
        },
      };
    }
    const matchEmail = draft.email ? byEmail.get(draft.email) : undefined;
    const matchPhone = draft.phone ? byPhone.get(draft.phone) : undefined;
    if (matchEmail && matchPhone && matchEmail.id !== matchPhone.id) {
      return {
        kind: 'fail',
        row,
        problems: [
          {
            column: null,
            code: 'duplicate_conflict',
            message: 'the email belongs to one existing contact and the phone to another',
          },
        ],
      };
    }
    const match = matchEmail ?? matchPhone;
    if (!match) return { kind: 'create', row, draft };
    if (mode === 'skip') return { kind: 'skip', row };
    // One UPDATE … FROM per batch must not name the same contact twice (PostgreSQL
    // would apply only one of them, silently).
    if (updating.has(match.id)) return { kind: 'skip', row };
    updating.add(match.id);
    return { kind: 'update', row, draft, contactId: match.id };
  });
}
