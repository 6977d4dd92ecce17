// Templates (docs/ARCHITECTURE.md "Templates"): CRUD as the caller (RLS of 0082: any
// member creates; the author or an owner/admin changes or deletes), merge fields
// checked at save, and previews rendered for one contact.
import type { Tx } from '../db/index.ts';
import { AppError, forbidden, notFound } from '../shared/errors.ts';
import { loadMergeContext, SAMPLE_CONTEXT } from './context.ts';
import { checkTemplate, renderEmail, renderSms, smsSegments, type SmsSegments } from './merge.ts';

export type Channel = 'sms' | 'email';

export interface TemplateView {
  id: string;
  name: string;
  channel: Channel;
  subject: string | null;
  body: string;
  created_by: string | null;
  created_at: string;
  updated_at: string;
  /** True when the caller may change or delete it (author, owner, admin). */
  can_edit: boolean;
}

export interface TemplateInput {
  name: string;
  channel: Channel;
  subject?: string | null;
  body: string;
}

type Row = Omit<TemplateView, 'created_at' | 'updated_at'> & { created_at: Date; updated_at: Date };

const SELECT = `SELECT t.id, t.name, t.channel, t.subject, t.body, t.created_by, t.created_at, t.updated_at,
  (t.created_by = (select app.uid()) OR app.has_role(t.business_id, 'admin')) AS can_edit
  FROM app.message_templates t`;

const view = (r: Row): TemplateView => ({
  ...r,
  created_at: r.created_at.toISOString(),
  updated_at: r.updated_at.toISOString(),
});

/** Check merge fields and limits for a template about to be saved. */
export function validateTemplate(t: { channel: Channel; subject?: string | null; body: string }): void {
  if (t.channel === 'email' && !t.subject?.trim())
    throw new AppError('validation_failed', 'an email template needs a subject');
  if (t.channel === 'sms' && t.subject) throw new AppError('validation_failed', 'an SMS template has no subject');
  if (t.channel === 'sms' && t.body.length > 1600)
    throw new AppError('validation_failed', 'an SMS template is at most 1600 characters');
  checkTemplate(t.body, 'body');
  if (t.subject) checkTemplate(t.subject, 'subject');
  // A test render with every field filled catches what only shows at render time
  // (loops past the time or memory limit).
  if (t.channel === 'email') renderEmail({ subject: t.subject!, body: t.body }, SAMPLE_CONTEXT);
  else renderSms({ body: t.body }, SAMPLE_CONTEXT);
}

export async function listTemplates(tx: Tx, businessId: string, channel?: Channel): Promise<TemplateView[]> {
  const r = await tx.query<Row>(
    `${SELECT} WHERE t.business_id = $1 AND ($2::text IS NULL OR t.channel = $2) ORDER BY t.name, t.id`,
    [businessId, channel ?? null],
  );
  return r.rows.map(view);
}

export async function getTemplate(tx: Tx, businessId: string, id: string): Promise<TemplateView> {
  const r = await tx.query<Row>(`${SELECT} WHERE t.business_id = $1 AND t.id = $2`, [businessId, id]);
  if (!r.rows[0]) throw notFound('template');
  return view(r.rows[0]);
}

export async function createTemplate(
  tx: Tx,
  businessId: string,
  userId: string,
  input: TemplateInput,
): Promise<TemplateView> {
  validateTemplate(input);
  const r = await tx.query<{ id: string }>(
    `INSERT INTO app.message_templates (business_id, name, channel, subject, body, created_by)
     VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
    [businessId, input.name, input.channel, input.channel === 'email' ? input.subject : null, input.body, userId],
  );
  return getTemplate(tx, businessId, r.rows[0]!.id);
}

export async function updateTemplate(
  tx: Tx,
  businessId: string,
  id: string,
  patch: Partial<Omit<TemplateInput, 'channel'>>,
): Promise<TemplateView> {
  const cur = await getTemplate(tx, businessId, id);
  if (!cur.can_edit) throw forbidden('only the author, an owner or an admin can change this template');
  const next = {
    channel: cur.channel,
    name: patch.name ?? cur.name,
    subject: patch.subject !== undefined ? patch.subject : cur.subject,
    body: patch.body ?? cur.body,
  };
  validateTemplate(next);
  const r = await tx.query(
    'UPDATE app.message_templates SET name = $3, subject = $4, body = $5 WHERE business_id = $1 AND id = $2',
    [businessId, id, next.name, next.subject, next.body],
  );
  if (r.rowCount === 0) throw forbidden('only the author, an owner or an admin can change this template');
  return getTemplate(tx, businessId, id);
}

export async function deleteTemplate(tx: Tx, businessId: string, id: string): Promise<void> {
  const cur = await getTemplate(tx, businessId, id);
  if (!cur.can_edit) throw forbidden('only the author, an owner or an admin can delete this template');
  try {
    const r = await tx.query('DELETE FROM app.message_templates WHERE business_id = $1 AND id = $2', [businessId, id]);
    if (r.rowCount === 0) throw forbidden('only the author, an owner or an admin can delete this template');
  } catch (e) {
    if ((e as { code?: string }).code === '23503')
      throw new AppError('conflict', 'campaigns use this template; it cannot be deleted');
    throw e;
  }
}

export interface Preview {
  channel: Channel;
  subject?: string;
  text: string;
  html?: string;
  encoding?: SmsSegments['encoding'];
  segments?: number;
  characters?: number;
}

export function renderPreview(
  t: { channel: Channel; subject?: string | null; body: string },
  ctx: Parameters<typeof renderSms>[1],
): Preview {
  if (t.channel === 'email') {
    const e = renderEmail({ subject: t.subject ?? '', body: t.body }, ctx);
    return { channel: 'email', subject: e.subject, text: e.text, html: e.html };
  }
  const text = renderSms({ body: t.body }, ctx);
  const seg = smsSegments(text);
  return { channel: 'sms', text, encoding: seg.encoding, segments: seg.segments, characters: seg.characters };
}

export async function previewTemplate(
  tx: Tx,
  businessId: string,
  userId: string,
  t: { channel: Channel; subject?: string | null; body: string },
  contactId: string,
): Promise<Preview> {
  validateTemplate(t);
  const ctx = await loadMergeContext(tx, businessId, contactId, userId);
  return renderPreview(t, ctx);
}
