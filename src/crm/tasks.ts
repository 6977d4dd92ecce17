// Tasks: a title, a due date, an assignee (a member of the business), optionally about
// a contact or a deal, and a done state with the time it was done. "My open tasks" is
// `assignee=me, done=false`, served by the (business_id, assignee_id, done, due_date) index.
import type { Tx } from '../db/index.ts';
import { AppError, notFound } from '../shared/errors.ts';
import { decodeCursor, isoSql, page } from './cursor.ts';

export interface Task {
  id: string;
  business_id: string;
  title: string;
  details: string;
  due_date: string | null;
  /** due time (docs/ARCHITECTURE.md §12.1) */
  due_at: string | null;
  /** when the "task due" notification goes out (default: at due_at) */
  remind_at: string | null;
  /** open and past its due time (or, date-only, before today in the viewer's time zone) */
  overdue: boolean;
  assignee_id: string | null;
  contact_id: string | null;
  deal_id: string | null;
  done: boolean;
  done_at: string | null;
  created_by: string | null;
  created_at: string;
  updated_at: string;
}

export interface TaskInput {
  title?: string;
  details?: string;
  due_date?: string | null;
  due_at?: string | null;
  remind_at?: string | null;
  assignee_id?: string | null;
  contact_id?: string | null;
  deal_id?: string | null;
  done?: boolean;
}

/** SQL for a user's own time zone (her notification settings, default America/New_York); `user` is an SQL expression. */
export const userTimeZoneSql = (
  user: string,
) => `(SELECT coalesce(max(CASE WHEN app.is_time_zone(s.time_zone) THEN s.time_zone END),
  'America/New_York') FROM app.notification_settings s WHERE s.user_id = ${user})`;
// The viewer's own time zone, for "today" and due dates.
export const VIEWER_TZ = userTimeZoneSql('(select app.uid())');
const OVERDUE = `coalesce(NOT t.done AND (t.due_at < now()
  OR (t.due_at IS NULL AND t.due_date < (now() AT TIME ZONE ${VIEWER_TZ})::date)), false)`;
// Rows come back in the API's shape: dates and timestamps written by the database (`isoSql`).
const TASK_COLUMNS = `t.id, t.business_id, t.title, t.details, to_char(t.due_date, 'YYYY-MM-DD') AS due_date,
  ${isoSql('t.due_at')} AS due_at, ${isoSql('t.remind_at')} AS remind_at, ${OVERDUE} AS overdue, t.assignee_id,
  t.contact_id, t.deal_id, t.done, ${isoSql('t.done_at')} AS done_at, t.created_by,
  ${isoSql('t.created_at')} AS created_at, ${isoSql('t.updated_at')} AS updated_at`;

async function assertRefs(tx: Tx, businessId: string, input: TaskInput): Promise<void> {
  if (input.assignee_id) {
    const r = await tx.query('SELECT 1 FROM app.memberships WHERE business_id = $1 AND user_id = $2', [
      businessId,
      input.assignee_id,
    ]);
    if (r.rowCount === 0) throw new AppError('validation_failed', 'assignee_id must be a member of this business');
  }
  if (input.contact_id) {
    const r = await tx.query('SELECT 1 FROM app.contacts WHERE business_id = $1 AND id = $2', [
      businessId,
      input.contact_id,
    ]);
    if (r.rowCount === 0) throw notFound('contact');
  }
  if (input.deal_id) {
    const r = await tx.query('SELECT 1 FROM app.deals WHERE business_id = $1 AND id = $2', [businessId, input.deal_id]);
    if (r.rowCount === 0) throw notFound('deal');
  }
}

export async function getTask(tx: Tx, businessId: string, id: string): Promise<Task> {
  const r = await tx.query<Task>(`SELECT ${TASK_COLUMNS} FROM app.tasks t WHERE t.business_id = $1 AND t.id = $2`, [
    businessId,
    id,
  ]);
  if (!r.rows[0]) throw notFound('task');
  return r.rows[0];
}

export async function createTask(tx: Tx, businessId: string, input: TaskInput & { title: string }): Promise<Task> {
  await assertRefs(tx, businessId, input);
  const r = await tx.query<Task>(
    `INSERT INTO app.tasks AS t (business_id, title, details, due_date, assignee_id, contact_id, deal_id, done, done_at, created_by,
       due_at, remind_at)
     VALUES ($1, $2, $3, coalesce($4::date, ($10::timestamptz AT TIME ZONE ${VIEWER_TZ})::date),
             CASE WHEN $9 THEN $5::uuid ELSE (select app.uid()) END, $6, $7, $8,
             CASE WHEN $8 THEN now() END, (select app.uid()), $10::timestamptz, $11::timestamptz)
     RETURNING ${TASK_COLUMNS}`,
    [
      businessId,
      input.title.trim(),
      input.details ?? '',
      input.due_date ?? null,
      input.assignee_id ?? null,
      input.contact_id ?? null,
      input.deal_id ?? null,
      input.done ?? false,
      input.assignee_id !== undefined,
      input.due_at ?? null,
      input.remind_at ?? null,
    ],
  );
  return r.rows[0]!;
}

export async function updateTask(tx: Tx, businessId: string, id: string, input: TaskInput): Promise<Task> {
  await assertRefs(tx, businessId, input);
  const r = await tx.query<Task>(
    `UPDATE app.tasks t SET
       title = coalesce($3, t.title),
       details = coalesce($4, t.details),
       due_date = CASE WHEN $5 THEN $6::date
                       WHEN $14 AND $15::timestamptz IS NOT NULL THEN ($15::timestamptz AT TIME ZONE ${VIEWER_TZ})::date
                       ELSE t.due_date END,
       due_at = CASE WHEN $14 THEN $15::timestamptz ELSE t.due_at END,
       remind_at = CASE WHEN $16 THEN $17::timestamptz ELSE t.remind_at END,
       assignee_id = CASE WHEN $7 THEN $8::uuid ELSE t.assignee_id END,
       contact_id = CASE WHEN $9 THEN $10::uuid ELSE t.contact_id END,
       deal_id = CASE WHEN $11 THEN $12::uuid ELSE t.deal_id END,
       done = coalesce($13, t.done),
       done_at = CASE WHEN $13 IS NULL OR $13 = t.done THEN t.done_at WHEN $13 THEN now() ELSE NULL END
     WHERE t.business_id = $1 AND t.id = $2 RETURNING ${TASK_COLUMNS}`,
    [
      businessId,
      id,
      input.title?.trim() ?? null,
      input.details ?? null,
      input.due_date !== undefined,
      input.due_date ?? null,
      input.assignee_id !== undefined,
      input.assignee_id ?? null,
      input.contact_id !== undefined,
      input.contact_id ?? null,
      input.deal_id !== undefined,
      input.deal_id ?? null,
      input.done ?? null,
      input.due_at !== undefined,
      input.due_at ?? null,
      input.remind_at !== undefined,
      input.remind_at ?? null,
    ],
  );
  if (!r.rows[0]) throw notFound('task');
  return r.rows[0];
}

export async function deleteTask(tx: Tx, businessId: string, id: string): Promise<void> {
  const r = await tx.query('DELETE FROM app.tasks WHERE business_id = $1 AND id = $2', [businessId, id]);
  if (r.rowCount === 0) throw notFound('task');
}

export interface TaskQuery {
  limit: number;
  cursor?: string;
  assignee?: string;
  done?: boolean;
  contact_id?: string;
  deal_id?: string;
}

/** Tasks by due date (undated last), then id; keyset-paged. */
export async function listTasks(
  tx: Tx,
  businessId: string,
  query: TaskQuery,
): Promise<{ items: Task[]; next_cursor: string | null }> {
  const params: unknown[] = [businessId];
  const p = (v: unknown) => `$${params.push(v)}`;
  const where = ['t.business_id = $1'];
  if (query.assignee)
    where.push(
      query.assignee === 'me' ? 't.assignee_id = (select app.uid())' : `t.assignee_id = ${p(query.assignee)}::uuid`,
    );
  if (query.done !== undefined) where.push(`t.done = ${p(query.done)}`);
  if (query.contact_id) where.push(`t.contact_id = ${p(query.contact_id)}::uuid`);
  if (query.deal_id) where.push(`t.deal_id = ${p(query.deal_id)}::uuid`);
  // 'infinity' stands in for "no due date" so the key is a total order.
  const dueKey = `coalesce(t.due_date, 'infinity'::date)`;
  const cursor = decodeCursor(query.cursor, 2);
  if (cursor) where.push(`(${dueKey}, t.id) > (${p(cursor[0])}::date, ${p(cursor[1])}::uuid)`);
  const r = await tx.query<Task & { k: string }>(
    `SELECT ${TASK_COLUMNS}, ${dueKey}::text AS k FROM app.tasks t WHERE ${where.join(' AND ')}
      ORDER BY ${dueKey}, t.id LIMIT ${p(query.limit + 1)}`,
    params,
    { prepared: true }, // "my open tasks" on the dashboard; a bounded set of texts (filters × cursor)
  );
  const out = page(r.rows, query.limit, (row) => [row.k, row.id]);
  return { items: out.items.map(({ k: _k, ...row }) => row), next_cursor: out.next_cursor };
}
