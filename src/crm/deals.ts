// The loan pipeline: deals with an amount in cents, a loan type and a stage, ordered
// within their stage's kanban column by `position` (kept dense: 0..n-1). Stage changes
// are recorded by a trigger in the database (app.record_deal_stage_change), whoever
// makes them; moves take a per-stage advisory lock so two concurrent drags cannot
// hand out the same position.
import type { Tx } from '../db/index.ts';
import { AppError, notFound } from '../shared/errors.ts';
import { decodeCursor, iso, page } from './cursor.ts';

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
export type DealStage = (typeof DEAL_STAGES)[number];
export type LoanType = (typeof LOAN_TYPES)[number];
export const MAX_AMOUNT_CENTS = 100_000_000_000_000;

export interface Deal {
  id: string;
  business_id: string;
  title: string;
  contact_id: string | null;
  amount_cents: number;
  loan_type: LoanType;
  stage: DealStage;
  expected_close_date: string | null;
  position: number;
  owner_id: string | null;
  created_at: string;
  updated_at: string;
}

export interface DealInput {
  title?: string;
  contact_id?: string | null;
  amount_cents?: number;
  loan_type?: LoanType;
  stage?: DealStage;
  expected_close_date?: string | null;
  owner_id?: string | null;
}

const DEAL_COLUMNS = `d.id, d.business_id, d.title, d.contact_id, d.amount_cents::text AS amount_cents, d.loan_type, d.stage,
  to_char(d.expected_close_date, 'YYYY-MM-DD') AS expected_close_date, d.position, d.owner_id, d.created_at, d.updated_at`;

type DealRow = Omit<Deal, 'amount_cents' | 'created_at' | 'updated_at'> & {
  amount_cents: string;
  created_at: Date;
  updated_at: Date;
};

const toDeal = (r: DealRow): Deal => ({
  id: r.id,
  business_id: r.business_id,
  title: r.title,
  contact_id: r.contact_id,
  amount_cents: Number(r.amount_cents),
  loan_type: r.loan_type,
  stage: r.stage,
  expected_close_date: r.expected_close_date,
  position: r.position,
  owner_id: r.owner_id,
  created_at: iso(r.created_at)!,
  updated_at: iso(r.updated_at)!,
});

async function lockStage(tx: Tx, businessId: string, stage: DealStage): Promise<void> {
  await tx.query(`SELECT pg_advisory_xact_lock(hashtextextended($1 || ':' || $2, 0))`, [businessId, stage]);
}

async function assertRefs(tx: Tx, businessId: string, input: DealInput): Promise<void> {
  if (input.contact_id) {
    const r = await tx.query('SELECT 1 FROM app.contacts WHERE business_id = $1 AND id = $2 AND deleted_at IS NULL', [
      businessId,
      input.contact_id,
    ]);
    if (r.rowCount === 0) throw notFound('contact');
  }
  if (input.owner_id) {
    const r = await tx.query('SELECT 1 FROM app.memberships WHERE business_id = $1 AND user_id = $2', [
      businessId,
      input.owner_id,
    ]);
    if (r.rowCount === 0) throw new AppError('validation_failed', 'owner_id must be a member of this business');
  }
}

export async function getDeal(tx: Tx, businessId: string, id: string): Promise<Deal> {
  const r = await tx.query<DealRow>(`SELECT ${DEAL_COLUMNS} FROM app.deals d WHERE d.business_id = $1 AND d.id = $2`, [
    businessId,
    id,
  ]);
  if (!r.rows[0]) throw notFound('deal');
  return toDeal(r.rows[0]);
}

export async function createDeal(tx: Tx, businessId: string, input: DealInput & { title: string }): Promise<Deal> {
  await assertRefs(tx, businessId, input);
  const stage = input.stage ?? 'lead';
  await lockStage(tx, businessId, stage);
  const r = await tx.query<DealRow>(
    `INSERT INTO app.deals AS d (business_id, title, contact_id, amount_cents, loan_type, stage, expected_close_date, owner_id, position)
     VALUES ($1, $2, $3, $4, coalesce($5::app.loan_type, 'conventional'), $6, $7::date,
             CASE WHEN $9 THEN $8::uuid ELSE (select app.uid()) END,
             (SELECT count(*) FROM app.deals x WHERE x.business_id = $1 AND x.stage = $6::app.deal_stage))
     RETURNING ${DEAL_COLUMNS}`,
    [
      businessId,
      input.title.trim(),
      input.contact_id ?? null,
      input.amount_cents ?? 0,
      input.loan_type ?? null,
      stage,
      input.expected_close_date ?? null,
      input.owner_id ?? null,
      input.owner_id !== undefined,
    ],
  );
  return toDeal(r.rows[0]!);
}

export async function updateDeal(tx: Tx, businessId: string, id: string, input: DealInput): Promise<Deal> {
  const current = await getDeal(tx, businessId, id);
  await assertRefs(tx, businessId, input);
  if (input.stage !== undefined && input.stage !== current.stage)
    await moveDeal(tx, businessId, id, { stage: input.stage });
  const r = await tx.query(
    `UPDATE app.deals SET
       title = coalesce($3, title),
       contact_id = CASE WHEN $4 THEN $5::uuid ELSE contact_id END,
       amount_cents = coalesce($6, amount_cents),
       loan_type = coalesce($7::app.loan_type, loan_type),
       expected_close_date = CASE WHEN $8 THEN $9::date ELSE expected_close_date END,
       owner_id = CASE WHEN $10 THEN $11::uuid ELSE owner_id END
     WHERE business_id = $1 AND id = $2`,
    [
      businessId,
      id,
      input.title?.trim() ?? null,
      input.contact_id !== undefined,
      input.contact_id ?? null,
      input.amount_cents ?? null,
      input.loan_type ?? null,
      input.expected_close_date !== undefined,
      input.expected_close_date ?? null,
      input.owner_id !== undefined,
      input.owner_id ?? null,
    ],
  );
  if (r.rowCount === 0) throw notFound('deal');
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
  if (query.owner_id)
    where.push(query.owner_id === 'me' ? 'd.owner_id = (select app.uid())' : `d.owner_id = ${p(query.owner_id)}::uuid`);
  const cursor = decodeCursor(query.cursor, 3);
  if (cursor)
    where.push(
      `(d.stage, d.position, d.id) > (${p(cursor[0])}::app.deal_stage, ${p(cursor[1])}::int, ${p(cursor[2])}::uuid)`,
    );
  const r = await tx.query<DealRow>(
    `SELECT ${DEAL_COLUMNS} FROM app.deals d WHERE ${where.join(' AND ')} ORDER BY d.stage, d.position, d.id LIMIT ${p(query.limit + 1)}`,
    params,
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
  const r = await tx.query<Omit<StageChange, 'changed_at'> & { changed_at: Date }>(
    `SELECT id, from_stage, to_stage, changed_by, changed_at FROM app.deal_stage_changes
      WHERE business_id = $1 AND deal_id = $2 ORDER BY changed_at, from_stage NULLS FIRST, id`,
    [businessId, dealId],
  );
  return r.rows.map((x) => ({ ...x, changed_at: iso(x.changed_at)! }));
}
