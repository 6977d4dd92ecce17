// Contact search (docs/ARCHITECTURE.md §11, Search): the matches users expect first —
// exact, then prefix matches on last name, first name, email and phone — each tier read
// in the order of a btree (migration 0075), so a page costs its own rows and not the
// number of matches; then substring and typo matches from the trigram indexes, at most
// TRIGRAM_CANDIDATES of them (among those the list's equality filters let through, 0133)
// ranked per page. SQL fragments are fixed; the user's text only ever travels as parameters.
import type { Tx } from '../db/index.ts';
import { AppError } from '../shared/errors.ts';
import { CONTACT_COLUMNS, toContact, type Contact } from './contacts.ts';
import { digitsOf } from './contact-fields.ts';
import { decodeCursor, encodeCursor, likePattern } from './cursor.ts';

/** How many trigram matches (substring, typo) one page ranks at most. */
export const TRIGRAM_CANDIDATES = 1000;
/** The trigram tier's number; the index-ordered tiers are numbered 1, 2, … before it. */
const TRIGRAM_TIER = 99;
/** The longest split of a several-word query into first name and last name tried. */
const MAX_NAME_SPLITS = 3;

// Must match the expressions of the trigram indexes (0007) and app.contact_search_ids (0075).
const NAME_EXPR = `lower(c.first_name || ' ' || c.last_name)`;
const PHONE_DIGITS_EXPR = `regexp_replace(coalesce(c.phone, ''), '[^0-9]', '', 'g')`;

/** The letters of a query, as words ("o'brien-smith 42" → "o'brien-smith"). */
export function nameWords(q: string): string {
  return q
    .replace(/[^\p{L}\p{M}\s'’-]+/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/**
 * One tier of results: rows matching any of its branches (each one index range), sorted
 * by its keys and the id. Every key is a column a btree leads with after business_id, and
 * every condition uses leakproof operators only (=, <, >, ^@ on text), so under the
 * policies the conditions are index conditions, not filters.
 */
interface Tier {
  branches: string[];
  keys: [string] | [string, string];
}

const NAME_CHARS = /^[\p{L}\p{M}'’ -]+$/u;
/** Words of a name query ("Smith, John" is a name too), or [] when the query is not a name. */
function nameQueryWords(q: string): string[] {
  const name = q.replace(/[,;]+/g, ' ').replace(/\s+/g, ' ').trim();
  return NAME_CHARS.test(name) ? name.split(' ') : [];
}
const isSingleName = (q: string) => !/\s/.test(q) && nameQueryWords(q).length === 1;

/** The index-ordered tiers for a query, most expected first. `p` binds a parameter. */
function tiersFor(q: string, p: (v: unknown) => string): Tier[] {
  const tiers: Tier[] = [];
  const words = nameQueryWords(q);
  if (words.length === 1) {
    const w = p(words[0]);
    tiers.push({ branches: [`c.search_last = ${w}`], keys: ['c.search_first'] });
    tiers.push({ branches: [`c.search_first = ${w}`], keys: ['c.search_last'] });
    tiers.push({
      branches: [`c.search_last ^@ ${w} AND c.search_last > ${w}`],
      keys: ['c.search_last', 'c.search_first'],
    });
    tiers.push({
      branches: [`c.search_first ^@ ${w} AND c.search_first > ${w}`],
      keys: ['c.search_first', 'c.search_last'],
    });
  } else if (words.length > 1) {
    // Every split into first and last name ("mary ann smith", "john van der berg"), both ways round.
    const pairs: [string, string][] = [];
    for (let k = 1; k < words.length && k <= MAX_NAME_SPLITS; k++) {
      const a = words.slice(0, k).join(' ');
      const b = words.slice(k).join(' ');
      pairs.push([p(a), p(b)], [p(b), p(a)]);
    }
    const keys: Tier['keys'] = ['c.search_last', 'c.search_first'];
    tiers.push({ branches: pairs.map(([f, l]) => `c.search_last = ${l} AND c.search_first = ${f}`), keys });
    tiers.push({ branches: pairs.map(([f, l]) => `c.search_last ^@ ${l} AND c.search_first ^@ ${f}`), keys });
    // Then everyone whose last name, then first name, is one of the words ("jhon smith": the Smiths).
    const each = [...new Set(words)].slice(0, MAX_NAME_SPLITS + 1).map(p);
    tiers.push({ branches: each.map((x) => `c.search_last = ${x}`), keys: ['c.search_first'] });
    tiers.push({ branches: each.map((x) => `c.search_first = ${x}`), keys: ['c.search_last'] });
  }
  if (!/\s/.test(q)) tiers.push({ branches: [`c.email ^@ ${p(q)}`], keys: ['c.email'] });
  const digits = phoneDigits(q);
  if (digits) {
    // E.164 is '+' then digits; a number typed without its country code is taken as US
    // (the default region, docs/ARCHITECTURE.md §11). For strings of '+' and digits the
    // database collation orders like bytes, so [P, P + '9…9'] is exactly "starts with P"
    // and the unique (business_id, phone) index serves it.
    const prefixes = [...new Set([`+${digits}`, `+1${digits}`])];
    tiers.push({
      branches: prefixes.map((x) => `c.phone >= ${p(x)} AND c.phone <= ${p(x + '9'.repeat(15))}`),
      keys: ['c.phone'],
    });
  }
  return tiers;
}

/** The digits of a query typed as a phone number ("(212) 555-01", "+1 212 555"), else ''. */
function phoneDigits(q: string): string {
  const digits = digitsOf(q);
  return digits.length >= 3 && /^[\d\s().+/-]+$/.test(q) ? digits : '';
}

/**
 * The statement renumbered to use only the parameters it references: PostgreSQL must
 * infer a type for every parameter sent, and the statements share one list.
 */
function onlyUsed(sql: string, params: unknown[]): [string, unknown[]] {
  const used = new Map<number, number>();
  const text = sql.replace(/\$(\d+)/g, (_, d: string) => {
    const n = Number(d);
    if (!used.has(n)) used.set(n, used.size + 1);
    return `$${used.get(n)}`;
  });
  return [text, [...used.keys()].map((n) => params[n - 1])];
}

/**
 * The caller's equality filters as SQL expressions (its parameters), passed to
 * app.contact_search_ids so that the trigram tier's cap is spent on contacts the page can
 * show (migration 0133); absent: no such filter.
 */
export interface CandidateFilters {
  deleted: boolean;
  status?: string;
  source?: string;
  kinds?: string;
  owner?: string;
  list?: string;
}

interface SearchRow extends Record<string, unknown> {
  tier: number;
  k1: string;
  k2: string;
}

/** Byte order of two strings (the tiers' keys are COLLATE "C"). */
function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}
const byTierAndKeys = (a: SearchRow, b: SearchRow) =>
  a.tier - b.tier ||
  compareBytes(a.k1 ?? '', b.k1 ?? '') ||
  compareBytes(a.k2 ?? '', b.k2 ?? '') ||
  compareBytes(String(a.id), String(b.id));

/**
 * Ranked search by name, email or phone digits, on top of the caller's filters (`where`,
 * whose parameters are in `params`; $1 is the business). Keyset paging: the cursor is
 * (tier, key 1, key 2, id) of the last row.
 */
export async function searchContacts(
  tx: Tx,
  search: { q: string; limit: number; cursor?: string },
  where: string[],
  params: unknown[],
  narrow: CandidateFilters,
): Promise<{ items: Contact[]; next_cursor: string | null }> {
  const { q, limit } = search;
  const cursor = decodeCursor(search.cursor, 4);
  const after = cursor ? Number(cursor[0]) : 0;
  if (cursor && (!Number.isInteger(after) || after < 1 || after > TRIGRAM_TIER || typeof cursor[3] !== 'string'))
    throw new AppError('validation_failed', 'the cursor is not valid; start again without it');
  const p = (v: unknown) => `$${params.push(v)}`;
  const tiers = tiersFor(q, p);
  const filters = where.join(' AND ');
  const take = Math.trunc(limit) + 1;
  const rows: SearchRow[] = [];

  // The tiers, most expected first, as `UNION ALL` of the tiers in order under a LIMIT.
  // PostgreSQL's Append runs its children one after another and the LIMIT stops pulling
  // once the page is full, so a later tier's scan never starts when an earlier one filled
  // the page (it could be long: for "jo", every email starting with "jo" belongs to a name
  // tier already) — the order and the laziness of one statement per tier, in at most two
  // round trips instead of up to six (docs/ARCHITECTURE.md §11, Search). A row belongs to
  // the first tier it matches: each tier leaves out the earlier ones. Each tier is ordered
  // within itself; the rows are put in (tier, key 1, key 2, id) order again below, so the
  // page does not depend on Append's order.
  const earlier: string[] = [];
  const tierSelects: string[] = [];
  for (const [i, tier] of tiers.entries()) {
    const n = i + 1;
    const exclude = earlier.length ? ` AND (${earlier.join(' OR ')}) IS NOT TRUE` : '';
    earlier.push(...tier.branches.map((b) => `(${b})`));
    if (n < after) continue;
    const order = [...tier.keys, 'c.id'];
    const keyset =
      n === after
        ? ` AND (${order.join(', ')}) > (${tier.keys.map((_, k) => p(cursor![k + 1])).join(', ')}, ${p(cursor![3])}::uuid)`
        : '';
    const k2 = tier.keys[1] ?? `''`;
    const selects = tier.branches.map(
      (
        branch,
      ) => `(SELECT ${CONTACT_COLUMNS}, ${n} AS tier, (${tier.keys[0]}) COLLATE "C" AS k1, (${k2}) COLLATE "C" AS k2
         FROM app.contacts c WHERE ${filters} AND ${branch}${exclude}${keyset}
        ORDER BY ${order.join(', ')} LIMIT ${take})`,
    );
    tierSelects.push(
      selects.length === 1
        ? selects[0]!
        : `(SELECT DISTINCT ON (u.k1, u.k2, u.id) u.* FROM (${selects.join(' UNION ALL ')}) u
              ORDER BY u.k1, u.k2, u.id LIMIT ${take})`,
    );
  }
  // The first tier (the exact matches: a common name fills the page with them) is planned
  // and run alone; the others only when it did not fill the page, together. Planning
  // every tier costs several times one tier's (policies, one per branch), wasted when the
  // first fills the page.
  for (const group of [tierSelects.slice(0, 1), tierSelects.slice(1)]) {
    if (!group.length || rows.length >= take) continue;
    const need = take - rows.length;
    const r = await tx.query<SearchRow>(
      ...onlyUsed(
        group.length === 1 ? group[0]! : `SELECT t.* FROM (${group.join(' UNION ALL ')}) t LIMIT ${need}`,
        params,
      ),
    );
    rows.push(...r.rows.sort(byTierAndKeys).slice(0, need));
  }

  // Substring and typo matches, only when the expected ones do not fill the page.
  if (rows.length < take && [...q].length >= 3) {
    const digits = phoneDigits(q);
    const words = nameWords(q);
    const wordsP = `${p(words)}::text`;
    const qp = `${p(q)}::text`;
    const pattern = `${p(likePattern(q))}::text`;
    // Each field only where the query could be in it: a name has no '@' and an email no
    // space; a phone number is only digits.
    const nameLike = `${p(digits || q.includes('@') ? null : likePattern(q))}::text`;
    const emailLike = `${p(digits || /\s/.test(q) ? null : likePattern(q))}::text`;
    // Fuzzy matching compares the query's words with names: digits and symbols never make
    // a name more or less similar (they did, and "x AND 1=1" / "x AND 1=2" then matched
    // differently — sqlmap's boolean-based blind injection signal). An email is not a name,
    // and neither is one word with a dot, '@' or a digit in it ("wei.gali", "jsmith4"):
    // that is the start of an email. Similar names for it were noise, and the costliest
    // search there is — "wei gali" is trigram-close to ~30k of a million names, each read
    // from the table to be ranked (~0.4 s; bench/README.md "Search at 1M contacts").
    const looksLikeEmail = !/\s/.test(q) && /[@.\d]/.test(q);
    const fuzzy = `${p(words.length >= 3 && !looksLikeEmail ? words : null)}::text`;
    let digitsPattern = 'NULL::text';
    let phoneSimilarity = '0';
    if (digits) {
      digitsPattern = `${p(likePattern(digits))}::text`;
      phoneSimilarity = `CASE WHEN ${PHONE_DIGITS_EXPR} LIKE ${digitsPattern} THEN extensions.similarity(${PHONE_DIGITS_EXPR}, ${p(digits)}::text) ELSE 0 END`;
    }
    // A single name's prefix matches (names, email) are the earlier tiers: not candidates here.
    const skip = `${p(isSingleName(q) ? likePattern(q).slice(1) : null)}::text`;
    const emailSimilarity = `CASE WHEN c.email::text LIKE ${pattern} THEN extensions.similarity(c.email::text, ${qp}) ELSE 0 END`;
    const rank = `round(greatest(extensions.similarity(${NAME_EXPR}, ${wordsP}), ${emailSimilarity}, ${phoneSimilarity})::numeric, 6)`;
    const exclude = earlier.length ? ` AND (${earlier.join(' OR ')}) IS NOT TRUE` : '';
    const candidateFilters = [
      narrow.deleted ? 'true' : 'false',
      narrow.status ?? 'NULL::app.contact_status',
      narrow.source ?? 'NULL::app.contact_source',
      narrow.kinds ?? 'NULL::app.contact_kind[]',
      narrow.owner ?? 'NULL::uuid',
      narrow.list ?? 'NULL::uuid',
    ].join(', ');
    const keyset =
      after === TRIGRAM_TIER ? `WHERE (s.rank, s.id) < (${p(cursor![1])}::numeric, ${p(cursor![3])}::uuid)` : '';
    const r = await tx.query<SearchRow>(
      ...onlyUsed(
        `SELECT s.*, ${TRIGRAM_TIER} AS tier, s.rank::text AS k1, '' AS k2 FROM (
         SELECT ${CONTACT_COLUMNS}, ${rank} AS rank FROM app.contacts c
          WHERE ${filters}${exclude}
            AND c.id IN (SELECT app.contact_search_ids($1, ${candidateFilters}, ${nameLike}, ${emailLike}, ${fuzzy}, ${digitsPattern}, ${skip}, ${TRIGRAM_CANDIDATES}))
       ) s ${keyset}
       ORDER BY s.rank DESC, s.id DESC LIMIT ${take - rows.length}`,
        params,
      ),
    );
    rows.push(...r.rows);
  }

  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return {
    items: items.map((row) => toContact(row as never)),
    next_cursor: rows.length > limit && last ? encodeCursor([last.tier, last.k1, last.k2, last.id as string]) : null,
  };
}
