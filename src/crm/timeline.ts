// A contact's activity timeline: its own events (created, imported, list and status
// changes, trash/restore), its notes and its deals' notes, SMS messages and the stage changes of its deals,
// merged newest first. A contact created by a CSV import has no stored 'imported' event:
// that entry is derived from the contact's import_job_id (migration 0008), its id is the
// contact's, and its actor is the job's creator when the reader may see the job (its
// creator and admins), else null. Each source is read from its own table (one source of truth)
// with the same keyset bound and limit, so a page costs O(limit) per source.
import type { Tx } from '../db/index.ts';
import { notFound } from '../shared/errors.ts';
import { decodeCursor, isoSql, page } from './cursor.ts';

export interface TimelineItem {
  id: string;
  /** a contact event kind, or 'note', 'message', 'email', 'campaign_message', 'stage_changed', 'automation' */
  kind: string;
  at: string;
  actor_id: string | null;
  data: Record<string, unknown>;
}

export async function contactTimeline(
  tx: Tx,
  businessId: string,
  contactId: string,
  query: { limit: number; cursor?: string },
): Promise<{ items: TimelineItem[]; next_cursor: string | null }> {
  const exists = await tx.query(
    'SELECT 1 FROM app.contacts WHERE business_id = $1 AND id = $2',
    [businessId, contactId],
    {
      prepared: true,
    },
  );
  if (exists.rowCount === 0) throw notFound('contact');
  const params: unknown[] = [businessId, contactId, query.limit + 1];
  const cursor = decodeCursor(query.cursor, 2);
  let bound = (_at: string, _id: string) => 'true';
  if (cursor) {
    params.push(cursor[0], cursor[1]);
    bound = (at, id) => `(${at}, ${id}) < ($4::timestamptz, $5::uuid)`;
  }
  const branch = (select: string, from: string, where: string, at: string, id: string) =>
    `(SELECT ${select} FROM ${from} WHERE ${where} AND ${bound(at, id)} ORDER BY ${at} DESC, ${id} DESC LIMIT $3)`;
  // `at` is written by the database (`isoSql`, docs/ARCHITECTURE.md §3); the order is the timestamp's.
  const sql = `SELECT t.id, t.kind, ${isoSql('t.at')} AS at, t.at::text AS k, t.actor_id, t.data FROM (
    ${branch(
      `e.id, e.kind, e.created_at AS at, e.actor_id, e.details AS data`,
      'app.contact_events e',
      'e.business_id = $1 AND e.contact_id = $2',
      'e.created_at',
      'e.id',
    )}
    UNION ALL
    ${branch(
      `c.id, 'imported', c.created_at, j.created_by, jsonb_build_object('job_id', c.import_job_id, 'action', 'created')`,
      'app.contacts c LEFT JOIN app.import_jobs j ON j.business_id = c.business_id AND j.id = c.import_job_id',
      'c.business_id = $1 AND c.id = $2 AND c.import_job_id IS NOT NULL',
      'c.created_at',
      'c.id',
    )}
    UNION ALL
    ${branch(
      `n.id, 'note', n.created_at, n.author_id, jsonb_build_object('body', n.body, 'updated_at', n.updated_at, 'deal_id', n.deal_id)`,
      'app.notes n',
      `n.business_id = $1 AND (n.contact_id = $2
        OR n.deal_id IN (SELECT d.id FROM app.deals d WHERE d.business_id = $1 AND d.contact_id = $2))`,
      'n.created_at',
      'n.id',
    )}
    UNION ALL
    ${branch(
      `m.id, 'message', m.created_at, m.sender_user_id,
        jsonb_build_object('conversation_id', m.conversation_id, 'direction', m.direction, 'body', m.body, 'status', m.status, 'our_number', v.our_number)`,
      'app.messages m JOIN app.conversations v ON v.business_id = m.business_id AND v.id = m.conversation_id',
      'm.business_id = $1 AND v.contact_id = $2',
      'm.created_at',
      'm.id',
    )}
    UNION ALL
    ${branch(
      `r.id, 'campaign_message', coalesce(r.sent_at, r.updated_at), k.started_by,
        jsonb_build_object('campaign_id', k.id, 'campaign_name', k.name, 'channel', k.channel, 'status', r.status,
          'reason', r.reason, 'subject', k.subject)`,
      'app.campaign_recipients r JOIN app.campaigns k ON k.business_id = r.business_id AND k.id = r.campaign_id',
      "r.business_id = $1 AND r.contact_id = $2 AND r.status NOT IN ('queued', 'sending')",
      'coalesce(r.sent_at, r.updated_at)',
      'r.id',
    )}
    UNION ALL
    ${branch(
      `x.id, 'email', x.created_at, x.sent_by,
        jsonb_build_object('subject', x.subject, 'snippet', left(x.body, 160), 'to', x.to_address,
          'from', (SELECT e.from_email FROM app.email_senders e WHERE e.business_id = x.business_id AND e.id = x.sender_id),
          'status', x.status, 'reason', x.reason, 'sent_at', x.sent_at)`,
      'app.contact_emails x',
      'x.business_id = $1 AND x.contact_id = $2',
      'x.created_at',
      'x.id',
    )}
    UNION ALL
    ${branch(
      `s.id, 'stage_changed', s.changed_at, s.changed_by,
        jsonb_build_object('deal_id', d.id, 'deal_title', d.title, 'from_stage', s.from_stage, 'to_stage', s.to_stage)`,
      'app.deal_stage_changes s JOIN app.deals d ON d.business_id = s.business_id AND d.id = s.deal_id',
      's.business_id = $1 AND d.contact_id = $2',
      's.changed_at',
      's.id',
    )}
    UNION ALL
    ${branch(
      // Automations (docs/ARCHITECTURE.md §25): enrolled, each step done or skipped, the end and why.
      `ae.id, 'automation', ae.created_at, NULL::uuid,
        jsonb_build_object('automation_id', en.automation_id, 'name', a.name, 'enrollment_id', ae.enrollment_id,
          'event', ae.kind, 'step_index', ae.step_index, 'step_type', ae.step_type,
          'status', CASE ae.kind
            WHEN 'step_done' THEN CASE
              -- A wait's event is written when the wait starts: say until when, in the business's zone.
              WHEN ae.step_type IN ('wait', 'wait_until') THEN
                CASE WHEN (ae.details ->> 'until')::timestamptz <= now() THEN 'waited until ' ELSE 'waiting until ' END
                || to_char((ae.details ->> 'until')::timestamptz AT TIME ZONE b.time_zone, 'FMMon FMDD, FMHH12:MI AM')
              ELSE CASE ae.step_type
              WHEN 'send_email' THEN 'email queued'
              WHEN 'notify' THEN 'team notified'
              WHEN 'draft_ai_reply' THEN 'AI reply drafted for review'
              WHEN 'request_review' THEN 'review requested'
              ELSE replace(ae.step_type, '_', ' ') || ' done' END END
            WHEN 'step_skipped' THEN CASE ae.step_type WHEN 'draft_ai_reply' THEN 'AI reply draft'
              ELSE replace(ae.step_type, '_', ' ') END
              || ' skipped (' || replace(coalesce(ae.details ->> 'reason', ''), '_', ' ') || ')'
            WHEN 'exited' THEN 'exited (' || replace(coalesce(ae.details ->> 'reason', ''), '_', ' ') || ')'
            WHEN 'failed' THEN 'failed (' || coalesce(ae.details ->> 'code', '') || ')'
            ELSE ae.kind END)`,
      `app.automation_enrollment_events ae
        JOIN app.automation_enrollments en ON en.business_id = ae.business_id AND en.id = ae.enrollment_id
        JOIN app.automations a ON a.business_id = en.business_id AND a.id = en.automation_id
        JOIN app.businesses b ON b.id = ae.business_id`,
      'ae.business_id = $1 AND ae.contact_id = $2',
      'ae.created_at',
      'ae.id',
    )}
  ) t ORDER BY t.at DESC, t.id DESC LIMIT $3`;
  const r = await tx.query<{
    id: string;
    kind: string;
    at: string;
    k: string;
    actor_id: string | null;
    data: Record<string, unknown>;
  }>(sql, params, { prepared: true }); // the contact page; with or without the cursor
  const out = page(r.rows, query.limit, (row) => [row.k, row.id]);
  return {
    items: out.items.map((row) => ({
      id: row.id,
      kind: row.kind,
      at: row.at,
      actor_id: row.actor_id,
      data: row.data,
    })),
    next_cursor: out.next_cursor,
  };
}
