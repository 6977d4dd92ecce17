// Listing contacts: keyset pagination (stable under concurrent inserts, O(limit) per
// page at any depth), sorting, filters; search is src/crm/contact-search.ts. SQL fragments are
// chosen from fixed sets below; user values only ever travel as parameters.
import type { Tx } from '../db/index.ts';
import { CONTACT_COLUMNS, toContact, type Contact } from './contacts.ts';
import type { ContactKind, ContactSource, ContactStatus } from './contact-fields.ts';
import { searchContacts, type CandidateFilters } from './contact-search.ts';
import { decodeCursor, page } from './cursor.ts';
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

export async function listContacts(
  tx: Tx,
  businessId: string,
  query: ContactQuery,
): Promise<{ items: Contact[]; next_cursor: string | null }> {
  const params: unknown[] = [businessId];
  const p = (v: unknown) => `$${params.push(v)}`;
  const where = ['c.business_id = $1', query.deleted ? 'c.deleted_at IS NOT NULL' : 'c.deleted_at IS NULL'];
  // The equality filters, also given to the search's trigram candidates so that its cap is
  // spent on contacts this list can show (docs/ARCHITECTURE.md §11, Search).
  const narrow: CandidateFilters = { deleted: !!query.deleted };
  if (query.status) where.push(`c.status = ${(narrow.status = `${p(query.status)}::app.contact_status`)}`);
  if (query.source) where.push(`c.source = ${(narrow.source = `${p(query.source)}::app.contact_source`)}`);
  if (query.kind?.length) where.push(`c.kind = ANY (${(narrow.kinds = `${p(query.kind)}::app.contact_kind[]`)})`);
  if (query.import_job_id) {
    // Created by the job (import_job_id, 0008), or an existing contact it updated (a
    // stored 'imported' event naming the job).
    const job = p(query.import_job_id);
    where.push(`(c.import_job_id = ${job}::uuid OR c.id IN (SELECT e.contact_id FROM app.contact_events e
      WHERE e.business_id = $1 AND e.kind = 'imported' AND e.details->>'job_id' = ${job}::text))`);
  }
  if (query.owner_id) {
    narrow.owner = query.owner_id === 'me' ? '(select app.uid())' : `${p(query.owner_id)}::uuid`;
    where.push(`c.owner_id = ${narrow.owner}`);
  }
  if (query.list_id) {
    narrow.list = `${p(query.list_id)}::uuid`;
    where.push(`EXISTS (SELECT 1 FROM app.list_members lm
      WHERE lm.business_id = c.business_id AND lm.list_id = ${narrow.list} AND lm.contact_id = c.id)`);
  }
  if (query.custom !== undefined) {
    const filters = (Array.isArray(query.custom) ? query.custom : [query.custom]).map(parseCustomFilter);
    where.push(...customFilterSql(await listCustomFields(tx, businessId, 'contact'), filters, 'c', p));
  }

  // Composed (NFC) like the stored names (migration 0133): a query typed decomposed matches too.
  const q = query.q?.normalize('NFC').trim().toLowerCase();
  if (q) return searchContacts(tx, { q, limit: query.limit, cursor: query.cursor }, where, params, narrow);

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
    // The busiest page of the app; its text is one of a bounded set (sort × filters).
    // Custom-field filters build open-ended text: those stay unnamed.
    { prepared: query.custom === undefined },
  );
  const out = page(r.rows, query.limit, (row) => key.exprs.map((_, i) => row[`k${i}`] as string));
  return { items: out.items.map((row) => toContact(row as never)), next_cursor: out.next_cursor };
}
