// Opaque keyset cursors: the sort key of the last row returned, base64url JSON. A
// cursor is only a position; every query still runs under the caller's RLS, so a
// forged cursor can skip rows but never reveal another business's.
import { AppError } from '../shared/errors.ts';

export const DEFAULT_PAGE = 50;
export const MAX_PAGE = 200;

export function encodeCursor(key: readonly (string | number | null)[]): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

/** Decode a cursor made by `encodeCursor` with `size` keys; anything else is a 400. */
export function decodeCursor(cursor: string | undefined, size: number): (string | number | null)[] | undefined {
  if (cursor === undefined || cursor === '') return undefined;
  const invalid = () => new AppError('validation_failed', 'the cursor is not valid; start again without it');
  if (cursor.length > 1024) throw invalid();
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (!Array.isArray(value) || value.length !== size) throw invalid();
  for (const v of value) {
    if (v !== null && typeof v !== 'string' && typeof v !== 'number') throw invalid();
    if (typeof v === 'string' && v.length > 300) throw invalid();
  }
  return value as (string | number | null)[];
}

/** Split one extra fetched row off into the next cursor. */
export function page<R>(
  rows: R[],
  limit: number,
  keyOf: (row: R) => (string | number | null)[],
): { items: R[]; next_cursor: string | null } {
  if (rows.length <= limit) return { items: rows, next_cursor: null };
  const items = rows.slice(0, limit);
  return { items, next_cursor: encodeCursor(keyOf(items[items.length - 1]!)) };
}

export const iso = (d: Date | string | null | undefined): string | null =>
  d === null || d === undefined ? null : d instanceof Date ? d.toISOString() : new Date(d).toISOString();

/**
 * `iso` done by the database: the SQL that writes `expr` (a timestamptz) exactly as
 * `Date#toISOString` does (UTC, milliseconds truncated, "Z"), whatever the session's time
 * zone. A list page carries 100–150 timestamps: parsing each into a Date and printing it
 * again cost ~13% of the contacts route's CPU (docs/ARCHITECTURE.md §3).
 */
export const isoSql = (expr: string): string =>
  `to_char((${expr}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/** `%text%` for LIKE with the user's own wildcards escaped (backslash is the default escape). */
export function likePattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
