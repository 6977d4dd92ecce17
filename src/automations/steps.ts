// What each step does (docs/ARCHITECTURE.md §25), inside the one service transaction that
// also advances the enrollment: the step's writes and the move to the next step commit
// together or not at all, so a crash or a second node can never run a step twice. A send is
// an outbox row (docs/ARCHITECTURE.md §24) written here; the outbox delivers it once.
import { randomUUID } from 'node:crypto';
import type { Tx } from '../db/index.ts';
import { withOutbox } from '../messaging/outbox.ts';
import { openConversation } from '../messaging/send.ts';
import { queueContactEmailAsService } from '../outreach/contact-emails.ts';
import { businessReviewLink, loadMergeContext } from '../outreach/context.ts';
import { RECENTLY_REQUESTED, recentlyAsked, recordReviewRequest } from '../gbp/review-requests.ts';
import { renderEmailMarkdown, renderSms } from '../outreach/merge.ts';
import { AppError } from '../shared/errors.ts';
import type { Step } from './definition.ts';
import { addLocalDays, localDate, nextLocalTime, nextSmsWindow } from '../shared/local-time.ts';

/** The enrollment as the scheduler locked it, with what its steps need. */
export interface Claimed {
  id: string;
  business_id: string;
  automation_id: string;
  automation_created_by: string | null;
  automation_name: string;
  contact_id: string;
  contact_name: string;
  deal_id: string | null;
  step_index: number;
  enrolled_at: Date;
  time_zone: string;
  contact_owner_id: string | null;
  contact_phone: string | null;
  contact_email: string | null;
  contact_status: string;
}

export interface StepEnv {
  now: Date;
  /** [start, end) local hours when texts may go out; null = any time. */
  smsWindow: readonly [number, number] | null;
  /** Whether this scheduler can call a model (SchedulerDeps.ai); without, AI steps are skipped. */
  ai: boolean;
}

export type StepOutcome =
  /** Done: record it and go on (at `next_run_at` for waits, else at once). */
  | { kind: 'done'; details?: Record<string, unknown>; next_run_at?: Date; outboxId?: string }
  /** Not applicable to this contact (no phone, no deal…): recorded, and the run goes on. */
  | { kind: 'skipped'; reason: string }
  /** Not now (outside the SMS window): the same step runs again at `until`. */
  | { kind: 'deferred'; until: Date }
  /** The run ends here (the contact opted out). */
  | { kind: 'exit'; reason: 'opted_out' }
  /** The automation cannot run this step (a template or configuration is gone). */
  | { kind: 'fail'; code: string }
  /**
   * draft_ai_reply may go ahead: the scheduler asks the model outside this transaction and
   * records the step in another (scheduler.ts); `reviewerId` is the member whose RLS
   * transaction assembles the context.
   */
  | { kind: 'ai_draft'; conversationId: string; reviewerId: string };

const MS = { minutes: 60_000, hours: 3_600_000 } as const;

export async function runStep(
  tx: Tx,
  e: Claimed,
  step: Step,
  env: StepEnv,
  onOptOutExit: boolean,
): Promise<StepOutcome> {
  switch (step.type) {
    case 'wait': {
      const until =
        step.unit === 'days'
          ? addLocalDays(e.time_zone, env.now, step.amount)
          : new Date(env.now.getTime() + step.amount * MS[step.unit]);
      return { kind: 'done', next_run_at: until, details: { until: until.toISOString() } };
    }
    case 'wait_until': {
      const until = nextLocalTime(e.time_zone, env.now, step.at, step.weekdays);
      return { kind: 'done', next_run_at: until, details: { until: until.toISOString() } };
    }
    case 'send_sms':
      return sendSms(tx, e, step.template_id, env, onOptOutExit);
    case 'send_email':
      return sendEmail(tx, e, step, env, onOptOutExit);
    case 'request_review':
      return requestReview(tx, e, step, env, onOptOutExit);
    case 'notify':
      return notify(tx, e, step);
    case 'draft_ai_reply':
      return prepareAiDraft(tx, e, env, onOptOutExit);
    case 'create_task': {
      const assignee =
        step.assignee === 'contact_owner' ? (e.contact_owner_id ?? e.automation_created_by) : step.assignee;
      // The assignee must still be a member (the foreign key); otherwise the task is unassigned.
      const r = await tx.query<{ id: string }>(
        `INSERT INTO app.tasks (business_id, title, due_date, assignee_id, contact_id, deal_id)
         SELECT $1, $2, $3::date, (SELECT user_id FROM app.memberships WHERE business_id = $1 AND user_id = $4), $5, $6
         RETURNING id`,
        [
          e.business_id,
          step.title,
          localDate(e.time_zone, env.now, step.due_in_days),
          assignee,
          e.contact_id,
          e.deal_id,
        ],
      );
      return { kind: 'done', details: { task_id: r.rows[0]!.id } };
    }
    case 'move_deal_stage': {
      const deal = await tx.query<{ id: string; stage: string }>(
        `SELECT id, stage::text FROM app.deals WHERE business_id = $1 AND (id = $2 OR ($2::uuid IS NULL AND contact_id = $3
           AND stage NOT IN ('funded', 'lost'))) ORDER BY updated_at DESC LIMIT 1`,
        [e.business_id, e.deal_id, e.contact_id],
      );
      const d = deal.rows[0];
      if (!d) return { kind: 'skipped', reason: 'no_deal' };
      if (d.stage === step.stage) return { kind: 'skipped', reason: 'already_in_stage' };
      await tx.query('UPDATE app.deals SET stage = $3 WHERE business_id = $1 AND id = $2', [
        e.business_id,
        d.id,
        step.stage,
      ]);
      return { kind: 'done', details: { deal_id: d.id, from: d.stage, to: step.stage } };
    }
    case 'set_contact_status': {
      if (e.contact_status === step.status) return { kind: 'skipped', reason: 'already_set' };
      await tx.query('UPDATE app.contacts SET status = $3 WHERE business_id = $1 AND id = $2', [
        e.business_id,
        e.contact_id,
        step.status,
      ]);
      await tx.query(
        `INSERT INTO app.contact_events (business_id, contact_id, kind, details) VALUES ($1, $2, 'status_changed', $3)`,
        [e.business_id, e.contact_id, { from: e.contact_status, to: step.status, automation_id: e.automation_id }],
      );
      return { kind: 'done', details: { from: e.contact_status, to: step.status } };
    }
    case 'add_to_list': {
      const r = await tx.query(
        `INSERT INTO app.list_members (business_id, list_id, contact_id)
         SELECT $1, id, $3 FROM app.lists WHERE business_id = $1 AND id = $2
         ON CONFLICT DO NOTHING`,
        [e.business_id, step.list_id, e.contact_id],
      );
      if (r.rowCount === 0) return { kind: 'skipped', reason: 'already_in_list_or_list_gone' };
      await tx.query(
        `INSERT INTO app.contact_events (business_id, contact_id, kind, details) VALUES ($1, $2, 'list_added', $3)`,
        [e.business_id, e.contact_id, { list_id: step.list_id, automation_id: e.automation_id }],
      );
      return { kind: 'done', details: { list_id: step.list_id } };
    }
    case 'remove_from_list': {
      const r = await tx.query(
        'DELETE FROM app.list_members WHERE business_id = $1 AND list_id = $2 AND contact_id = $3',
        [e.business_id, step.list_id, e.contact_id],
      );
      if (r.rowCount === 0) return { kind: 'skipped', reason: 'not_in_list' };
      await tx.query(
        `INSERT INTO app.contact_events (business_id, contact_id, kind, details) VALUES ($1, $2, 'list_removed', $3)`,
        [e.business_id, e.contact_id, { list_id: step.list_id, automation_id: e.automation_id }],
      );
      return { kind: 'done', details: { list_id: step.list_id } };
    }
  }
}

/**
 * The contact's conversation for a text (opened if new), after the checks every SMS step
 * makes: a phone, not do-not-contact, a Twilio number, no STOP to that number (TCPA; the
 * outbox checks again at send time). Otherwise the step's outcome.
 */
async function smsConversation(
  tx: Tx,
  e: Claimed,
  onOptOutExit: boolean,
): Promise<{ conversationId: string } | { outcome: StepOutcome }> {
  if (!e.contact_phone) return { outcome: { kind: 'skipped', reason: 'no_phone' } };
  if (e.contact_status === 'do_not_contact') return { outcome: { kind: 'skipped', reason: 'do_not_contact' } };
  let conversationId: string;
  try {
    conversationId = await openConversation(tx, e.business_id, { contact_id: e.contact_id });
  } catch (err) {
    if (err instanceof AppError && err.code === 'no_twilio_config')
      return { outcome: { kind: 'fail', code: 'no_twilio_config' } };
    throw err;
  }
  const stop = await tx.query(
    `SELECT 1 FROM app.sms_opt_outs o JOIN app.conversations v
        ON v.business_id = o.business_id AND v.contact_id = o.contact_id AND v.our_number = o.our_number
      WHERE v.business_id = $1 AND v.id = $2`,
    [e.business_id, conversationId],
  );
  if (stop.rowCount && stop.rowCount > 0)
    return {
      outcome: onOptOutExit ? { kind: 'exit', reason: 'opted_out' } : { kind: 'skipped', reason: 'opted_out' },
    };
  return { conversationId };
}

async function sendSms(
  tx: Tx,
  e: Claimed,
  templateId: string,
  env: StepEnv,
  onOptOutExit: boolean,
): Promise<StepOutcome> {
  // Quiet hours (the TCPA window) in the business's zone: the step waits for the window.
  const window = nextSmsWindow(env.smsWindow, e.time_zone, env.now);
  if (window.getTime() > env.now.getTime()) return { kind: 'deferred', until: window };
  if (!e.contact_phone) return { kind: 'skipped', reason: 'no_phone' };
  if (e.contact_status === 'do_not_contact') return { kind: 'skipped', reason: 'do_not_contact' };
  const t = await tx.query<{ body: string; channel: string }>(
    'SELECT body, channel FROM app.message_templates WHERE business_id = $1 AND id = $2',
    [e.business_id, templateId],
  );
  const template = t.rows[0];
  if (!template || template.channel !== 'sms') return { kind: 'fail', code: 'template_missing' };
  const target = await smsConversation(tx, e, onOptOutExit);
  if ('outcome' in target) return target.outcome;
  const { conversationId } = target;
  // The conversation's own configuration, else the one that owns its number (as send.ts).
  const cfg = await tx.query<{ id: string }>(
    `SELECT c.id FROM app.conversations v JOIN app.twilio_configs c
        ON c.business_id = v.business_id AND (c.id = v.twilio_config_id OR c.phone_number = v.our_number)
      WHERE v.business_id = $1 AND v.id = $2 ORDER BY (c.id = v.twilio_config_id) DESC NULLS LAST LIMIT 1`,
    [e.business_id, conversationId],
  );
  if (!cfg.rows[0]) return { kind: 'fail', code: 'no_twilio_config' };
  const ctx = await loadMergeContext(tx, e.business_id, e.contact_id, e.automation_created_by);
  const body = renderSms(template, ctx).slice(0, 1600);
  if (body.trim() === '') return { kind: 'skipped', reason: 'empty_message' };
  const id = randomUUID();
  await tx.query(
    `INSERT INTO app.messages (id, business_id, conversation_id, direction, body, status)
     VALUES ($1, $2, $3, 'outbound', $4, 'queued')`,
    [id, e.business_id, conversationId, body],
  );
  await withOutbox(tx, {
    id,
    businessId: e.business_id,
    channel: 'sms',
    senderId: cfg.rows[0].id,
    createdBy: null,
  });
  return { kind: 'done', details: { message_id: id }, outboxId: id };
}

/**
 * An email template to the contact, queued exactly as a 1:1 email (src/outreach/contact-emails.ts)
 * but in nobody's name, with its outbox row. Quiet hours hold it like a text (every automated
 * send waits for the window); an unsubscribe ends the run like a STOP.
 */
async function sendEmail(
  tx: Tx,
  e: Claimed,
  step: Extract<Step, { type: 'send_email' }>,
  env: StepEnv,
  onOptOutExit: boolean,
): Promise<StepOutcome> {
  const window = nextSmsWindow(env.smsWindow, e.time_zone, env.now);
  if (window.getTime() > env.now.getTime()) return { kind: 'deferred', until: window };
  if (!e.contact_email) return { kind: 'skipped', reason: 'no_email' };
  if (e.contact_status === 'do_not_contact') return { kind: 'skipped', reason: 'do_not_contact' };
  const t = await tx.query<{ subject: string | null; body: string; channel: string }>(
    'SELECT subject, body, channel FROM app.message_templates WHERE business_id = $1 AND id = $2',
    [e.business_id, step.template_id],
  );
  const template = t.rows[0];
  if (!template || template.channel !== 'email' || template.subject === null)
    return { kind: 'fail', code: 'template_missing' };
  const ctx = await loadMergeContext(tx, e.business_id, e.contact_id, e.automation_created_by);
  const { subject, markdown } = renderEmailMarkdown({ subject: template.subject, body: template.body }, ctx);
  if (subject === '' || markdown.trim() === '') return { kind: 'skipped', reason: 'empty_message' };
  const r = await queueContactEmailAsService(tx, e.business_id, e.contact_id, {
    sender_id: step.sender_id ?? null,
    subject: subject.slice(0, 500),
    body: markdown.slice(0, 50_000),
  });
  if (r.ok) return { kind: 'done', details: { email_id: r.email.id }, outboxId: r.email.id };
  switch (r.why) {
    case 'unsubscribed':
      return onOptOutExit ? { kind: 'exit', reason: 'opted_out' } : { kind: 'skipped', reason: 'unsubscribed' };
    case 'bounced':
      return { kind: 'skipped', reason: 'email_bounced' };
    case 'no_email':
    case 'contact_missing':
    case 'no_postal_address':
      return { kind: 'skipped', reason: r.why };
    case 'sender_missing':
      return { kind: 'fail', code: 'email_sender_missing' };
    case 'no_email_sender':
    case 'demo_restricted':
      return { kind: 'fail', code: r.why };
  }
}

/**
 * Ask for a Google review (docs/ARCHITECTURE.md §26 "Review requests"): skipped without an
 * attached location (`gbp_location_missing`) or when the contact was asked within the window
 * (`review_recently_requested`); otherwise exactly send_sms / send_email with the template (its
 * skips, exits and deferral included), and the request recorded in the same transaction.
 */
async function requestReview(
  tx: Tx,
  e: Claimed,
  step: Extract<Step, { type: 'request_review' }>,
  env: StepEnv,
  onOptOutExit: boolean,
): Promise<StepOutcome> {
  const window = nextSmsWindow(env.smsWindow, e.time_zone, env.now);
  if (window.getTime() > env.now.getTime()) return { kind: 'deferred', until: window };
  if (!(await businessReviewLink(tx, e.business_id))) return { kind: 'skipped', reason: 'gbp_location_missing' };
  if ((await recentlyAsked(tx, e.business_id, [e.contact_id], env.now)).size > 0)
    return { kind: 'skipped', reason: RECENTLY_REQUESTED };
  const out =
    step.channel === 'sms'
      ? await sendSms(tx, e, step.template_id, env, onOptOutExit)
      : await sendEmail(
          tx,
          e,
          { type: 'send_email', template_id: step.template_id, sender_id: step.sender_id },
          env,
          onOptOutExit,
        );
  if (out.kind === 'done' && out.outboxId)
    await recordReviewRequest(tx, {
      businessId: e.business_id,
      contactId: e.contact_id,
      dealId: e.deal_id,
      channel: step.channel,
      messageId: out.outboxId,
      automationId: e.automation_id,
      at: env.now,
    });
  return out;
}

/**
 * An in-app notification (docs/ARCHITECTURE.md §12.1, kind `automation`) linking to the
 * contact. Recipients are members at this moment: a member removed since the automation was
 * saved makes the step `skipped (not_a_member)`, never a silent no-op.
 */
async function notify(tx: Tx, e: Claimed, step: Extract<Step, { type: 'notify' }>): Promise<StepOutcome> {
  const r =
    step.to === 'admins'
      ? await tx.query<{ user_id: string }>(
          `SELECT user_id FROM app.memberships WHERE business_id = $1 AND role IN ('owner', 'admin')`,
          [e.business_id],
        )
      : await tx.query<{ user_id: string }>(
          // The contact's owner, else the automation's author; or the one member named.
          `SELECT user_id FROM app.memberships WHERE business_id = $1 AND user_id = ANY($2::uuid[])
            ORDER BY user_id = $3 DESC LIMIT 1`,
          step.to === 'contact_owner'
            ? [e.business_id, [e.contact_owner_id, e.automation_created_by].filter(Boolean), e.contact_owner_id]
            : [e.business_id, [step.to], step.to],
        );
  const users = r.rows.map((u) => u.user_id);
  if (users.length === 0)
    return {
      kind: 'skipped',
      reason: step.to === 'contact_owner' || step.to === 'admins' ? 'no_recipient' : 'not_a_member',
    };
  const name = e.contact_name || 'A contact';
  const n = await tx.query<{ user_id: string }>(
    `INSERT INTO app.notifications (business_id, user_id, kind, title, body, link, subject_id)
     SELECT $1, u, 'automation', left($3, 200), left($4, 500), $5, $6 FROM unnest($2::uuid[]) AS u
     RETURNING user_id`,
    [
      e.business_id,
      users,
      step.message ?? `${e.automation_name}: ${name}`,
      step.message
        ? `${name} · automation “${e.automation_name}”`
        : `Automation “${e.automation_name}” reached this step.`,
      `/b/${e.business_id}/contacts/${e.contact_id}`,
      e.contact_id,
    ],
  );
  return { kind: 'done', details: { user_ids: n.rows.map((u) => u.user_id) } };
}

/**
 * The checks of draft_ai_reply that need no model, in the step's transaction: AI on, a
 * provider, budget left (the admission checks again), a textable contact and a member to
 * review it — the contact's owner, else the automation's author. The model call itself is
 * the scheduler's, outside any transaction (docs/ARCHITECTURE.md §23).
 */
async function prepareAiDraft(tx: Tx, e: Claimed, env: StepEnv, onOptOutExit: boolean): Promise<StepOutcome> {
  if (!env.ai) return { kind: 'skipped', reason: 'ai_unavailable' };
  const a = await tx.query<{ enabled: boolean; configured: boolean; spent: boolean }>(
    `SELECT b.ai_enabled AS enabled,
            EXISTS (SELECT 1 FROM app.ai_providers p WHERE p.business_id = b.id) AS configured,
            (SELECT coalesce(sum(c.tokens_in + c.tokens_out), 0) FROM app.ai_calls c
              WHERE c.business_id = b.id AND c.outcome <> 'pending'
                AND c.started_at >= (date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'))
              >= b.ai_monthly_token_budget AS spent
       FROM app.businesses b WHERE b.id = $1`,
    [e.business_id],
  );
  const ai = a.rows[0];
  if (!ai?.enabled) return { kind: 'skipped', reason: 'ai_disabled' };
  if (!ai.configured) return { kind: 'skipped', reason: 'ai_not_configured' };
  if (ai.spent) return { kind: 'skipped', reason: 'ai_budget_exhausted' };
  const target = await smsConversation(tx, e, onOptOutExit);
  if ('outcome' in target) return target.outcome;
  const m = await tx.query<{ user_id: string }>(
    `SELECT user_id FROM app.memberships WHERE business_id = $1 AND user_id = ANY($2::uuid[])
      ORDER BY user_id = $3 DESC LIMIT 1`,
    [e.business_id, [e.contact_owner_id, e.automation_created_by].filter(Boolean), e.contact_owner_id],
  );
  if (!m.rows[0]) return { kind: 'skipped', reason: 'no_reviewer' };
  return { kind: 'ai_draft', conversationId: target.conversationId, reviewerId: m.rows[0].user_id };
}
