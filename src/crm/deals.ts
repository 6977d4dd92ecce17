// The loan pipeline: deals (loan files) with a borrower, co-borrower and referral
// partner, an amount in cents, a loan type, purpose, rate, property and milestone
// dates, and a stage, ordered within their stage's kanban column by `position` (kept
// dense: 0..n-1). Stage changes
// are recorded by a trigger in the database (app.record_deal_stage_change), whoever
// makes them; moves take a per-stage advisory lock so two concurrent drags cannot
// hand out the same position.
import type { Tx } from '../db/index.ts';
import { AppError, notFound } from '../shared/errors.ts';
import { createContact } from './contacts.ts';
import { decodeCursor, isoSql, page } from './cursor.ts';
import { applyCustomPatch, type CustomValues } from './custom-fields.ts';

export const DEAL_STAGES = [
  'lead',
  'application',
  'processing',
  'underwriting',
  'clear_to_close',
  'funded',
  'lost',
] as const;
export const LOAN_TYPES = ['conventional', 'fha', 'va', 'usda', 'jumbo', 'refinance', 'heloc', 'other'] as const;
export const LOAN_PURPOSES = ['purchase', 'refinance', 'cash_out'] as const;
/** The milestones of a loan file, in the order they usually happen; each has a date column `<name>_on`. */
export const MILESTONES = [
  'application',
  'disclosures',
  'appraisal_ordered',
  'appraisal_received',
  'conditional_approval',
  'clear_to_close',
  'funded',
] as const;
export type DealStage = (typeof DEAL_STAGES)[number];
export type LoanType = (typeof LOAN_TYPES)[number];
export type LoanPurpose = (typeof LOAN_PURPOSES)[number];
export type Milestone = (typeof MILESTONES)[number];
export type Milestones = Record<Milestone, string | null>;
export const MAX_AMOUNT_CENTS = 100_000_000_000_000;

export interface Deal {
  id: string;
  business_id: string;
  title: string;
  contact_id: string | null;
  contact_name: string | null;
  co_borrower_id: string | null;
  co_borrower_name: string | null;
  partner_id: string | null;
  partner_name: string | null;
  amount_cents: number;
  loan_type: LoanType;
  loan_purpose: LoanPurpose | null;
  rate_percent: number | null;
  property_address: string;
  stage: DealStage;
  expected_close_date: string | null;
  milestones: Milestones;
  position: number;
  owner_id: string | null;
  /** Custom field values by key (docs/ARCHITECTURE.md §12). */
  custom: CustomValues;
  created_at: string;
  updated_at: string;
}

/** A borrower created together with the deal (instead of choosing one by contact_id). */
export interface NewBorrower {
  first_name?: string;
  last_name?: string;
  email?: string | null;
  phone?: string | null;
}

export interface DealInput {
  title?: string;
  contact_id?: string | null;
  co_borrower_id?: string | null;
  partner_id?: string | null;
  amount_cents?: number;
  loan_type?: LoanType;
  loan_purpose?: LoanPurpose | null;
  rate_percent?: number | null;
  property_address?: string;
  stage?: DealStage;
  expected_close_date?: string | null;
  milestones?: Partial<Milestones>;
  owner_id?: string | null;
  /** A patch of custom values: {key: value}, null removes the key. */
  custom?: Record<string, unknown>;
}

// A person's display name: the name, else the email, else the phone (as the web app's fullName).
const personName = (a: string) =>
  `nullif(coalesce(nullif(btrim(${a}.first_name || ' ' || ${a}.last_name), ''), ${a}.email, ${a}.phone), '')`;

const DEAL_COLUMNS = `d.id, d.business_id, d.title, d.contact_id, ${personName('pb')} AS contact_name,
  d.co_borrower_id, ${personName('pc')} AS co_borrower_name, d.partner_id, ${personName('pp')} AS partner_name,
  d.amount_cents::text AS amount_cents, d.loan_type, d.loan_purpose, d.rate_percent::text AS rate_percent,
  d.property_address, d.stage, to_char(d.expected_close_date, 'YYYY-MM-DD') AS expected_close_date,
  ${MILESTONES.map((m) => `to_char(d.${m}_on, 'YYYY-MM-DD') AS ${m}_on`).join(', ')},
  d.position, d.owner_id, d.custom, ${isoSql('d.created_at')} AS created_at, ${isoSql('d.updated_at')} AS updated_at`;

// The people of a loan file, joined inside the business (the composite keys guarantee it anyway).
const DEAL_FROM = `app.deals d
  LEFT JOIN app.contacts pb ON pb.business_id = d.business_id AND pb.id = d.contact_id
  LEFT JOIN app.contacts pc ON pc.business_id = d.business_id AND pc.id = d.co_borrower_id
  LEFT JOIN app.contacts pp ON pp.business_id = d.business_id AND pp.id = d.partner_id`;

/** A row of DEAL_COLUMNS: dates and timestamps already written by the database (`isoSql`). */
type DealRow = Omit<Deal, 'amount_cents' | 'rate_percent' | 'milestones'> & {
  amount_cents: string;
  rate_percent: string | null;
} & Record<`${Milestone}_on`, string | null>;

const toDeal = (r: DealRow): Deal => ({
  id: r.id,
  business_id: r.business_id,
  title: r.title,
  contact_id: r.contact_id,
  contact_name: r.contact_name,
  co_borrower_id: r.co_borrower_id,
  co_borrower_name: r.co_borrower_name,
  partner_id: r.partner_id,
  partner_name: r.partner_name,
  amount_cents: Number(r.amount_cents),
  loan_type: r.loan_type,
  loan_purpose: r.loan_purpose,
  rate_percent: r.rate_percent === null ? null : Number(r.rate_percent),
  property_address: r.property_address,
  stage: r.stage,
  expected_close_date: r.expected_close_date,
  milestones: Object.fromEntries(MILESTONES.map((m) => [m, r[`${m}_on`]])) as Milestones,
  position: r.position,
  owner_id: r.owner_id,
  custom: r.custom ?? {},
  created_at: r.created_at,
  updated_at: r.updated_at,
});

async function lockStage(tx: Tx, businessId: string, stage: DealStage): Promise<void> {
  await tx.query(`SELECT pg_advisory_xact_lock(hashtextextended($1 || ':' || $2, 0))`, [businessId, stage]);
}

async function assertContact(tx: Tx, businessId: string, id: string, what: string): Promise<{ kind: string }> {
  const r = await tx.query<{ kind: string }>(
    'SELECT kind FROM app.contacts WHERE business_id = $1 AND id = $2 AND deleted_at IS NULL',
    [businessId, id],
  );
  if (!r.rows[0]) throw notFound(what);
  return r.rows[0];
}

async function assertRefs(tx: Tx, businessId: string, input: DealInput, current?: Deal): Promise<void> {
  if (input.contact_id) await assertContact(tx, businessId, input.contact_id, 'contact');
  if (input.co_borrower_id) await assertContact(tx, businessId, input.co_borrower_id, 'co-borrower');
  if (input.partner_id) {
    const partner = await assertContact(tx, businessId, input.partner_id, 'referral partner');
    if (partner.kind === 'person')
      throw new AppError(
        'validation_failed',
        'The referral partner must be a contact marked as a realtor or partner. Change the contact’s kind first.',
      );
  }
  const borrower = input.contact_id !== undefined ? input.contact_id : (current?.contact_id ?? null);
  const coBorrower = input.co_borrower_id !== undefined ? input.co_borrower_id : (current?.co_borrower_id ?? null);
  if (borrower && borrower === coBorrower)
    throw new AppError('validation_failed', 'The co-borrower must be someone other than the borrower.');
  if (input.owner_id) {
    const r = await tx.query('SELECT 1 FROM app.memberships WHERE business_id = $1 AND user_id = $2', [
      businessId,
      input.owner_id,
    ]);
    if (r.rowCount === 0) throw new AppError('validation_failed', 'owner_id must be a member of this business');
  }
}

export async function getDeal(tx: Tx, businessId: string, id: string): Promise<Deal> {
  const r = await tx.query<DealRow>(`SELECT ${DEAL_COLUMNS} FROM ${DEAL_FROM} WHERE d.business_id = $1 AND d.id = $2`, [
    businessId,
    id,
  ]);
  if (!r.rows[0]) throw notFound('deal');
  return toDeal(r.rows[0]);
}

export async function createDeal(
  tx: Tx,
  businessId: string,
  input: DealInput & { title: string; borrower?: NewBorrower },
): Promise<Deal> {
  const { borrower, ...fields } = input;
  // A new borrower is created in the deal's own transaction: both or neither.
  if (borrower) fields.contact_id = (await createContact(tx, businessId, borrower)).id;
  await assertRefs(tx, businessId, fields);
  const stage = fields.stage ?? 'lead';
  await lockStage(tx, businessId, stage);
  const ms = fields.milestones ?? {};
  const r = await tx.query<{ id: string }>(
    `INSERT INTO app.deals (business_id, title, contact_id, amount_cents, loan_type, stage, expected_close_date, owner_id, position,
                            co_borrower_id, partner_id, property_address, rate_percent, loan_purpose,
                            ${MILESTONES.map((m) => `${m}_on`).join(', ')})
     VALUES ($1, $2, $3, $4, coalesce($5::app.loan_type, 'conventional'), $6, $7::date,
             CASE WHEN $9 THEN $8::uuid ELSE (select app.uid()) END,
             (SELECT count(*) FROM app.deals x WHERE x.business_id = $1 AND x.stage = $6::app.deal_stage),
             $10, $11, $12, $13::numeric, $14::app.loan_purpose,
             ${MILESTONES.map((_, i) => `$${15 + i}::date`).join(', ')})
     RETURNING id`,
    [
      businessId,
      fields.title.trim(),
      fields.contact_id ?? null,
      fields.amount_cents ?? 0,
      fields.loan_type ?? null,
      stage,
      fields.expected_close_date ?? null,
      fields.owner_id ?? null,
      fields.owner_id !== undefined,
      fields.co_borrower_id ?? null,
      fields.partner_id ?? null,
      fields.property_address?.trim() ?? '',
      fields.rate_percent ?? null,
      fields.loan_purpose ?? null,
      ...MILESTONES.map((m) => ms[m] ?? null),
    ],
  );
  await applyCustomPatch(tx, 'deal', businessId, r.rows[0]!.id, input.custom);
  return getDeal(tx, businessId, r.rows[0]!.id);
}

export async function updateDeal(tx: Tx, businessId: string, id: string, input: DealInput): Promise<Deal> {
  const current = await getDeal(tx, businessId, id);
  await assertRefs(tx, businessId, input, current);
  if (input.stage !== undefined && input.stage !== current.stage)
    await moveDeal(tx, businessId, id, { stage: input.stage });
  // Each column is set only when the input names it (null clears a nullable one).
  const params: unknown[] = [businessId, id];
  const sets: string[] = [];
  const set = (column: string, value: unknown, cast = '') => sets.push(`${column} = $${params.push(value)}${cast}`);
  if (input.title !== undefined) set('title', input.title.trim());
  if (input.contact_id !== undefined) set('contact_id', input.contact_id, '::uuid');
  if (input.co_borrower_id !== undefined) set('co_borrower_id', input.co_borrower_id, '::uuid');
  if (input.partner_id !== undefined) set('partner_id', input.partner_id, '::uuid');
  if (input.amount_cents !== undefined) set('amount_cents', input.amount_cents);
  if (input.loan_type !== undefined) set('loan_type', input.loan_type, '::app.loan_type');
  if (input.loan_purpose !== undefined) set('loan_purpose', input.loan_purpose, '::app.loan_purpose');
  if (input.rate_percent !== undefined) set('rate_percent', input.rate_percent, '::numeric');
  if (input.property_address !== undefined) set('property_address', input.property_address.trim());
  if (input.expected_close_date !== undefined) set('expected_close_date', input.expected_close_date, '::date');
  if (input.owner_id !== undefined) set('owner_id', input.owner_id, '::uuid');
  for (const m of MILESTONES) if (input.milestones?.[m] !== undefined) set(`${m}_on`, input.milestones[m], '::date');
  if (sets.length > 0) {
    const r = await tx.query(`UPDATE app.deals SET ${sets.join(', ')} WHERE business_id = $1 AND id = $2`, params);
    if (r.rowCount === 0) throw notFound('deal');
  }
  await applyCustomPatch(tx, 'deal', businessId, id, input.custom);
  return getDeal(tx, businessId, id);
}

/**
 * Move a deal to `stage` (default: its own) at `position` (default: the bottom of the
 * column), closing the gap it leaves and opening one where it lands.
 */
export async function moveDeal(
  tx: Tx,
  businessId: string,
  id: string,
  to: { stage?: DealStage; position?: number },
): Promise<Deal> {
  const deal = await getDeal(tx, businessId, id);
  const stage = to.stage ?? deal.stage;
  // Lock both columns in a fixed order so two opposite moves cannot deadlock. If a
  // concurrent move changed the deal's stage before we held the locks, lock that
  // column too and look again.
  const locked = new Set<DealStage>();
  let current: DealStage = deal.stage;
  let from: { stage: DealStage; position: number };
  for (;;) {
    for (const s of [...new Set([current, stage])].filter((x) => !locked.has(x)).sort()) {
      await lockStage(tx, businessId, s);
      locked.add(s);
    }
    const fresh = await tx.query<{ stage: DealStage; position: number }>(
      'SELECT stage, position FROM app.deals WHERE business_id = $1 AND id = $2 FOR UPDATE',
      [businessId, id],
    );
    if (!fresh.rows[0]) throw notFound('deal');
    from = fresh.rows[0];
    if (locked.has(from.stage)) break;
    current = from.stage;
  }
  await tx.query(
    'UPDATE app.deals SET position = position - 1 WHERE business_id = $1 AND stage = $2 AND position > $3 AND id <> $4',
    [businessId, from.stage, from.position, id],
  );
  const count = await tx.query<{ n: string }>(
    'SELECT count(*) AS n FROM app.deals WHERE business_id = $1 AND stage = $2 AND id <> $3',
    [businessId, stage, id],
  );
  const size = Number(count.rows[0]?.n ?? 0);
  const position = Math.min(Math.max(to.position ?? size, 0), size);
  await tx.query(
    'UPDATE app.deals SET position = position + 1 WHERE business_id = $1 AND stage = $2 AND position >= $3 AND id <> $4',
    [businessId, stage, position, id],
  );
  await tx.query('UPDATE app.deals SET stage = $3, position = $4 WHERE business_id = $1 AND id = $2', [
    businessId,
    id,
    stage,
    position,
  ]);
  return getDeal(tx, businessId, id);
}

export async function deleteDeal(tx: Tx, businessId: string, id: string): Promise<void> {
  await lockStage(tx, businessId, (await getDeal(tx, businessId, id)).stage);
  const r = await tx.query<{ stage: DealStage; position: number }>(
    'DELETE FROM app.deals WHERE business_id = $1 AND id = $2 RETURNING stage, position',
    [businessId, id],
  );
  const gone = r.rows[0];
  if (!gone) throw notFound('deal');
  await tx.query(
    'UPDATE app.deals SET position = position - 1 WHERE business_id = $1 AND stage = $2 AND position > $3',
    [businessId, gone.stage, gone.position],
  );
}

export interface DealQuery {
  limit: number;
  cursor?: string;
  stage?: DealStage;
  contact_id?: string;
  /** deals this contact is part of as borrower, co-borrower or referral partner */
  party_id?: string;
  owner_id?: string;
}

/** Deals in kanban order (stage, then position), keyset-paged. */
export async function listDeals(
  tx: Tx,
  businessId: string,
  query: DealQuery,
): Promise<{ items: Deal[]; next_cursor: string | null }> {
  const params: unknown[] = [businessId];
  const p = (v: unknown) => `$${params.push(v)}`;
  const where = ['d.business_id = $1'];
  if (query.stage) where.push(`d.stage = ${p(query.stage)}::app.deal_stage`);
  if (query.contact_id) where.push(`d.contact_id = ${p(query.contact_id)}::uuid`);
  if (query.party_id) {
    const party = p(query.party_id);
    where.push(`(d.contact_id = ${party}::uuid OR d.co_borrower_id = ${party}::uuid OR d.partner_id = ${party}::uuid)`);
  }
  if (query.owner_id)
    where.push(query.owner_id === 'me' ? 'd.owner_id = (select app.uid())' : `d.owner_id = ${p(query.owner_id)}::uuid`);
  const cursor = decodeCursor(query.cursor, 3);
  if (cursor)
    where.push(
      `(d.stage, d.position, d.id) > (${p(cursor[0])}::app.deal_stage, ${p(cursor[1])}::int, ${p(cursor[2])}::uuid)`,
    );
  const r = await tx.query<DealRow>(
    `SELECT ${DEAL_COLUMNS} FROM ${DEAL_FROM} WHERE ${where.join(' AND ')} ORDER BY d.stage, d.position, d.id LIMIT ${p(query.limit + 1)}`,
    params,
    { prepared: true }, // the pipeline board; one of a bounded set of texts (filters × cursor)
  );
  const out = page(r.rows, query.limit, (row) => [row.stage, row.position, row.id]);
  return { items: out.items.map(toDeal), next_cursor: out.next_cursor };
}

export interface StageChange {
  id: string;
  from_stage: DealStage | null;
  to_stage: DealStage;
  changed_by: string | null;
  changed_at: string;
}

export async function dealStageChanges(tx: Tx, businessId: string, dealId: string): Promise<StageChange[]> {
  await getDeal(tx, businessId, dealId);
  const r = await tx.query<StageChange>(
    // Ordered by the column (s.changed_at), not the written text of the same name, which ties within a millisecond.
    `SELECT s.id, s.from_stage, s.to_stage, s.changed_by, ${isoSql('s.changed_at')} AS changed_at
       FROM app.deal_stage_changes s
      WHERE s.business_id = $1 AND s.deal_id = $2 ORDER BY s.changed_at, s.from_stage NULLS FIRST, s.id`,
    [businessId, dealId],
  );
  return r.rows;
}
