// Review requests (docs/ARCHITECTURE.md §26 "Review requests"): a text or an email with the
// attached location's review link (`{{ business.review_link }}`, §21 merge fields), to a funded
// deal's borrower or to a list, through the campaign templates and senders, recorded in
// app.gbp_review_requests (0123) so nobody is asked twice within REVIEW_REQUEST_WINDOW_DAYS.
//
//   * From a deal: one message, queued in the caller's transaction and name exactly like a 1:1
//     text (§24) or a 1:1 email (§21), with its record — owners/admins for any funded deal,
//     members for deals they own or whose borrower they own (0123's INSERT policy).
//   * From a list: a campaign with that template, started at once (§21: the same audience rules,
//     opt-outs, suppressions, quiet hours, footer and drain), its recently asked members skipped
//     with `review_recently_requested`, and one record per queued recipient — owners/admins.
//   * The automation step `request_review` (§25, src/automations/steps.ts) uses the same window
//     and records its request through `recordReviewRequest` as the service.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Database, Tx } from '../db/index.ts';
import type { OutboxNotifier } from '../messaging/outbox.ts';
import type { Logger } from '../observability/logger.ts';
import { nudgeDelivery, withOutbox } from '../messaging/outbox.ts';
import { openConversation } from '../messaging/send.ts';
import { createCampaign, startCampaign } from '../outreach/campaigns.ts';
import { queueContactEmail } from '../outreach/contact-emails.ts';
import { businessReviewLink, loadMergeContext } from '../outreach/context.ts';
import { inSmsWindow } from '../outreach/dispatcher.ts';
import { locationMissing, renderEmailMarkdown, renderSms, usesReviewLink } from '../outreach/merge.ts';
import type { RouteModule } from '../server/app.ts';
import { BEARER_SECURITY } from '../server/authenticate.ts';
import { inBusiness } from '../server/scope.ts';
import { AppError, forbidden, notFound } from '../shared/errors.ts';

/** A contact asked within this many days is not asked again. */
export const REVIEW_REQUEST_WINDOW_DAYS = 180;
export const RECENTLY_REQUESTED = 'review_recently_requested';

/** Of these contacts, those asked for a review within the window before `now`. */
export async function recentlyAsked(tx: Tx, businessId: string, contactIds: string[], now = new Date()) {
  if (contactIds.length === 0) return new Set<string>();
  const r = await tx.query<{ contact_id: string }>(
    `SELECT DISTINCT contact_id FROM app.gbp_review_requests
      WHERE business_id = $1 AND contact_id = ANY ($2::uuid[]) AND created_at > $3::timestamptz - make_interval(days => $4)`,
    [businessId, contactIds, now, REVIEW_REQUEST_WINDOW_DAYS],
  );
  return new Set(r.rows.map((x) => x.contact_id));
}

/** The service records the automation step's request (its message is `messageId`). */
export async function recordReviewRequest(
  tx: Tx,
  r: {
    businessId: string;
    contactId: string;
    dealId: string | null;
    channel: 'sms' | 'email';
    messageId: string;
    automationId: string;
    at: Date;
  },
): Promise<void> {
  await tx.query(
    `INSERT INTO app.gbp_review_requests (business_id, contact_id, deal_id, channel, source, message_id, automation_id, created_at)
     VALUES ($1, $2, (SELECT id FROM app.deals WHERE business_id = $1 AND id = $3), $4, 'automation', $5, $6, $7)`,
    [r.businessId, r.contactId, r.dealId, r.channel, r.messageId, r.automationId, r.at],
  );
}

export interface ReviewRequestInput {
  channel: 'sms' | 'email';
  template_id: string;
  sender_id?: string | null;
  deal_id?: string;
  list_id?: string;
}

export interface ReviewRequestResult {
  /** Messages queued now (a list's are delivered by its campaign). */
  queued: number;
  /** Members not asked, by reason (a list; a deal's refusals are errors). */
  skipped: Record<string, number>;
  /** The deal's message (its outbox id), or null for a list. */
  message_id: string | null;
  /** The list's campaign, or null for a deal. */
  campaign_id: string | null;
}

const isAdmin = async (tx: Tx, businessId: string) =>
  (await tx.query<{ ok: boolean }>(`SELECT app.has_role($1, 'admin') AS ok`, [businessId])).rows[0]?.ok === true;

/** The template must be the channel's, of this business, and carry the review link; a location must be attached. */
async function reviewTemplate(tx: Tx, businessId: string, input: ReviewRequestInput) {
  const t = await tx.query<{ channel: string; subject: string | null; body: string }>(
    'SELECT channel, subject, body FROM app.message_templates WHERE business_id = $1 AND id = $2',
    [businessId, input.template_id],
  );
  const template = t.rows[0];
  if (!template) throw notFound('template');
  if (template.channel !== input.channel)
    throw new AppError(
      'validation_failed',
      `the template is for ${template.channel}, the request for ${input.channel}`,
    );
  if (!usesReviewLink(template))
    throw new AppError('validation_failed', 'a review request template must include {{ business.review_link }}');
  if (!(await businessReviewLink(tx, businessId))) throw locationMissing();
  return template;
}

async function fromDeal(
  tx: Tx,
  businessId: string,
  userId: string,
  dealId: string,
  input: ReviewRequestInput,
  smsWindow: [number, number] | null,
): Promise<ReviewRequestResult> {
  const d = await tx.query<{
    stage: string;
    contact_id: string | null;
    deal_owner: string | null;
    contact_owner: string | null;
    contact_status: string | null;
    demo: boolean;
    time_zone: string;
  }>(
    `SELECT d.stage::text AS stage, c.id AS contact_id, d.owner_id AS deal_owner, c.owner_id AS contact_owner,
            c.status::text AS contact_status, b.is_demo AS demo, b.time_zone
       FROM app.deals d JOIN app.businesses b ON b.id = d.business_id
       LEFT JOIN app.contacts c ON c.business_id = d.business_id AND c.id = d.contact_id AND c.deleted_at IS NULL
      WHERE d.business_id = $1 AND d.id = $2`,
    [businessId, dealId],
  );
  const deal = d.rows[0];
  if (!deal) throw notFound('deal');
  // Who may ask (0123's policy decides again at the insert): owners/admins, or the member whose deal or borrower it is.
  if (deal.deal_owner !== userId && deal.contact_owner !== userId && !(await isAdmin(tx, businessId)))
    throw forbidden('only owners, admins and the member who owns this deal or its borrower can ask for a review');
  if (deal.stage !== 'funded') throw new AppError('conflict', 'only a funded deal’s borrower is asked for a review');
  if (!deal.contact_id) throw new AppError('validation_failed', 'this deal has no borrower contact');
  const contactId = deal.contact_id;
  if (deal.demo) throw new AppError('demo_restricted', 'demo workspaces cannot send messages; sign up to use your own');
  const template = await reviewTemplate(tx, businessId, input);
  if ((await recentlyAsked(tx, businessId, [contactId])).size > 0)
    throw new AppError(
      'review_recently_requested',
      `this contact was asked for a review within the last ${REVIEW_REQUEST_WINDOW_DAYS} days`,
    );
  if (deal.contact_status === 'do_not_contact')
    throw new AppError('contact_opted_out', 'this contact is marked do not contact');
  const ctx = await loadMergeContext(tx, businessId, contactId, userId);
  let messageId: string;
  if (input.channel === 'sms') {
    // Quiet hours (the campaigns' TCPA window, §21) in the business's zone: nothing is texted outside it.
    if (!inSmsWindow(smsWindow, deal.time_zone, new Date()))
      throw new AppError(
        'quiet_hours',
        `texts go out between ${smsWindow![0]}:00 and ${smsWindow![1]}:00 in the business's time zone; ask again then`,
      );
    const conversationId = await openConversation(tx, businessId, {
      contact_id: contactId,
      ...(input.sender_id ? { twilio_config_id: input.sender_id } : {}),
    });
    const conv = await tx.query<{ config_id: string; opted_out: boolean }>(
      `SELECT t.id AS config_id,
              EXISTS (SELECT 1 FROM app.sms_opt_outs o WHERE o.business_id = v.business_id AND o.contact_id = v.contact_id
                         AND o.our_number = v.our_number) AS opted_out
         FROM app.conversations v JOIN app.twilio_configs t
           ON t.business_id = v.business_id AND (t.id = v.twilio_config_id OR t.phone_number = v.our_number)
        WHERE v.business_id = $1 AND v.id = $2 ORDER BY (t.id = v.twilio_config_id) DESC NULLS LAST LIMIT 1`,
      [businessId, conversationId],
    );
    if (!conv.rows[0]) throw new AppError('no_twilio_config', 'add a Twilio number in Settings → Integrations first');
    if (conv.rows[0].opted_out)
      throw new AppError('contact_opted_out', 'this contact has opted out of texts from this number');
    const body = renderSms(template, ctx).slice(0, 1600);
    messageId = randomUUID();
    await tx.query(
      `INSERT INTO app.messages (id, business_id, conversation_id, direction, body, status, sender_user_id)
       VALUES ($1, $2, $3, 'outbound', $4, 'queued', $5)`,
      [messageId, businessId, conversationId, body, userId],
    );
    await withOutbox(tx, {
      id: messageId,
      businessId,
      channel: 'sms',
      senderId: conv.rows[0].config_id,
      createdBy: userId,
    });
  } else {
    const { subject, markdown } = renderEmailMarkdown({ subject: template.subject ?? '', body: template.body }, ctx);
    const email = await queueContactEmail(tx, businessId, userId, contactId, {
      sender_id: input.sender_id ?? null,
      subject: subject.slice(0, 500),
      body: markdown.slice(0, 50_000),
    });
    messageId = email.id;
  }
  await tx.query(
    `INSERT INTO app.gbp_review_requests (business_id, contact_id, deal_id, channel, source, message_id, requested_by)
     VALUES ($1, $2, $3, $4, 'deal', $5, $6)`,
    [businessId, contactId, dealId, input.channel, messageId, userId],
  );
  return { queued: 1, skipped: {}, message_id: messageId, campaign_id: null };
}

async function fromList(
  tx: Tx,
  businessId: string,
  userId: string,
  listId: string,
  input: ReviewRequestInput,
): Promise<ReviewRequestResult> {
  const list = await tx.query<{ name: string }>('SELECT name FROM app.lists WHERE business_id = $1 AND id = $2', [
    businessId,
    listId,
  ]);
  if (!list.rows[0]) throw notFound('list');
  if (!(await isAdmin(tx, businessId))) throw forbidden('only owners and admins can ask a list for reviews');
  await reviewTemplate(tx, businessId, input);
  const members = await tx.query<{ contact_id: string }>(
    'SELECT contact_id FROM app.list_members WHERE business_id = $1 AND list_id = $2',
    [businessId, listId],
  );
  const recent = await recentlyAsked(
    tx,
    businessId,
    members.rows.map((m) => m.contact_id),
  );
  // A list's review request is a campaign with that template (§21), started now.
  const campaign = await createCampaign(tx, businessId, userId, {
    name: `Review request: ${list.rows[0].name}`.slice(0, 200),
    channel: input.channel,
    list_id: listId,
    template_id: input.template_id,
    sender_id: input.sender_id ?? null,
  });
  await startCampaign(tx, businessId, userId, campaign.id, true, {
    contactIds: [...recent],
    reason: RECENTLY_REQUESTED,
  });
  const recorded = await tx.query(
    `INSERT INTO app.gbp_review_requests (business_id, contact_id, channel, source, message_id, campaign_id, requested_by)
     SELECT r.business_id, r.contact_id, $3, 'list', r.id, r.campaign_id, $4 FROM app.campaign_recipients r
      WHERE r.business_id = $1 AND r.campaign_id = $2 AND r.status = 'queued'`,
    [businessId, campaign.id, input.channel, userId],
  );
  const skipped = await tx.query<{ reason: string; n: string }>(
    `SELECT reason, count(*) AS n FROM app.campaign_recipients
      WHERE business_id = $1 AND campaign_id = $2 AND status = 'skipped' GROUP BY reason`,
    [businessId, campaign.id],
  );
  return {
    queued: recorded.rowCount ?? 0,
    skipped: Object.fromEntries(skipped.rows.map((x) => [x.reason, Number(x.n)])),
    message_id: null,
    campaign_id: campaign.id,
  };
}

export async function requestReviews(
  tx: Tx,
  businessId: string,
  userId: string,
  input: ReviewRequestInput,
  smsWindow: [number, number] | null,
): Promise<ReviewRequestResult> {
  if (input.deal_id) return fromDeal(tx, businessId, userId, input.deal_id, input, smsWindow);
  return fromList(tx, businessId, userId, input.list_id!, input);
}

export interface ReviewRequestView {
  id: string;
  contact_id: string;
  deal_id: string | null;
  channel: 'sms' | 'email';
  source: 'deal' | 'list' | 'automation';
  campaign_id: string | null;
  automation_id: string | null;
  requested_by: string | null;
  created_at: string;
}

export async function listReviewRequests(
  tx: Tx,
  businessId: string,
  q: { deal_id?: string; contact_id?: string; limit?: number },
): Promise<ReviewRequestView[]> {
  const r = await tx.query<ReviewRequestView & { created_at: Date }>(
    `SELECT id, contact_id, deal_id, channel, source, campaign_id, automation_id, requested_by, created_at
       FROM app.gbp_review_requests
      WHERE business_id = $1 AND ($2::uuid IS NULL OR deal_id = $2) AND ($3::uuid IS NULL OR contact_id = $3)
      ORDER BY created_at DESC, id LIMIT $4`,
    [businessId, q.deal_id ?? null, q.contact_id ?? null, q.limit ?? 100],
  );
  return r.rows.map((x) => ({ ...x, created_at: x.created_at.toISOString() }));
}

// ---------------------------------------------------------------------------
// HTTP: POST|GET /api/businesses/:bid/gbp/review-requests
// ---------------------------------------------------------------------------
const tags = ['business-profile'];
const security = BEARER_SECURITY;

const requestBody = z
  .object({
    channel: z.enum(['sms', 'email']),
    template_id: z.uuid(),
    /** The email sender, or the Twilio number (configuration id); the business's default when omitted. */
    sender_id: z.uuid().nullable().optional(),
    deal_id: z.uuid().optional(),
    list_id: z.uuid().optional(),
  })
  .strict()
  .refine((b) => (b.deal_id === undefined) !== (b.list_id === undefined), {
    message: 'give exactly one of deal_id (a funded deal’s borrower) or list_id (the list’s members)',
  });

const resultSchema = z.object({
  queued: z.number().int(),
  skipped: z.record(z.string(), z.number().int()),
  message_id: z.uuid().nullable(),
  campaign_id: z.uuid().nullable(),
});

const requestViewSchema = z.object({
  id: z.uuid(),
  contact_id: z.uuid(),
  deal_id: z.uuid().nullable(),
  channel: z.enum(['sms', 'email']),
  source: z.enum(['deal', 'list', 'automation']),
  campaign_id: z.uuid().nullable(),
  automation_id: z.uuid().nullable(),
  requested_by: z.uuid().nullable(),
  created_at: z.string(),
});

export function gbpReviewRequestRoutes(deps: {
  db: Database;
  outbox: OutboxNotifier;
  smsWindow: readonly [number, number] | null;
  logger: Logger;
}): RouteModule {
  const smsWindow = deps.smsWindow ? ([...deps.smsWindow] as [number, number]) : null;
  return async (root: FastifyInstance) => {
    const app = root.withTypeProvider<ZodTypeProvider>();
    const base = '/api/businesses/:bid/gbp/review-requests';
    app.post(
      base,
      {
        schema: {
          tags,
          security,
          summary:
            'Ask for a Google review with the location’s review link: a funded deal’s borrower (owner/admin, or the member who owns the deal or borrower) or a list’s members as a campaign (owner/admin). 409 gbp_location_missing without a location, review_recently_requested within 180 days, quiet_hours for a text outside the SMS window',
          params: z.object({ bid: z.uuid() }),
          body: requestBody,
          response: { 202: resultSchema },
        },
      },
      async (req, reply) => {
        const out = await inBusiness(deps.db, req, req.params.bid, ({ tx, businessId, userId }) =>
          requestReviews(tx, businessId, userId, req.body, smsWindow),
        );
        // The deal's text (a list's campaign is drained by the dispatcher).
        if (out.message_id) nudgeDelivery(deps.outbox, deps.logger, { id: out.message_id, businessId: req.params.bid });
        return reply.code(202).send(out);
      },
    );
    app.get(
      base,
      {
        schema: {
          tags,
          security,
          summary: 'Review requests sent, newest first (any member); `?deal_id` or `?contact_id` narrows',
          params: z.object({ bid: z.uuid() }),
          querystring: z
            .object({
              deal_id: z.uuid().optional(),
              contact_id: z.uuid().optional(),
              limit: z.coerce.number().int().min(1).max(500).optional(),
            })
            .strict(),
          response: { 200: z.object({ items: z.array(requestViewSchema) }) },
        },
      },
      async (req) => ({
        items: await inBusiness(deps.db, req, req.params.bid, ({ tx, businessId }) =>
          listReviewRequests(tx, businessId, req.query),
        ),
      }),
    );
  };
}
