// The scheduler (docs/ARCHITECTURE.md §25): runs due enrollments one step at a time. Each step
// is ONE service transaction that locks the enrollment (`FOR UPDATE SKIP LOCKED`, so nodes and
// workers never take the same one), checks the exit rules, does the step's writes (a text is
// an outbox row) and moves the enrollment on. Commit = the step happened exactly once; a crash
// before it = nothing happened, and the next run does it. `now` is a parameter, so tests drive
// a clock instead of waiting.
import type { AssistDeps } from '../ai/assist.ts';
import { composeDraft, insertDraft } from '../ai/drafts.ts';
import type { Database, Tx } from '../db/index.ts';
import type { Logger } from '../observability/logger.ts';
import { AppError } from '../shared/errors.ts';
import { parseStoredDefinition, type Definition } from './definition.ts';
import { runStep, type Claimed, type StepOutcome } from './steps.ts';

export interface SchedulerDeps {
  db: Database;
  logger: Pick<Logger, 'warn' | 'error'>;
  /** [start, end) local hours for texts (CAPTO_SMS_QUIET_HOURS); null = none. */
  smsWindow: readonly [number, number] | null;
  /** Wakes outbox delivery after a step's commit (a lost nudge waits for the outbox sweep). */
  notifyOutbox(m: { id: string; businessId: string }): Promise<void>;
  /**
   * The model calls of draft_ai_reply (without: that step is skipped). `leaseMs` holds the
   * enrollment while its model call runs outside any transaction: longer than the call's timeout.
   */
  ai?: { assist: AssistDeps; leaseMs: number };
}

interface Row extends Claimed {
  definition: unknown;
  contact_deleted: boolean;
  opted_out: boolean;
  replied: boolean;
  deal_stage: string | null;
}

// The enrollment, locked, with everything the exit rules and steps read, in one statement.
// The due row is picked and locked first, from the enrollments alone (the partial index on
// next_run_at, or a sort of the due rows), and only then joined to what it reads: planned as
// one join, a business whose thousands of rows were just enrolled — no statistics yet — got
// nested loops over all its contacts per due row (6–7 s per claim). The enrollment's own
// columns come out of the locking CTE and are never read again: a row another run moved on
// and committed after this statement's snapshot is locked in its NEW version (READ COMMITTED
// re-checks it), while a second read of the table would see the old one — its step already
// done — and run that step again (the crash test caught exactly that).
const CLAIM_SQL = `
  WITH e AS (
    SELECT e.id, e.business_id, e.automation_id, e.version, e.contact_id, e.deal_id, e.step_index,
           e.enrolled_at, e.next_run_at
      FROM app.automation_enrollments e
     WHERE e.state = 'active' AND e.next_run_at <= $1 AND ($2::uuid IS NULL OR e.id = $2)
       AND EXISTS (SELECT 1 FROM app.automations a
                    WHERE a.business_id = e.business_id AND a.id = e.automation_id AND a.status = 'active')
     ORDER BY e.next_run_at
     LIMIT 1
     FOR UPDATE OF e SKIP LOCKED)
  SELECT e.id, e.business_id, e.automation_id, e.contact_id, e.deal_id, e.step_index, e.enrolled_at,
         v.definition, a.created_by AS automation_created_by, a.name AS automation_name, b.time_zone,
         c.owner_id AS contact_owner_id, c.phone AS contact_phone, c.email::text AS contact_email,
         c.status::text AS contact_status, btrim(c.first_name || ' ' || c.last_name) AS contact_name,
         c.deleted_at IS NOT NULL AS contact_deleted,
         (EXISTS (SELECT 1 FROM app.sms_opt_outs o WHERE o.business_id = e.business_id AND o.contact_id = e.contact_id)
          OR EXISTS (SELECT 1 FROM app.email_suppressions s WHERE s.business_id = e.business_id
                      AND s.email = lower(c.email::text) AND s.reason = 'unsubscribed')) AS opted_out,
         EXISTS (SELECT 1 FROM app.conversations cv JOIN app.messages m
                    ON m.business_id = cv.business_id AND m.conversation_id = cv.id
                  WHERE cv.business_id = e.business_id AND cv.contact_id = e.contact_id
                    AND m.direction = 'inbound' AND m.created_at > e.enrolled_at) AS replied,
         (SELECT d.stage::text FROM app.deals d WHERE d.business_id = e.business_id AND d.id = e.deal_id) AS deal_stage
    FROM e
    JOIN app.automation_versions v
      ON v.business_id = e.business_id AND v.automation_id = e.automation_id AND v.version = e.version
    JOIN app.automations a ON a.business_id = e.business_id AND a.id = e.automation_id
    JOIN app.businesses b ON b.id = e.business_id
    JOIN app.contacts c ON c.business_id = e.business_id AND c.id = e.contact_id`;

type ExitReason = 'replied' | 'opted_out' | 'contact_deleted' | 'deal_left_stage' | 'deal_deleted';

function exitReason(r: Row, def: Definition): ExitReason | undefined {
  if (r.contact_deleted) return 'contact_deleted';
  if (def.exit.on_opt_out && r.opted_out) return 'opted_out';
  if (def.exit.on_reply && r.replied) return 'replied';
  if (def.exit.on_deal_stage_change && def.trigger.type === 'deal_stage_changed') {
    if (!r.deal_id) return 'deal_deleted';
    if (def.trigger.to && r.deal_stage !== def.trigger.to) return 'deal_left_stage';
  }
  return undefined;
}

async function event(
  tx: Tx,
  r: Pick<Row, 'business_id' | 'id' | 'contact_id'>,
  kind: 'step_done' | 'step_skipped' | 'completed' | 'exited' | 'failed',
  step?: { index: number; type: string },
  details: Record<string, unknown> = {},
): Promise<void> {
  await tx.query(
    // clock_timestamp: a step's event and the run's end share a transaction, and keep their order.
    `INSERT INTO app.automation_enrollment_events
       (business_id, enrollment_id, contact_id, kind, step_index, step_type, details, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, clock_timestamp())`,
    [r.business_id, r.id, r.contact_id, kind, step?.index ?? null, step?.type ?? null, details],
  );
}

async function finish(
  tx: Tx,
  r: Row,
  state: 'completed' | 'exited' | 'failed',
  extra: { exit_reason?: ExitReason; error_code?: string; step_index?: number } = {},
): Promise<void> {
  await tx.query(
    `UPDATE app.automation_enrollments
        SET state = $2, exit_reason = $3, error_code = $4, step_index = $5, finished_at = now()
      WHERE id = $1`,
    [r.id, state, extra.exit_reason ?? null, extra.error_code ?? null, extra.step_index ?? r.step_index],
  );
  const details = extra.exit_reason
    ? { reason: extra.exit_reason }
    : extra.error_code
      ? { code: extra.error_code }
      : {};
  await event(tx, r, state, undefined, details);
}

/** Record a step done or skipped and move on: the next step (now, or after a wait), or the end. */
async function advance(
  tx: Tx,
  r: Row,
  def: Definition,
  at: { index: number; type: string },
  outcome: Extract<StepOutcome, { kind: 'done' | 'skipped' }>,
  now: Date,
): Promise<void> {
  await event(
    tx,
    r,
    outcome.kind === 'done' ? 'step_done' : 'step_skipped',
    at,
    outcome.kind === 'done' ? outcome.details : { reason: outcome.reason },
  );
  const next = r.step_index + 1;
  const waitUntil = outcome.kind === 'done' ? outcome.next_run_at : undefined;
  if (next >= def.steps.length && !waitUntil) {
    await finish(tx, r, 'completed', { step_index: next });
  } else {
    await tx.query('UPDATE app.automation_enrollments SET step_index = $2, next_run_at = $3 WHERE id = $1', [
      r.id,
      next,
      waitUntil ?? now,
    ]);
  }
}

interface PendingDraft {
  r: Row;
  def: Definition;
  at: { index: number; type: string };
  leaseUntil: Date;
  conversationId: string;
  reviewerId: string;
}

/**
 * draft_ai_reply, after its checks committed with the lease: the model is asked outside any
 * transaction — the context is assembled in the reviewing member's own RLS transaction
 * (docs/ARCHITECTURE.md §23) — and then ONE service transaction stores the draft and moves the
 * enrollment on, only if the lease is still this run's (same step, same `next_run_at`, still
 * active). So a draft is stored exactly once: a crash before that commit leaves no draft and the
 * step runs again when the lease ends (one more model call, recorded); a pause, exit or deletion
 * meanwhile drops the answer. A refusal (AI off, no provider, budget spent, provider error,
 * reviewer no longer a member) is recorded as the step skipped with its code.
 */
async function finishAiDraft(deps: SchedulerDeps, assist: AssistDeps, p: PendingDraft, now: Date): Promise<StepResult> {
  const { r } = p;
  let outcome: Extract<StepOutcome, { kind: 'done' | 'skipped' }>;
  let draft: Awaited<ReturnType<typeof composeDraft>> | undefined;
  try {
    draft = await composeDraft(
      assist,
      (fn) => deps.db.asUser({ sub: p.reviewerId }, fn, { memberOf: r.business_id }),
      { businessId: r.business_id, userId: null },
      p.conversationId,
      p.reviewerId,
    );
    outcome = { kind: 'done' };
  } catch (e) {
    if (!(e instanceof AppError) || isTransient(e)) throw e;
    outcome = { kind: 'skipped', reason: e.code === 'not_found' ? 'no_reviewer' : e.code };
  }
  return deps.db.asService('automations.step', async (tx): Promise<StepResult> => {
    const held = await tx.query(
      `SELECT 1 FROM app.automation_enrollments
        WHERE id = $1 AND state = 'active' AND step_index = $2 AND next_run_at = $3 FOR UPDATE`,
      [r.id, r.step_index, p.leaseUntil],
    );
    if (!held.rowCount) return { kind: 'ran', enrollmentId: r.id, outcome: 'deferred' };
    if (draft) {
      const id = await insertDraft(tx, r.business_id, p.conversationId, draft, null, 'automation');
      outcome = { kind: 'done', details: { draft_id: id, conversation_id: p.conversationId } };
    }
    await advance(tx, r, p.def, p.at, outcome, now);
    return { kind: 'ran', enrollmentId: r.id, outcome: outcome.kind };
  });
}

export type StepResult =
  { kind: 'none' } | { kind: 'ran'; enrollmentId: string; outcome: StepOutcome['kind'] | 'completed' | ExitReason };

/** Run the step of one due enrollment (the earliest, or `enrollmentId`); `none` when nothing is due. */
export async function runOneDueStep(deps: SchedulerDeps, now: Date, enrollmentId?: string): Promise<StepResult> {
  let outbox: { id: string; businessId: string } | undefined;
  let claimed: Pick<Row, 'id' | 'business_id' | 'contact_id' | 'step_index'> | undefined;
  let aiDraft: PendingDraft | undefined;
  try {
    const result = await deps.db.asService('automations.step', async (tx): Promise<StepResult> => {
      const r = (await tx.query<Row>(CLAIM_SQL, [now, enrollmentId ?? null])).rows[0];
      if (!r) return { kind: 'none' };
      claimed = r;
      const ran = (outcome: Extract<StepResult, { kind: 'ran' }>['outcome']): StepResult => ({
        kind: 'ran',
        enrollmentId: r.id,
        outcome,
      });
      const def = parseStoredDefinition(r.definition);
      if (!def) {
        await finish(tx, r, 'failed', { error_code: 'invalid_definition' });
        return ran('fail');
      }
      const exit = exitReason(r, def);
      if (exit) {
        await finish(tx, r, 'exited', { exit_reason: exit });
        return ran(exit);
      }
      const step = def.steps[r.step_index];
      if (!step) {
        await finish(tx, r, 'completed');
        return ran('completed');
      }
      const outcome = await runStep(
        tx,
        r,
        step,
        { now, smsWindow: deps.smsWindow, ai: deps.ai !== undefined },
        def.exit.on_opt_out,
      );
      const at = { index: r.step_index, type: step.type };
      switch (outcome.kind) {
        case 'deferred':
          await tx.query('UPDATE app.automation_enrollments SET next_run_at = $2 WHERE id = $1', [r.id, outcome.until]);
          return ran('deferred');
        case 'exit':
          await finish(tx, r, 'exited', { exit_reason: outcome.reason });
          return ran(outcome.reason);
        case 'fail':
          await event(tx, r, 'failed', at, { code: outcome.code });
          await tx.query(
            `UPDATE app.automation_enrollments SET state = 'failed', error_code = $2, finished_at = now() WHERE id = $1`,
            [r.id, outcome.code],
          );
          return ran('fail');
        case 'ai_draft': {
          // Held by a lease while the model answers outside any transaction (below).
          const leaseUntil = new Date(now.getTime() + (deps.ai?.leaseMs ?? 0));
          await tx.query('UPDATE app.automation_enrollments SET next_run_at = $2 WHERE id = $1', [r.id, leaseUntil]);
          aiDraft = { r, def, at, leaseUntil, conversationId: outcome.conversationId, reviewerId: outcome.reviewerId };
          return ran('deferred');
        }
        case 'done':
        case 'skipped':
          await advance(tx, r, def, at, outcome, now);
          if (outcome.kind === 'done' && outcome.outboxId) outbox = { id: outcome.outboxId, businessId: r.business_id };
          return ran(outcome.kind);
      }
    });
    const draft = aiDraft as PendingDraft | undefined;
    if (draft && deps.ai) return await finishAiDraft(deps, deps.ai.assist, draft, now);
    if (outbox)
      await deps.notifyOutbox(outbox).catch((err: unknown) => {
        deps.logger.warn({ err, message_id: outbox!.id }, 'automations: outbox not nudged; its sweep will pick it up');
      });
    return result;
  } catch (e) {
    if (!claimed || isTransient(e)) throw e;
    // The step's transaction rolled back: nothing of it happened. A step that cannot run is a
    // failed enrollment (reported with its code), never a loop retrying it forever.
    const code = errorCode(e);
    deps.logger.error({ err: e, enrollment_id: claimed.id, code }, 'automations: step failed');
    const c = claimed;
    await deps.db.asService('automations.step-failed', async (tx) => {
      const u = await tx.query(
        `UPDATE app.automation_enrollments SET state = 'failed', error_code = $3, finished_at = now()
          WHERE id = $1 AND state = 'active' AND step_index = $2`,
        [c.id, c.step_index, code],
      );
      if (u.rowCount) await event(tx, c, 'failed', undefined, { code });
    });
    return { kind: 'ran', enrollmentId: c.id, outcome: 'fail' };
  }
}

function isTransient(e: unknown): boolean {
  if (e instanceof AppError) return e.code === 'database_unavailable' || e.code === 'conflict';
  const code = (e as { code?: unknown } | null)?.code;
  return code === '40001' || code === '40P01';
}

function errorCode(e: unknown): string {
  if (e instanceof AppError) return e.code;
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return `db_${code.toLowerCase()}`;
  return 'internal_error';
}

/**
 * Run due steps until none is due (or `limit` steps ran, or `signal` aborts), with `workers`
 * loops at once. Returns how many steps ran.
 */
export async function runDueSteps(
  deps: SchedulerDeps,
  options: { now: () => Date; limit?: number; workers?: number; signal?: AbortSignal },
): Promise<number> {
  const limit = options.limit ?? Infinity;
  let ran = 0;
  const worker = async () => {
    while (ran < limit && !options.signal?.aborted) {
      const r = await runOneDueStep(deps, options.now());
      if (r.kind === 'none') return;
      ran++;
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.workers ?? 1) }, worker));
  return ran;
}

/**
 * When the scheduler should look again (null: no automation is active): `step`, the earliest
 * due step (null: none waiting), and `poll`, the next point of a fixed `pollMs` grid at which
 * to look for trigger events whose nudge was lost.
 */
export async function nextDueAt(
  db: Database,
  now: Date,
  pollMs = 15_000,
): Promise<{ step: Date | null; poll: Date } | null> {
  const r = await db.asService('automations.next-due', (tx) =>
    tx.query<{ at: Date | null; active: boolean }>(
      `SELECT (SELECT min(e.next_run_at) FROM app.automation_enrollments e
                 JOIN app.automations a ON a.business_id = e.business_id AND a.id = e.automation_id
                WHERE e.state = 'active' AND a.status = 'active') AS at,
              EXISTS (SELECT 1 FROM app.automations WHERE status = 'active') AS active`,
    ),
  );
  const row = r.rows[0];
  if (!row?.active) return null;
  // On a fixed grid, so follow-ups booked by overlapping runs (cron, nudges) name the same
  // second and the job id makes them one job instead of parallel chains.
  return { step: row.at, poll: new Date((Math.floor(now.getTime() / pollMs) + 1) * pollMs) };
}
