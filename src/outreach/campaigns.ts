// Campaigns (docs/ARCHITECTURE.md "Campaigns"): drafts, the audience review, the start
// (one transaction as the caller: the campaign leaves 'draft' and every list member
// becomes exactly one recipient row, queued or skipped with why), pause/resume/cancel,
// and the live counts. Every rule on who may do what is in the policies and the state
// machine trigger of 0083; this module turns refusals into precise answers.
import { iso, isoSql } from '../crm/cursor.ts';
import type { Tx } from '../db/index.ts';
import { AppError, forbidden, notFound } from '../shared/errors.ts';
import { businessReviewLink } from './context.ts';
import { locationMissing, usesReviewLink } from './merge.ts';

export type CampaignStatus = 'draft' | 'scheduled' | 'sending' | 'paused' | 'completed' | 'cancelled';

export interface CampaignCounts {
  total: number;
  eligible: number;
  queued: number;
  sent: number;
  delivered: number;
  failed: number;
  skipped: number;
}

export interface CampaignView {
  id: string;
  name: string;
  channel: 'sms' | 'email';
  list_id: string | null;
  template_id: string;
  sender_id: string | null;
  send_at: string | null;
  status: CampaignStatus;
  created_by: string | null;
  started_by: string | null;
  created_at: string;
  started_at: string | null;
  completed_at: string | null;
  counts: CampaignCounts;
}

export interface CampaignInput {
  name: string;
  channel: 'sms' | 'email';
  list_id: string;
  template_id: string;
  sender_id?: string | null;
  send_at?: string | null;
}

type Row = {
  id: string;
  name: string;
  channel: 'sms' | 'email';
  list_id: string | null;
  template_id: string;
  email_sender_id: string | null;
  twilio_config_id: string | null;
  send_at: Date | null;
  status: CampaignStatus;
  created_by: string | null;
  started_by: string | null;
  created_at: Date;
  started_at: Date | null;
  completed_at: Date | null;
};

const SELECT = `SELECT id, name, channel, list_id, template_id, email_sender_id, twilio_config_id, send_at, status,
  created_by, started_by, created_at, started_at, completed_at FROM app.campaigns`;

async function countsOf(tx: Tx, businessId: string, ids: string[]): Promise<Map<string, CampaignCounts>> {
  const out = new Map<string, CampaignCounts>();
  for (const id of ids) out.set(id, { total: 0, eligible: 0, queued: 0, sent: 0, delivered: 0, failed: 0, skipped: 0 });
  if (ids.length === 0) return out;
  const r = await tx.query<{ campaign_id: string; status: string; n: string }>(
    `SELECT campaign_id, status, count(*) AS n FROM app.campaign_recipients
      WHERE business_id = $1 AND campaign_id = ANY ($2::uuid[]) GROUP BY campaign_id, status`,
    [businessId, ids],
  );
  for (const row of r.rows) {
    const c = out.get(row.campaign_id)!;
    const n = Number(row.n);
    c.total += n;
    if (row.status === 'queued' || row.status === 'sending') c.queued += n;
    else c[row.status as 'sent' | 'delivered' | 'failed' | 'skipped'] += n;
  }
  for (const c of out.values()) c.eligible = c.total - c.skipped;
  return out;
}

const view = (r: Row, counts: CampaignCounts): CampaignView => ({
  id: r.id,
  name: r.name,
  channel: r.channel,
  list_id: r.list_id,
  template_id: r.template_id,
  sender_id: r.channel === 'email' ? r.email_sender_id : r.twilio_config_id,
  send_at: iso(r.send_at),
  status: r.status,
  created_by: r.created_by,
  started_by: r.started_by,
  created_at: r.created_at.toISOString(),
  started_at: iso(r.started_at),
  completed_at: iso(r.completed_at),
  counts,
});

function mapTrigger(e: unknown): never {
  const err = e as { code?: string; hint?: string; message?: string };
  if (err.code === 'P0001' && (err.hint === 'invalid_transition' || err.hint === 'campaign_not_draft'))
    throw new AppError(err.hint, err.message ?? 'not allowed in this state');
  throw e;
}

export async function listCampaigns(tx: Tx, businessId: string): Promise<CampaignView[]> {
  const r = await tx.query<Row>(`${SELECT} WHERE business_id = $1 ORDER BY created_at DESC, id LIMIT 500`, [
    businessId,
  ]);
  const counts = await countsOf(
    tx,
    businessId,
    r.rows.map((x) => x.id),
  );
  return r.rows.map((x) => view(x, counts.get(x.id)!));
}

async function row(tx: Tx, businessId: string, id: string, lock = false): Promise<Row> {
  const r = await tx.query<Row>(`${SELECT} WHERE business_id = $1 AND id = $2 ${lock ? 'FOR UPDATE' : ''}`, [
    businessId,
    id,
  ]);
  if (!r.rows[0]) throw notFound('campaign');
  return r.rows[0];
}

export async function getCampaign(tx: Tx, businessId: string, id: string): Promise<CampaignView> {
  const r = await row(tx, businessId, id);
  return view(r, (await countsOf(tx, businessId, [id])).get(id)!);
}

/** Check that list, template and sender exist in this business and fit the channel. */
async function checkParts(
  tx: Tx,
  businessId: string,
  p: { channel: 'sms' | 'email'; list_id: string | null; template_id: string; sender_id: string | null },
): Promise<void> {
  if (!p.list_id) throw new AppError('validation_failed', 'choose a list as the audience');
  const list = await tx.query('SELECT 1 FROM app.lists WHERE business_id = $1 AND id = $2', [businessId, p.list_id]);
  if (list.rowCount === 0) throw new AppError('validation_failed', 'no such list in this business');
  const t = await tx.query<{ channel: string }>(
    'SELECT channel FROM app.message_templates WHERE business_id = $1 AND id = $2',
    [businessId, p.template_id],
  );
  if (!t.rows[0]) throw new AppError('validation_failed', 'no such template in this business');
  if (t.rows[0].channel !== p.channel)
    throw new AppError('validation_failed', `the template is for ${t.rows[0].channel}, the campaign for ${p.channel}`);
  if (p.sender_id) {
    const table = p.channel === 'email' ? 'app.email_senders' : 'app.twilio_configs';
    const s = await tx.query(`SELECT 1 FROM ${table} WHERE business_id = $1 AND id = $2`, [businessId, p.sender_id]);
    if (s.rowCount === 0)
      throw new AppError('validation_failed', `no such ${p.channel === 'email' ? 'email sender' : 'Twilio number'}`);
  }
}

async function requirePostalAddress(tx: Tx, businessId: string): Promise<string> {
  const r = await tx.query<{ postal_address: string | null }>(
    'SELECT postal_address FROM app.businesses WHERE id = $1',
    [businessId],
  );
  const address = r.rows[0]?.postal_address;
  if (!address)
    throw new AppError(
      'postal_address_required',
      'email campaigns carry your postal address in the footer (CAN-SPAM): add it in Settings → General first',
    );
  return address;
}

export async function createCampaign(
  tx: Tx,
  businessId: string,
  userId: string,
  input: CampaignInput,
): Promise<CampaignView> {
  await checkParts(tx, businessId, { ...input, sender_id: input.sender_id ?? null });
  if (input.channel === 'email') await requirePostalAddress(tx, businessId);
  const r = await tx.query<{ id: string }>(
    `INSERT INTO app.campaigns (business_id, name, channel, list_id, template_id, email_sender_id, twilio_config_id, send_at, created_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
    [
      businessId,
      input.name,
      input.channel,
      input.list_id,
      input.template_id,
      input.channel === 'email' ? (input.sender_id ?? null) : null,
      input.channel === 'sms' ? (input.sender_id ?? null) : null,
      input.send_at ?? null,
      userId,
    ],
  );
  return getCampaign(tx, businessId, r.rows[0]!.id);
}

export async function updateCampaign(
  tx: Tx,
  businessId: string,
  id: string,
  patch: Partial<Omit<CampaignInput, 'channel'>>,
): Promise<CampaignView> {
  const cur = await row(tx, businessId, id, true);
  if (cur.status !== 'draft') throw new AppError('campaign_not_draft', 'only a draft can be changed');
  const next = {
    channel: cur.channel,
    name: patch.name ?? cur.name,
    list_id: patch.list_id ?? cur.list_id,
    template_id: patch.template_id ?? cur.template_id,
    sender_id:
      patch.sender_id !== undefined
        ? patch.sender_id
        : cur.channel === 'email'
          ? cur.email_sender_id
          : cur.twilio_config_id,
    send_at: patch.send_at !== undefined ? patch.send_at : iso(cur.send_at),
  };
  await checkParts(tx, businessId, next);
  const r = await tx
    .query(
      `UPDATE app.campaigns SET name = $3, list_id = $4, template_id = $5, email_sender_id = $6, twilio_config_id = $7, send_at = $8
        WHERE business_id = $1 AND id = $2`,
      [
        businessId,
        id,
        next.name,
        next.list_id,
        next.template_id,
        cur.channel === 'email' ? next.sender_id : null,
        cur.channel === 'sms' ? next.sender_id : null,
        next.send_at,
      ],
    )
    .catch(mapTrigger);
  if (r.rowCount === 0) throw forbidden('only its author, an owner or an admin can change this draft');
  return getCampaign(tx, businessId, id);
}

export async function deleteCampaign(tx: Tx, businessId: string, id: string): Promise<void> {
  const cur = await row(tx, businessId, id);
  if (cur.status !== 'draft')
    throw new AppError('campaign_not_draft', 'only a draft can be deleted; cancel it instead');
  const r = await tx.query('DELETE FROM app.campaigns WHERE business_id = $1 AND id = $2', [businessId, id]);
  if (r.rowCount === 0) throw forbidden('only its author, an owner or an admin can delete this draft');
}

// ---------------------------------------------------------------------------
// The audience: every list member, judged once. The same SQL serves the review (counted)
// and the start (inserted), so what the review shows is what the start does.
// ---------------------------------------------------------------------------
export const EXCLUSION_REASONS = [
  'no_address',
  'do_not_contact',
  'opted_out',
  'unsubscribed',
  'suppressed',
  'duplicate_address',
] as const;

/** $1 business, $2 list, $3 channel, $4 the SMS number (opt-outs are per number). */
const AUDIENCE_SQL = `
  WITH members AS (
    SELECT c.id AS contact_id, c.status,
           CASE WHEN $3 = 'email' THEN c.email::text ELSE c.phone END AS address
      FROM app.list_members lm
      JOIN app.contacts c ON c.business_id = lm.business_id AND c.id = lm.contact_id
     WHERE lm.business_id = $1 AND lm.list_id = $2 AND c.deleted_at IS NULL
  ), judged AS (
    SELECT m.contact_id, m.address,
      CASE
        WHEN m.address IS NULL THEN 'no_address'
        WHEN m.status = 'do_not_contact' THEN 'do_not_contact'
        WHEN $3 = 'sms' AND EXISTS (SELECT 1 FROM app.sms_opt_outs o
               WHERE o.business_id = $1 AND o.contact_id = m.contact_id AND o.our_number = $4) THEN 'opted_out'
        WHEN $3 = 'email' AND s.reason = 'unsubscribed' THEN 'unsubscribed'
        WHEN $3 = 'email' AND s.reason IS NOT NULL THEN 'suppressed'
      END AS reason
      FROM members m
      LEFT JOIN app.email_suppressions s ON $3 = 'email' AND s.business_id = $1 AND s.email = m.address
  ), ranked AS (
    SELECT contact_id, address, reason,
           CASE WHEN reason IS NULL
                THEN row_number() OVER (PARTITION BY reason IS NULL, address ORDER BY contact_id) END AS nth
      FROM judged
  )
  SELECT contact_id, CASE WHEN reason IS NULL THEN address END AS address,
         coalesce(reason, CASE WHEN nth > 1 THEN 'duplicate_address' END) AS reason
    FROM ranked`;

export interface AudienceReview {
  list_members: number;
  eligible: number;
  excluded: Record<(typeof EXCLUSION_REASONS)[number], number>;
  sender_id: string | null;
  postal_address: string | null;
}

interface Resolved {
  campaign: Row;
  senderId: string | null;
  smsNumber: string | null;
}

async function resolveSender(tx: Tx, businessId: string, c: Row): Promise<Resolved> {
  if (c.channel === 'email') {
    const r = await tx.query<{ id: string }>(
      `SELECT id FROM app.email_senders WHERE business_id = $1 AND ($2::uuid IS NULL AND is_default OR id = $2)`,
      [businessId, c.email_sender_id],
    );
    return { campaign: c, senderId: r.rows[0]?.id ?? null, smsNumber: null };
  }
  const r = await tx.query<{ id: string; phone_number: string }>(
    `SELECT id, phone_number FROM app.twilio_configs WHERE business_id = $1 AND ($2::uuid IS NULL AND is_default OR id = $2)`,
    [businessId, c.twilio_config_id],
  );
  return { campaign: c, senderId: r.rows[0]?.id ?? null, smsNumber: r.rows[0]?.phone_number ?? null };
}

export async function reviewCampaign(tx: Tx, businessId: string, id: string): Promise<AudienceReview> {
  const c = await row(tx, businessId, id);
  const { senderId, smsNumber } = await resolveSender(tx, businessId, c);
  const excluded = Object.fromEntries(EXCLUSION_REASONS.map((k) => [k, 0])) as AudienceReview['excluded'];
  let members = 0;
  let eligible = 0;
  if (c.list_id) {
    const r = await tx.query<{ reason: string | null; n: string }>(
      `SELECT reason, count(*) AS n FROM (${AUDIENCE_SQL}) a GROUP BY reason`,
      [businessId, c.list_id, c.channel, smsNumber],
    );
    for (const x of r.rows) {
      members += Number(x.n);
      if (x.reason === null) eligible += Number(x.n);
      else excluded[x.reason as keyof typeof excluded] += Number(x.n);
    }
  }
  const b = await tx.query<{ postal_address: string | null }>(
    'SELECT postal_address FROM app.businesses WHERE id = $1',
    [businessId],
  );
  return {
    list_members: members,
    eligible,
    excluded,
    sender_id: senderId,
    postal_address: b.rows[0]?.postal_address ?? null,
  };
}

/**
 * Send now (or at send_at): owners/admins. One transaction: lock the campaign row (a
 * double click waits here, then finds it started: 409), fix the content, leave 'draft',
 * and insert one recipient per list member — queued, or skipped with the reason.
 */
export async function startCampaign(
  tx: Tx,
  businessId: string,
  userId: string,
  id: string,
  isAdmin: boolean,
  /**
   * Members skipped at the start for a caller's own rule, with its reason — a review request
   * skips contacts asked recently (`review_recently_requested`, docs/ARCHITECTURE.md §26).
   */
  skip: { contactIds: string[]; reason: string } = { contactIds: [], reason: 'skipped' },
): Promise<CampaignView> {
  await row(tx, businessId, id); // 404 before 403
  if (!isAdmin) throw forbidden('only owners and admins can send campaigns');
  // The row lock serialises a double click: the second start waits here, then sees it started.
  const c = await row(tx, businessId, id, true);
  if (c.status !== 'draft')
    throw new AppError('invalid_transition', `this campaign has already been started (it is ${c.status})`);
  const { senderId, smsNumber } = await resolveSender(tx, businessId, c);
  if (!senderId)
    throw new AppError(
      'no_email_sender',
      c.channel === 'email'
        ? 'add an email sender in Settings → Integrations first'
        : 'add a Twilio number in Settings → Integrations first',
    );
  await checkParts(tx, businessId, { ...c, sender_id: senderId });
  const footer = c.channel === 'email' ? await requirePostalAddress(tx, businessId) : null;
  const t = await tx.query<{ subject: string | null; body: string }>(
    'SELECT subject, body FROM app.message_templates WHERE business_id = $1 AND id = $2',
    [businessId, c.template_id],
  );
  // A template with the review link needs an attached location (docs/ARCHITECTURE.md §26).
  if (usesReviewLink(t.rows[0]!) && !(await businessReviewLink(tx, businessId))) throw locationMissing();
  const scheduled = c.send_at !== null && c.send_at.getTime() > Date.now();
  await tx
    .query(
      `UPDATE app.campaigns SET status = $3, subject = $4, body = $5, footer_address = $6, started_by = $7, started_at = now(),
              email_sender_id = CASE WHEN channel = 'email' THEN $8::uuid END,
              twilio_config_id = CASE WHEN channel = 'sms' THEN $8::uuid END
        WHERE business_id = $1 AND id = $2`,
      [
        businessId,
        id,
        scheduled ? 'scheduled' : 'sending',
        t.rows[0]!.subject,
        t.rows[0]!.body,
        footer,
        userId,
        senderId,
      ],
    )
    .catch(mapTrigger);
  await tx.query(
    `INSERT INTO app.campaign_recipients (business_id, campaign_id, contact_id, address, status, reason)
     SELECT $1, $5::uuid, a.contact_id, a.address, CASE WHEN a.reason IS NULL AND NOT x.skip THEN 'queued' ELSE 'skipped' END,
            coalesce(a.reason, CASE WHEN x.skip THEN $7::text END)
       FROM (${AUDIENCE_SQL}) a CROSS JOIN LATERAL (SELECT a.contact_id = ANY ($6::uuid[]) AS skip) x
     ON CONFLICT DO NOTHING`,
    [businessId, c.list_id, c.channel, smsNumber, id, skip.contactIds, skip.reason],
  );
  // Every send is an outbox row of this same transaction (docs/ARCHITECTURE.md §24), sharing
  // the recipient's id; the campaign's drain delivers them (src/outreach/dispatcher.ts).
  await tx.query(
    `INSERT INTO app.outbox (id, business_id, channel, sender_id, created_by, campaign_id)
     SELECT r.id, r.business_id, $3, $4, $5, r.campaign_id FROM app.campaign_recipients r
      WHERE r.business_id = $1 AND r.campaign_id = $2 AND r.status = 'queued'`,
    [businessId, id, c.channel, senderId, userId],
  );
  return getCampaign(tx, businessId, id);
}

export async function transitionCampaign(
  tx: Tx,
  businessId: string,
  id: string,
  action: 'pause' | 'resume' | 'cancel',
  isAdmin: boolean,
): Promise<CampaignView> {
  const seen = await row(tx, businessId, id);
  if (action !== 'pause' && !isAdmin) throw forbidden(`only owners and admins can ${action} a campaign`);
  // Members may lock (and pause) only scheduled or sending campaigns: the policies decide.
  const locked = await tx.query<Row>(`${SELECT} WHERE business_id = $1 AND id = $2 FOR UPDATE`, [businessId, id]);
  const c = locked.rows[0] ?? seen;
  const from: Record<typeof action, CampaignStatus[]> = {
    pause: ['scheduled', 'sending'],
    resume: ['paused'],
    cancel: ['scheduled', 'sending', 'paused'],
  };
  if (!from[action].includes(c.status))
    throw new AppError('invalid_transition', `a ${c.status} campaign cannot be ${action}d`);
  const to: CampaignStatus =
    action === 'pause'
      ? 'paused'
      : action === 'cancel'
        ? 'cancelled'
        : c.send_at && c.send_at.getTime() > Date.now()
          ? 'scheduled'
          : 'sending';
  const r = await tx
    .query('UPDATE app.campaigns SET status = $3 WHERE business_id = $1 AND id = $2', [businessId, id, to])
    .catch(mapTrigger);
  if (r.rowCount === 0) throw forbidden();
  return getCampaign(tx, businessId, id);
}

export interface RecipientView {
  contact_id: string;
  first_name: string;
  last_name: string;
  address: string | null;
  status: string;
  reason: string | null;
  sent_at: string | null;
  updated_at: string;
}

export async function listRecipients(
  tx: Tx,
  businessId: string,
  campaignId: string,
  q: { status?: string; limit: number; cursor?: string },
): Promise<{ items: RecipientView[]; next_cursor: string | null }> {
  await row(tx, businessId, campaignId);
  // The database writes the timestamps (`isoSql`, docs/ARCHITECTURE.md §3).
  const r = await tx.query<RecipientView>(
    `SELECT r.contact_id, c.first_name, c.last_name, r.address, r.status, r.reason,
            ${isoSql('r.sent_at')} AS sent_at, ${isoSql('r.updated_at')} AS updated_at
       FROM app.campaign_recipients r JOIN app.contacts c ON c.business_id = r.business_id AND c.id = r.contact_id
      WHERE r.business_id = $1 AND r.campaign_id = $2 AND ($3::text IS NULL OR r.status = $3)
        AND ($4::uuid IS NULL OR r.contact_id > $4)
      ORDER BY r.contact_id LIMIT $5`,
    [businessId, campaignId, q.status ?? null, q.cursor ?? null, q.limit + 1],
  );
  const more = r.rows.length > q.limit;
  const items = r.rows.slice(0, q.limit);
  return { items, next_cursor: more ? items.at(-1)!.contact_id : null };
}
