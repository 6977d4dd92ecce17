// Automations as their owners see them (docs/ARCHITECTURE.md §25): create, edit (a new
// version), activate, pause, read with enrollment counts. Every function takes the caller's
// transaction (RLS as the user): the policies decide who may write — owners and admins —
// and these functions only turn the database's refusals into clear errors.
import { randomUUID } from 'node:crypto';
import type { Tx } from '../db/index.ts';
import { usesReviewLink } from '../outreach/merge.ts';
import { AppError, forbidden, notFound } from '../shared/errors.ts';
import { definitionSchema, type Definition, type DefinitionInput } from './definition.ts';

export type AutomationStatus = 'draft' | 'active' | 'paused';
export type EnrollmentState = 'active' | 'paused' | 'completed' | 'exited' | 'failed';
export const ENROLLMENT_STATES: readonly EnrollmentState[] = ['active', 'paused', 'completed', 'exited', 'failed'];

export interface Automation extends Definition {
  id: string;
  name: string;
  status: AutomationStatus;
  version: number;
  recipe: string | null;
  created_by: string | null;
  created_at: string;
  updated_at: string;
  activated_at: string | null;
  counts: Record<EnrollmentState, number>;
}

interface Row {
  id: string;
  name: string;
  status: AutomationStatus;
  version: number;
  recipe: string | null;
  created_by: string | null;
  created_at: Date;
  updated_at: Date;
  activated_at: Date | null;
  definition: unknown;
  counts: Partial<Record<EnrollmentState, number>> | null;
}

const SELECT = `
  SELECT a.id, a.name, a.status, a.version, a.recipe, a.created_by, a.created_at, a.updated_at, a.activated_at,
         v.definition,
         (SELECT jsonb_object_agg(s.state, s.n) FROM (
            SELECT e.state, count(*)::int AS n FROM app.automation_enrollments e
             WHERE e.business_id = a.business_id AND e.automation_id = a.id GROUP BY e.state) s) AS counts
    FROM app.automations a
    JOIN app.automation_versions v ON v.business_id = a.business_id AND v.automation_id = a.id AND v.version = a.version`;

function shape(r: Row): Automation {
  const def = definitionSchema.parse(r.definition);
  const counts = Object.fromEntries(ENROLLMENT_STATES.map((s) => [s, r.counts?.[s] ?? 0])) as Record<
    EnrollmentState,
    number
  >;
  return {
    id: r.id,
    name: r.name,
    status: r.status,
    version: r.version,
    recipe: r.recipe,
    created_by: r.created_by,
    created_at: r.created_at.toISOString(),
    updated_at: r.updated_at.toISOString(),
    activated_at: r.activated_at?.toISOString() ?? null,
    ...def,
    counts,
  };
}

/** A P0001 raised by 0101's guards carries our stable code as its HINT. */
function translate(e: unknown): unknown {
  const err = e as { code?: string; hint?: string; message?: string } | null;
  if (err?.code === 'P0001' && err.hint === 'invalid_transition')
    return new AppError('invalid_transition', err.message ?? 'that change of state is not allowed', { cause: e });
  if (err?.code === '42501') return forbidden('only owners and admins can change automations');
  return e;
}

async function guarded<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw translate(e);
  }
}

export async function listAutomations(tx: Tx, businessId: string): Promise<Automation[]> {
  const r = await tx.query<Row>(`${SELECT} WHERE a.business_id = $1 ORDER BY a.created_at, a.id`, [businessId]);
  return r.rows.map(shape);
}

export async function getAutomation(tx: Tx, businessId: string, id: string): Promise<Automation> {
  const r = await tx.query<Row>(`${SELECT} WHERE a.business_id = $1 AND a.id = $2`, [businessId, id]);
  if (!r.rows[0]) throw notFound('automation');
  return shape(r.rows[0]);
}

/** Lists, templates (of the step's channel), email senders and members a definition names must belong to this business. */
async function checkReferences(tx: Tx, businessId: string, def: Definition): Promise<void> {
  const lists = new Set<string>();
  const templates = new Map<string, 'sms' | 'email'>();
  const users = new Set<string>();
  const senders = new Set<string>();
  const reviewTemplates = new Set<string>();
  if (def.trigger.type === 'list_added') lists.add(def.trigger.list_id);
  for (const c of def.conditions) if (c.type === 'in_list' || c.type === 'not_in_list') lists.add(c.list_id);
  for (const s of def.steps) {
    if (s.type === 'add_to_list' || s.type === 'remove_from_list') lists.add(s.list_id);
    if (s.type === 'send_sms') templates.set(s.template_id, 'sms');
    if (s.type === 'send_email') {
      templates.set(s.template_id, 'email');
      if (s.sender_id) senders.add(s.sender_id);
    }
    if (s.type === 'request_review') {
      templates.set(s.template_id, s.channel);
      reviewTemplates.add(s.template_id);
      if (s.sender_id && s.channel === 'sms')
        throw new AppError(
          'validation_failed',
          'request_review: sender_id is an email sender; texts use the contact’s number',
        );
      if (s.sender_id) senders.add(s.sender_id);
    }
    if (s.type === 'create_task' && s.assignee !== 'contact_owner') users.add(s.assignee);
    if (s.type === 'notify' && s.to !== 'contact_owner' && s.to !== 'admins') users.add(s.to);
  }
  if (lists.size > 0) {
    const r = await tx.query<{ id: string }>(
      'SELECT id FROM app.lists WHERE business_id = $1 AND id = ANY($2::uuid[])',
      [businessId, [...lists]],
    );
    if (r.rows.length !== lists.size) throw notFound('list');
  }
  if (templates.size > 0) {
    const r = await tx.query<{ id: string; channel: 'sms' | 'email'; subject: string | null; body: string }>(
      'SELECT id, channel, subject, body FROM app.message_templates WHERE business_id = $1 AND id = ANY($2::uuid[])',
      [businessId, [...templates.keys()]],
    );
    if (r.rows.length !== templates.size) throw notFound('template');
    for (const t of r.rows) {
      if (templates.get(t.id) !== t.channel)
        throw new AppError('validation_failed', `template ${t.id} is an ${t.channel} template`);
      if (reviewTemplates.has(t.id) && !usesReviewLink(t))
        throw new AppError(
          'validation_failed',
          `request_review: template ${t.id} must include {{ business.review_link }}`,
        );
    }
  }
  if (senders.size > 0) {
    const r = await tx.query<{ id: string }>(
      'SELECT id FROM app.email_senders WHERE business_id = $1 AND id = ANY($2::uuid[])',
      [businessId, [...senders]],
    );
    if (r.rows.length !== senders.size) throw notFound('email sender');
  }
  if (users.size > 0) {
    const r = await tx.query<{ user_id: string }>(
      'SELECT user_id FROM app.memberships WHERE business_id = $1 AND user_id = ANY($2::uuid[])',
      [businessId, [...users]],
    );
    if (r.rows.length !== users.size) throw notFound('member');
  }
}

export interface AutomationInput extends DefinitionInput {
  name: string;
}

export async function createAutomation(
  tx: Tx,
  user: { userId: string },
  businessId: string,
  input: AutomationInput,
  recipe: string | null = null,
): Promise<Automation> {
  const { name, ...rest } = input;
  const def = definitionSchema.parse(rest);
  await checkReferences(tx, businessId, def);
  const id = randomUUID();
  await guarded(async () => {
    await tx.query(
      `INSERT INTO app.automations (id, business_id, name, version, trigger_type, recipe, created_by)
       VALUES ($1, $2, $3, 1, $4, $5, $6)`,
      [id, businessId, name, def.trigger.type, recipe, user.userId],
    );
    await tx.query(
      `INSERT INTO app.automation_versions (business_id, automation_id, version, definition, created_by)
       VALUES ($1, $2, 1, $3, $4)`,
      [businessId, id, JSON.stringify(def), user.userId],
    );
  });
  return getAutomation(tx, businessId, id);
}

/**
 * Rename, and/or replace the definition. A new definition becomes the next version: new
 * enrollments start on it, running ones finish on theirs.
 */
export async function updateAutomation(
  tx: Tx,
  user: { userId: string },
  businessId: string,
  id: string,
  input: { name?: string; definition?: DefinitionInput },
): Promise<Automation> {
  const current = await tx.query<{ version: number }>(
    'SELECT version FROM app.automations WHERE business_id = $1 AND id = $2 FOR UPDATE',
    [businessId, id],
  );
  // FOR UPDATE needs the UPDATE policy: a member sees the row but cannot lock it.
  if (!current.rows[0]) {
    await getAutomation(tx, businessId, id); // 404 when she cannot even see it
    throw forbidden('only owners and admins can change automations');
  }
  await guarded(async () => {
    if (input.definition) {
      const def = definitionSchema.parse(input.definition);
      await checkReferences(tx, businessId, def);
      const next = current.rows[0]!.version + 1;
      await tx.query(
        `INSERT INTO app.automation_versions (business_id, automation_id, version, definition, created_by)
         VALUES ($1, $2, $3, $4, $5)`,
        [businessId, id, next, JSON.stringify(def), user.userId],
      );
      await tx.query('UPDATE app.automations SET version = $3, trigger_type = $4 WHERE business_id = $1 AND id = $2', [
        businessId,
        id,
        next,
        def.trigger.type,
      ]);
    }
    if (input.name !== undefined)
      await tx.query('UPDATE app.automations SET name = $3 WHERE business_id = $1 AND id = $2', [
        businessId,
        id,
        input.name,
      ]);
  });
  return getAutomation(tx, businessId, id);
}

/** Activate (from draft or paused) or pause; pausing holds running enrollments at their step. */
export async function setAutomationStatus(
  tx: Tx,
  businessId: string,
  id: string,
  status: 'active' | 'paused',
): Promise<Automation> {
  const before = await getAutomation(tx, businessId, id); // 404 for another business
  if (before.status === status)
    throw new AppError('invalid_transition', `the automation is already ${status === 'active' ? 'active' : 'paused'}`);
  const r = await guarded(() =>
    tx.query('UPDATE app.automations SET status = $3 WHERE business_id = $1 AND id = $2 RETURNING id', [
      businessId,
      id,
      status,
    ]),
  );
  if (r.rowCount === 0) throw forbidden('only owners and admins can activate or pause automations');
  return getAutomation(tx, businessId, id);
}
