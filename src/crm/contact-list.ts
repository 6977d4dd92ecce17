// Listing contacts: keyset pagination (stable under concurrent inserts, O(limit) per
// page at any depth), sorting, filters, and ranked trigram search. SQL fragments are
// chosen from fixed sets below; user values only ever travel as parameters.
import type { Tx } from '../db/index.ts';
import { CONTACT_COLUMNS, toContact, type Contact } from './contacts.ts';
import { digitsOf, type ContactKind, type ContactSource, type ContactStatus } from './contact-fields.ts';
import { decodeCursor, likePattern, page } from './cursor.ts';
import { customFilterSql, listCustomFields, parseCustomFilter } from './custom-fields.ts';

export const CONTACT_SORTS = [
  'created_at',
  '-created_at',
  'updated_at',
  '-updated_at',
  'name',
  '-name',
  'deleted_at',
  '-deleted_at',
] as const;
export type ContactSort = (typeof CONTACT_SORTS)[number];

export interface ContactQuery {
  limit: number;
  cursor?: string;
  sort?: ContactSort;
  status?: ContactStatus;
  source?: ContactSource;
  kind?: ContactKind[];
  /** contacts created or updated by this CSV import */
  import_job_id?: string;
  list_id?: string;
  /** a member's user id, or 'me' */
  owner_id?: string;
  q?: string;
  /** the trash instead of live contacts */
  deleted?: boolean;
  /** custom-field filters, each "key:value" */
  custom?: string | string[];
}

// Each sort: the key columns (matching an index led by business_id) and their SQL types.
const SORT_KEYS: Record<'created_at' | 'updated_at' | 'name' | 'deleted_at', { exprs: string[]; casts: string[] }> = {
  created_at: { exprs: ['c.created_at', 'c.id'], casts: ['timestamptz', 'uuid'] },
  updated_at: { exprs: ['c.updated_at', 'c.id'], casts: ['timestamptz', 'uuid'] },
  name: { exprs: ['lower(c.last_name)', 'lower(c.first_name)', 'c.id'], casts: ['text', 'text', 'uuid'] },
  // The trash: when each contact was deleted (NULL for live ones, so only meaningful with deleted=true).
  deleted_at: { exprs: [`coalesce(c.deleted_at, '-infinity'::timestamptz)`, 'c.id'], casts: ['timestamptz', 'uuid'] },
};

// Must match the expressions of the trigram indexes in migrations/0007_index_contact_search.sql.
const NAME_EXPR = `lower(c.first_name || ' ' || c.last_name)`;
const PHONE_DIGITS_EXPR = `regexp_replace(coalesce(c.phone, ''), '[^0-9]', '', 'g')`;

export async function listContacts(
  tx: Tx,
  businessId: string,
  query: ContactQuery,
): Promise<{ items: Contact[]; next_cursor: string | null }> {
  const params: unknown[] = [businessId];
  const p = (v: unknown) => `$${params.push(v)}`;
  const where = ['c.business_id = $1', query.deleted ? 'c.deleted_at IS NOT NULL' : 'c.deleted_at IS NULL'];
  if (query.status) where.push(`c.status = ${p(query.status)}::app.contact_status`);
  if (query.source) where.push(`c.source = ${p(query.source)}::app.contact_source`);
  if (query.kind?.length) where.push(`c.kind = ANY (${p(query.kind)}::app.contact_kind[])`);
  if (query.import_job_id) {
    // Created by the job (import_job_id, 0008), or an existing contact it updated (a
    // stored 'imported' event naming the job).
    const job = p(query.import_job_id);
    where.push(`(c.import_job_id = ${job}::uuid OR c.id IN (SELECT e.contact_id FROM app.contact_events e
      WHERE e.business_id = $1 AND e.kind = 'imported' AND e.details->>'job_id' = ${job}::text))`);
  }
  if (query.owner_id)
    where.push(query.owner_id === 'me' ? 'c.owner_id = (select app.uid())' : `c.owner_id = ${p(query.owner_id)}::uuid`);
  if (query.list_id) {
    where.push(`EXISTS (SELECT 1 FROM app.list_members lm
      WHERE lm.business_id = c.business_id AND lm.list_id = ${p(query.list_id)}::uuid AND lm.contact_id = c.id)`);
  }
  if (query.custom !== undefined) {
    const filters = (Array.isArray(query.custom) ? query.custom : [query.custom]).map(parseCustomFilter);
    where.push(...customFilterSql(await listCustomFields(tx, businessId, 'contact'), filters, 'c', p));
  }

  const q = query.q?.trim().toLowerCase();
  if (q) return searchContacts(tx, q, query, where, params);

  const sort = query.sort ?? (query.deleted ? '-deleted_at' : '-created_at');
  const desc = sort.startsWith('-');
  const key = SORT_KEYS[(desc ? sort.slice(1) : sort) as keyof typeof SORT_KEYS];
  const cursor = decodeCursor(query.cursor, key.exprs.length);
  if (cursor) {
    const values = cursor.map((v, i) => `${p(v)}::${key.casts[i]}`);
    where.push(`(${key.exprs.join(', ')}) ${desc ? '<' : '>'} (${values.join(', ')})`);
  }
  const dir = desc ? 'DESC' : 'ASC';
  const keyCols = key.exprs.map((e, i) => `(${e})::text AS k${i}`).join(', ');
  const r = await tx.query<Record<string, unknown>>(
    `SELECT ${CONTACT_COLUMNS}, ${keyCols} FROM app.contacts c WHERE ${where.join(' AND ')}
      ORDER BY ${key.exprs.map((e) => `${e} ${dir}`).join(', ')} LIMIT ${p(query.limit + 1)}`,
    params,
  );
  const out = page(r.rows, query.limit, (row) => key.exprs.map((_, i) => row[`k${i}`] as string));
  return { items: out.items.map((row) => toContact(row as never)), next_cursor: out.next_cursor };
}

/** The letters of a query, as words ("o'brien-smith 42" → "o'brien-smith"). */
export function nameWords(q: string): string {
  return q
    .replace(/[^\p{L}\p{M}\s'’-]+/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/**
 * Ranked search by name, email or phone digits. Substring matches use the trigram GIN
 * indexes (LIKE '%…%' is index-assisted from three characters); a fuzzy name match
 * of the query's words (pg_trgm's `%`) catches typos. Rank: the name's similarity to the
 * words, or the email's or phone's to the query when they contain it, +1 for a prefix match.
 */
async function searchContacts(
  tx: Tx,
  q: string,
  query: ContactQuery,
  where: string[],
  params: unknown[],
): Promise<{ items: Contact[]; next_cursor: string | null }> {
  const p = (v: unknown) => `$${params.push(v)}`;
  // Fuzzy (typo-tolerant) matching is for names, so it compares the words of the query
  // only: digits and symbols never make a name more or less similar. (They did: "x AND
  // 1=1" and "x AND 1=2" have different trigram sets, so one matched a name fuzzily and
  // the other not, which sqlmap read as boolean-based blind injection.)
  const words = p(nameWords(q));
  const qp = p(q);
  const pattern = p(likePattern(q));
  const prefix = p(`${likePattern(q).slice(1)}`);
  const digits = digitsOf(q);
  let digitsPattern = 'NULL::text';
  let phoneSimilarity = '0';
  if (digits.length >= 3) {
    const dp = p(digits);
    digitsPattern = p(likePattern(digits));
    phoneSimilarity = `CASE WHEN ${PHONE_DIGITS_EXPR} LIKE ${digitsPattern} THEN extensions.similarity(${PHONE_DIGITS_EXPR}, ${dp}) ELSE 0 END`;
  }
  // Email and phone earn similarity only when they contain the query.
  const emailSimilarity = `CASE WHEN c.email::text LIKE ${pattern} THEN extensions.similarity(c.email::text, ${qp}) ELSE 0 END`;
  const rank = `round((greatest(extensions.similarity(${NAME_EXPR}, ${words}), ${emailSimilarity}, ${phoneSimilarity})
    + CASE WHEN ${NAME_EXPR} LIKE ${prefix} OR lower(c.last_name) LIKE ${prefix} OR c.email::text LIKE ${prefix} THEN 1 ELSE 0 END)::numeric, 6)`;
  // The matching ids come from app.contact_search_ids (migration 0007), which can use the
  // trigram indexes where a query through the policies cannot; the rows themselves are
  // read here, through the policies, with every other filter.
  where.push(`c.id IN (SELECT app.contact_search_ids($1, ${pattern}, ${words}, ${digitsPattern}))`);
  const cursor = decodeCursor(query.cursor, 2);
  const outer: string[] = [];
  if (cursor) outer.push(`(s.rank, s.id) < (${p(cursor[0])}::numeric, ${p(cursor[1])}::uuid)`);
  const r = await tx.query<Record<string, unknown>>(
    `SELECT * FROM (SELECT ${CONTACT_COLUMNS}, ${rank} AS rank FROM app.contacts c WHERE ${where.join(' AND ')}) s
      ${outer.length ? `WHERE ${outer.join(' AND ')}` : ''}
      ORDER BY s.rank DESC, s.id DESC LIMIT ${p(query.limit + 1)}`,
    params,
  );
  const out = page(r.rows, query.limit, (row) => [String(row.rank), row.id as string]);
  return { items: out.items.map((row) => toContact(row as never)), next_cursor: out.next_cursor };
}
