// The dashboard's numbers (docs/ARCHITECTURE.md §12.2), each one SQL aggregate run
// in the caller's RLS transaction: the policies apply exactly as on the lists, and
// every query names the business so it walks indexes led by business_id. Months and
// "today" are the business's time zone for money and the viewer's own for her tasks.
import type { Tx } from '../db/index.ts';
import { DEAL_STAGES, type DealStage } from './deals.ts';
import { CONTACT_SOURCES, type ContactSource } from './contact-fields.ts';
import { VIEWER_TZ } from './tasks.ts';

export interface Dashboard {
  time_zone: string;
  pipeline: { stage: DealStage; count: number; amount_cents: number }[];
  funded_by_month: { month: string; count: number; amount_cents: number }[];
  leads: { days: number; by_source: { source: ContactSource; leads: number; applications: number; funded: number }[] };
  tasks: { due_today: number; overdue: number };
  unread_conversations: number;
  checklist: { contacts: boolean; twilio: boolean; teammate: boolean; deal: boolean; done: boolean };
}

// Deals past the lead stage (or with an application date) count as applications.
const APPLIED = `(d.stage IN ('application', 'processing', 'underwriting', 'clear_to_close', 'funded')
  OR d.application_on IS NOT NULL)`;

export async function getDashboard(tx: Tx, businessId: string, days = 30): Promise<Dashboard> {
  const tzRow = await tx.query<{ tz: string }>('SELECT time_zone AS tz FROM app.businesses WHERE id = $1', [
    businessId,
  ]);
  const tz = tzRow.rows[0]?.tz ?? 'America/New_York';
  // One statement after another: a connection runs one query at a time (pg deprecates queuing).
  const [pipeline, funded, leads, tasks, unread, checklist] = await sequence([
    // Per-stage totals are kept by triggers (migration 0073): no walk over every deal.
    () =>
      tx.query<{ stage: DealStage; count: number; amount: string }>(
        `SELECT t.stage, t.deal_count::int AS count, t.amount_cents::text AS amount
           FROM app.deal_stage_totals t WHERE t.business_id = $1`,
        [businessId],
      ),
    // Funded month: the funded milestone (stamped when a deal enters the funded stage), a
    // range scan on (business_id, funded_on).
    () =>
      tx.query<{ month: string; count: number; amount: string }>(
        `SELECT to_char(date_trunc('month', d.funded_on), 'YYYY-MM') AS month, count(*)::int AS count,
                sum(d.amount_cents)::text AS amount
           FROM app.deals d
          WHERE d.business_id = $1 AND d.funded_on >= (date_trunc('month', now() AT TIME ZONE $2) - interval '11 months')::date
          GROUP BY 1`,
        [businessId, tz],
      ),
    () =>
      tx.query<{ source: ContactSource; leads: number; applications: number; funded: number }>(
        `WITH l AS (
         SELECT c.id, c.source FROM app.contacts c
          WHERE c.business_id = $1 AND c.deleted_at IS NULL AND c.created_at >= now() - make_interval(days => $2)
       ), x AS (
         SELECT d.contact_id, bool_or(${APPLIED}) AS applied, bool_or(d.stage = 'funded') AS funded
           FROM app.deals d
          WHERE d.business_id = $1 AND d.contact_id IS NOT NULL AND d.created_at >= now() - make_interval(days => $2)
          GROUP BY d.contact_id
       )
       SELECT l.source, count(*)::int AS leads, count(*) FILTER (WHERE x.applied)::int AS applications,
              count(*) FILTER (WHERE x.funded)::int AS funded
         FROM l LEFT JOIN x ON x.contact_id = l.id GROUP BY l.source`,
        [businessId, days],
      ),
    () =>
      tx.query<{ due_today: number; overdue: number }>(
        `WITH tz AS (SELECT ${VIEWER_TZ} AS z), today AS (SELECT (now() AT TIME ZONE tz.z)::date AS d, tz.z FROM tz)
       SELECT count(*) FILTER (WHERE t.due_at < now() OR (t.due_at IS NULL AND t.due_date < today.d))::int AS overdue,
              count(*) FILTER (WHERE (t.due_at >= now() AND (t.due_at AT TIME ZONE today.z)::date = today.d)
                                  OR (t.due_at IS NULL AND t.due_date = today.d))::int AS due_today
         FROM app.tasks t, today
        WHERE t.business_id = $1 AND t.assignee_id = (select app.uid()) AND NOT t.done`,
        [businessId],
      ),
    () =>
      tx.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM app.conversations WHERE business_id = $1 AND unread_count > 0',
        [businessId],
      ),
    () =>
      tx.query<{ contacts: boolean; twilio: boolean; teammate: boolean; deal: boolean }>(
        `SELECT EXISTS (SELECT 1 FROM app.contacts WHERE business_id = $1 AND deleted_at IS NULL) AS contacts,
              EXISTS (SELECT id FROM app.twilio_configs WHERE business_id = $1) AS twilio,
              (SELECT count(*) FROM app.memberships WHERE business_id = $1) > 1
                OR EXISTS (SELECT id FROM app.invitations WHERE business_id = $1 AND revoked_at IS NULL) AS teammate,
              EXISTS (SELECT 1 FROM app.deals WHERE business_id = $1) AS deal`,
        [businessId],
      ),
  ]);

  const byStage = new Map(pipeline.rows.map((r) => [r.stage, r]));
  const byMonth = new Map(funded.rows.map((r) => [r.month, r]));
  const months = lastTwelveMonths(tz);
  const bySource = new Map(leads.rows.map((r) => [r.source, r]));
  const check = checklist.rows[0]!;
  return {
    time_zone: tz,
    pipeline: DEAL_STAGES.map((stage) => ({
      stage,
      count: byStage.get(stage)?.count ?? 0,
      amount_cents: Number(byStage.get(stage)?.amount ?? 0),
    })),
    funded_by_month: months.map((month) => ({
      month,
      count: byMonth.get(month)?.count ?? 0,
      amount_cents: Number(byMonth.get(month)?.amount ?? 0),
    })),
    leads: {
      days,
      by_source: CONTACT_SOURCES.filter((s) => bySource.has(s)).map((source) => {
        const r = bySource.get(source)!;
        return { source, leads: r.leads, applications: r.applications, funded: r.funded };
      }),
    },
    tasks: tasks.rows[0] ?? { due_today: 0, overdue: 0 },
    unread_conversations: unread.rows[0]?.n ?? 0,
    checklist: { ...check, done: check.contacts && check.twilio && check.teammate && check.deal },
  };
}

type Thunks<T extends unknown[]> = { [K in keyof T]: () => Promise<T[K]> };
async function sequence<T extends unknown[]>(steps: Thunks<T>): Promise<T> {
  const out: unknown[] = [];
  for (const step of steps as (() => Promise<unknown>)[]) out.push(await step());
  return out as T;
}

/** 'YYYY-MM' of this month and the eleven before it, in `tz`, oldest first. */
export function lastTwelveMonths(tz: string, now = new Date()): string[] {
  const [y, m] = new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit' })
    .format(now)
    .split('-')
    .map(Number) as [number, number];
  return Array.from({ length: 12 }, (_, i) => {
    const d = new Date(Date.UTC(y, m - 1 - (11 - i), 1));
    return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
  });
}
