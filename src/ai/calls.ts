// Limits and records of model calls (docs/ARCHITECTURE.md §23). Each call is admitted
// in a capto_service transaction holding the business's advisory lock, so concurrent
// requests are admitted one at a time against the same numbers:
//   * the AI switch is on and a provider is configured;
//   * the user has made fewer than `perMinute` calls in the last 60 s (429 rate_limited);
//   * the month's tokens — finished calls at their real usage, in-flight calls at their
//     reservation (prompt estimate + max output) — leave room for this reservation; or,
//     when nothing is in flight, anything is left at all. So a budget is overspent by at
//     most one call's tokens, however many requests race (429 ai_budget_exhausted).
// The admitted row ('pending', reserved tokens) is finished with the provider's usage,
// latency and outcome — never the prompt or the output.
import type { Tx } from '../db/index.ts';
import { AppError } from '../shared/errors.ts';
import type { CallOutcome } from './provider-client.ts';

export type AiFeature = 'suggest_reply' | 'summary' | 'intent' | 'draft' | 'verify' | 'review_reply';

export const DEFAULT_MONTHLY_BUDGET = 1_000_000;
/** A pending row older than this is a call whose process died: it no longer counts as in flight. */
const STALE_PENDING = `interval '10 minutes'`;

export interface Admission {
  callId: string;
  startedAt: number;
}

export async function admitCall(
  tx: Tx,
  input: {
    businessId: string;
    userId: string | null;
    feature: AiFeature;
    model: string;
    reserveTokens: number;
    perMinute: number;
  },
): Promise<Admission> {
  await tx.query(`SELECT pg_advisory_xact_lock(hashtextextended('capto.ai:' || $1::text, 0))`, [input.businessId]);
  const s = await tx.query<{ enabled: boolean; budget: string }>(
    'SELECT b.ai_enabled AS enabled, b.ai_monthly_token_budget::text AS budget FROM app.businesses b WHERE b.id = $1',
    [input.businessId],
  );
  if (s.rows[0]?.enabled !== true) {
    throw new AppError('ai_disabled', 'AI assistance is turned off for this business (Settings → Integrations)');
  }
  if (input.userId) {
    const rate = await tx.query<{ n: string; retry: number | null }>(
      `SELECT count(*)::text AS n,
              ceil(extract(epoch FROM (min(started_at) + interval '60 seconds' - now())))::int AS retry
         FROM app.ai_calls
        WHERE business_id = $1 AND user_id = $2 AND started_at > now() - interval '60 seconds'`,
      [input.businessId, input.userId],
    );
    if (Number(rate.rows[0]!.n) >= input.perMinute) {
      const retryAfter = Math.max(1, rate.rows[0]!.retry ?? 60);
      throw new AppError('rate_limited', `too many AI requests; try again in ${retryAfter} s`, {
        details: { retry_after: retryAfter },
      });
    }
  }
  const used = await tx.query<{ committed: string; inflight: string; next_month: number }>(
    `SELECT coalesce(sum(CASE WHEN outcome = 'pending' AND started_at > now() - ${STALE_PENDING} THEN reserved_tokens
                              ELSE tokens_in + tokens_out END), 0)::text AS committed,
            count(*) FILTER (WHERE outcome = 'pending' AND started_at > now() - ${STALE_PENDING})::text AS inflight,
            ceil(extract(epoch FROM (date_trunc('month', now() AT TIME ZONE 'UTC') + interval '1 month')
                 - (now() AT TIME ZONE 'UTC')))::int AS next_month
       FROM app.ai_calls
      WHERE business_id = $1 AND started_at >= (date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')`,
    [input.businessId],
  );
  const budget = Number(s.rows[0]!.budget);
  const committed = Number(used.rows[0]!.committed);
  const inflight = Number(used.rows[0]!.inflight);
  const fits = committed + input.reserveTokens <= budget;
  const lastCall = inflight === 0 && committed < budget;
  if (!fits && !lastCall) {
    const exhausted = committed >= budget;
    const retryAfter = exhausted ? Math.max(1, used.rows[0]!.next_month) : 5;
    throw new AppError(
      'ai_budget_exhausted',
      exhausted
        ? "this month's AI token budget is used up; an admin can raise it in Settings"
        : "this month's AI token budget is nearly used up; try again when the running requests finish",
      { details: { retry_after: retryAfter } },
    );
  }
  const r = await tx.query<{ id: string }>(
    `INSERT INTO app.ai_calls (business_id, user_id, feature, model, reserved_tokens) VALUES ($1, $2, $3, $4, $5)
     RETURNING id`,
    [input.businessId, input.userId, input.feature, input.model.slice(0, 200), input.reserveTokens],
  );
  return { callId: r.rows[0]!.id, startedAt: performance.now() };
}

export async function finishCall(
  tx: Tx,
  admission: Admission,
  result: { outcome: CallOutcome; tokensIn?: number; tokensOut?: number },
): Promise<void> {
  await tx.query(
    `UPDATE app.ai_calls SET outcome = $2, tokens_in = $3, tokens_out = $4, latency_ms = $5, finished_at = now()
      WHERE id = $1 AND outcome = 'pending'`,
    [
      admission.callId,
      result.outcome,
      Math.max(0, Math.round(result.tokensIn ?? 0)),
      Math.max(0, Math.round(result.tokensOut ?? 0)),
      Math.max(0, Math.round(performance.now() - admission.startedAt)),
    ],
  );
}

export interface UsageSummary {
  month: string;
  scope: 'business' | 'own';
  monthly_token_budget: number;
  business_tokens_used: number | null;
  calls: number;
  tokens_in: number;
  tokens_out: number;
  by_feature: Array<{
    feature: AiFeature;
    calls: number;
    tokens_in: number;
    tokens_out: number;
    errors: number;
    avg_latency_ms: number | null;
  }>;
}

/**
 * The month's usage as the caller may see it (as the caller: RLS shows owners/admins
 * every row of the business, members their own).
 */
export async function usageSummary(tx: Tx, businessId: string, month?: string): Promise<UsageSummary> {
  const start = month ? `${month}-01` : null;
  const r = await tx.query<{
    month: string;
    feature: AiFeature;
    calls: string;
    tokens_in: string;
    tokens_out: string;
    errors: string;
    avg_latency_ms: number | null;
  }>(
    `WITH bounds AS (
       SELECT coalesce($2::date, date_trunc('month', now() AT TIME ZONE 'UTC')::date) AS m)
     SELECT to_char(b.m, 'YYYY-MM') AS month, c.feature, count(c.id)::text AS calls,
            coalesce(sum(c.tokens_in), 0)::text AS tokens_in, coalesce(sum(c.tokens_out), 0)::text AS tokens_out,
            count(c.id) FILTER (WHERE c.outcome NOT IN ('ok', 'pending'))::text AS errors,
            round(avg(c.latency_ms))::int AS avg_latency_ms
       FROM bounds b LEFT JOIN app.ai_calls c
         ON c.business_id = $1
        AND c.started_at >= (b.m::timestamp AT TIME ZONE 'UTC')
        AND c.started_at < ((b.m + interval '1 month')::timestamp AT TIME ZONE 'UTC')
      GROUP BY b.m, c.feature ORDER BY c.feature`,
    [businessId, start],
  );
  const role = await tx.query<{ admin: boolean; budget: string }>(
    `SELECT app.has_role($1, 'admin') AS admin,
            (SELECT b.ai_monthly_token_budget FROM app.businesses b WHERE b.id = $1)::text AS budget`,
    [businessId],
  );
  const rows = r.rows.filter((x) => x.feature !== null);
  const by_feature = rows.map((x) => ({
    feature: x.feature,
    calls: Number(x.calls),
    tokens_in: Number(x.tokens_in),
    tokens_out: Number(x.tokens_out),
    errors: Number(x.errors),
    avg_latency_ms: x.avg_latency_ms,
  }));
  const sum = (k: 'calls' | 'tokens_in' | 'tokens_out') => by_feature.reduce((a, f) => a + f[k], 0);
  const admin = role.rows[0]?.admin === true;
  return {
    month: r.rows[0]?.month ?? month ?? '',
    scope: admin ? 'business' : 'own',
    monthly_token_budget: Number(role.rows[0]?.budget ?? DEFAULT_MONTHLY_BUDGET),
    business_tokens_used: admin ? sum('tokens_in') + sum('tokens_out') : null,
    calls: sum('calls'),
    tokens_in: sum('tokens_in'),
    tokens_out: sum('tokens_out'),
    by_feature,
  };
}
