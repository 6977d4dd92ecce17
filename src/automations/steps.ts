// What each step does (docs/ARCHITECTURE.md §25), inside the one service transaction that
// also advances the enrollment: the step's writes and the move to the next step commit
// together or not at all, so a crash or a second node can never run a step twice. A send is
// an outbox row (docs/ARCHITECTURE.md §24) written here; the outbox delivers it once.
import { randomUUID } from 'node:crypto';
import type { Tx } from '../db/index.ts';
import { withOutbox } from '../messaging/outbox.ts';
import { openConversation } from '../messaging/send.ts';
import { loadMergeContext } from '../outreach/context.ts';
import { renderSms } from '../outreach/merge.ts';
import { AppError } from '../shared/errors.ts';
import type { Step } from './definition.ts';
import { addLocalDays, localDate, nextLocalTime, nextSmsWindow } from './local-time.ts';

/** The enrollment as the scheduler locked it, with what its steps need. */
export interface Claimed {
  id: string;
  business_id: string;
  automation_id: string;
  automation_created_by: string | null;
  contact_id: string;
  deal_id: string | null;
  step_index: number;
  enrolled_at: Date;
  time_zone: string;
  contact_owner_id: string | null;
  contact_phone: string | null;
  contact_status: string;
}

export interface StepEnv {
  now: Date;
  /** [start, end) local hours when texts may go out; null = any time. */
  smsWindow: readonly [number, number] | null;
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
  | { kind: 'fail'; code: string };

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
  let conversationId: string;
  try {
    conversationId = await openConversation(tx, e.business_id, { contact_id: e.contact_id });
  } catch (err) {
    if (err instanceof AppError && err.code === 'no_twilio_config') return { kind: 'fail', code: 'no_twilio_config' };
    throw err;
  }
  // A STOP to the number this text would go from (TCPA); the outbox checks again at send time.
  const stop = await tx.query(
    `SELECT 1 FROM app.sms_opt_outs o JOIN app.conversations v
        ON v.business_id = o.business_id AND v.contact_id = o.contact_id AND v.our_number = o.our_number
      WHERE v.business_id = $1 AND v.id = $2`,
    [e.business_id, conversationId],
  );
  if (stop.rowCount && stop.rowCount > 0)
    return onOptOutExit ? { kind: 'exit', reason: 'opted_out' } : { kind: 'skipped', reason: 'opted_out' };
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
