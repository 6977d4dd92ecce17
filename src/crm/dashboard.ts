// The dashboard's numbers (docs/ARCHITECTURE.md §12.2), SQL aggregates run in the
// caller's RLS transaction as one statement: the policies apply exactly as on the lists,
// and every subquery names the business so it walks indexes led by business_id. Months
// and "today" are the business's time zone for money and the viewer's own for her tasks.
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
const BUSINESS_TZ = `(SELECT coalesce(b.time_zone, 'America/New_York') FROM app.businesses b WHERE b.id = $1)`;

interface Row {
  tz: string | null;
  pipeline: { stage: DealStage; count: number; amount: string }[];
  funded: { month: string; count: number; amount: string }[];
  leads: { source: ContactSource; leads: number; applications: number; funded: number }[];
  tasks: { due_today: number; overdue: number };
  unread: number;
  checklist: { contacts: boolean; twilio: boolean; teammate: boolean; deal: boolean };
}

/**
 * ONE statement, one round trip: each figure is a scalar subquery with the plan it had as
 * a statement of its own (each walks an index led by business_id under the same RLS
 * policies). Seven round trips cost more than the queries themselves on a busy host
 * (bench/README.md, dashboard). Amounts travel as text: a sum of cents may pass 2^53.
 */
const DASHBOARD_SQL = `SELECT
  ${BUSINESS_TZ} AS tz,
  -- Per-stage totals are kept by triggers (migration 0073): no walk over every deal.
  (SELECT coalesce(json_agg(json_build_object('stage', t.stage, 'count', t.deal_count, 'amount', t.amount_cents::text)), '[]')
     FROM app.deal_stage_totals t WHERE t.business_id = $1) AS pipeline,
  -- Funded month: the funded milestone (stamped when a deal enters the funded stage), a
  -- range scan on (business_id, funded_on). Grouped by day first, on the index's own
  -- order, so the month is formatted once per day rather than once per deal. The scan's
  -- bound is 13 months back, which the planner can estimate (a bound computed from the
  -- business's time zone by a subquery it cannot, and at 100k deals under RLS it chose
  -- a sequential scan: 228 ms); the exact first month is cut after grouping.
  (SELECT coalesce(json_agg(json_build_object('month', m.month, 'count', m.count, 'amount', m.amount::text)), '[]')
     FROM (SELECT to_char(f.day::timestamp, 'YYYY-MM') AS month, sum(f.n)::int AS count, sum(f.amount) AS amount
             FROM (SELECT d.funded_on AS day, count(*) AS n, sum(d.amount_cents) AS amount
                     FROM app.deals d
                    WHERE d.business_id = $1 AND d.funded_on >= (now() - interval '13 months')::date
                    GROUP BY d.funded_on) f
            WHERE f.day >= (date_trunc('month', now() AT TIME ZONE ${BUSINESS_TZ}) - interval '11 months')::date
            GROUP BY 1) m) AS funded,
  (SELECT coalesce(json_agg(json_build_object('source', s.source, 'leads', s.leads, 'applications', s.applications,
                                              'funded', s.funded)), '[]')
     FROM (WITH l AS (
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
             FROM l LEFT JOIN x ON x.contact_id = l.id GROUP BY l.source) s) AS leads,
  -- My open tasks, against today's bounds in my own time zone, computed once (no per-row
  -- time-zone conversion).
  (SELECT json_build_object(
            'overdue', count(*) FILTER (WHERE t.due_at < now() OR (t.due_at IS NULL AND t.due_date < day.today)),
            'due_today', count(*) FILTER (WHERE (t.due_at >= now() AND t.due_at < day.tomorrow)
                                             OR (t.due_at IS NULL AND t.due_date = day.today)))
     FROM app.tasks t,
          (SELECT (now() AT TIME ZONE z.z)::date AS today,
                  (((now() AT TIME ZONE z.z)::date + 1)::timestamp AT TIME ZONE z.z) AS tomorrow
             FROM (SELECT ${VIEWER_TZ} AS z) z) day
    WHERE t.business_id = $1 AND t.assignee_id = (select app.uid()) AND NOT t.done) AS tasks,
  (SELECT count(*)::int FROM app.conversations WHERE business_id = $1 AND unread_count > 0) AS unread,
  json_build_object(
    'contacts', EXISTS (SELECT 1 FROM app.contacts WHERE business_id = $1 AND deleted_at IS NULL),
    'twilio', EXISTS (SELECT id FROM app.twilio_configs WHERE business_id = $1),
    'teammate', (SELECT count(*) FROM app.memberships WHERE business_id = $1) > 1
                OR EXISTS (SELECT id FROM app.invitations WHERE business_id = $1 AND revoked_at IS NULL),
    'deal', EXISTS (SELECT 1 FROM app.deals WHERE business_id = $1)) AS checklist`;

export async function getDashboard(tx: Tx, businessId: string, days = 30): Promise<Dashboard> {
  const row = (await tx.query<Row>(DASHBOARD_SQL, [businessId, days])).rows[0]!;
  const tz = row.tz ?? 'America/New_York';
  const byStage = new Map(row.pipeline.map((r) => [r.stage, r]));
  const byMonth = new Map(row.funded.map((r) => [r.month, r]));
  const months = lastTwelveMonths(tz);
  const bySource = new Map(row.leads.map((r) => [r.source, r]));
  const check = row.checklist;
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
    tasks: row.tasks,
    unread_conversations: row.unread,
    checklist: { ...check, done: check.contacts && check.twilio && check.teammate && check.deal },
  };
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
