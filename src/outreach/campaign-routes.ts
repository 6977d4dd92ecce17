// HTTP: campaigns under /api/businesses/:bid/campaigns (docs/ARCHITECTURE.md "Campaigns").
// Who may send: owners and admins start, resume and cancel; any member drafts, reviews
// and pauses. Enforced by the policies of 0083; the checks here only choose the answer.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Database, Tx } from '../db/index.ts';
import { inBusiness } from '../server/scope.ts';
import {
  createCampaign,
  deleteCampaign,
  EXCLUSION_REASONS,
  getCampaign,
  listCampaigns,
  listRecipients,
  reviewCampaign,
  startCampaign,
  transitionCampaign,
  updateCampaign,
} from './campaigns.ts';

const tags = ['campaigns'];
const security = [{ bearer: [] }];
const bidParams = z.object({ bid: z.uuid() });
const idParams = bidParams.extend({ id: z.uuid() });
const channel = z.enum(['sms', 'email']);
const sendAt = z.iso
  .datetime({ offset: true })
  .nullish()
  .describe('when to send (ISO 8601); omitted or null = when started');

const campaignCreate = z.strictObject({
  name: z.string().trim().min(1).max(200),
  channel,
  list_id: z.uuid(),
  template_id: z.uuid(),
  sender_id: z.uuid().nullish().describe('email sender (email) or Twilio number (sms); the default when omitted'),
  send_at: sendAt,
});
const campaignUpdate = z.strictObject({
  name: z.string().trim().min(1).max(200).optional(),
  list_id: z.uuid().optional(),
  template_id: z.uuid().optional(),
  sender_id: z.uuid().nullish(),
  send_at: sendAt,
});

const counts = z.object({
  total: z.number(),
  eligible: z.number(),
  queued: z.number(),
  sent: z.number(),
  delivered: z.number(),
  failed: z.number(),
  skipped: z.number(),
});
export const campaignSchema = z.object({
  id: z.string(),
  name: z.string(),
  channel,
  list_id: z.string().nullable(),
  template_id: z.string(),
  sender_id: z.string().nullable(),
  send_at: z.string().nullable(),
  status: z.enum(['draft', 'scheduled', 'sending', 'paused', 'completed', 'cancelled']),
  created_by: z.string().nullable(),
  started_by: z.string().nullable(),
  created_at: z.string(),
  started_at: z.string().nullable(),
  completed_at: z.string().nullable(),
  counts,
});
const reviewSchema = z.object({
  list_members: z.number(),
  eligible: z.number(),
  excluded: z.object(
    Object.fromEntries(EXCLUSION_REASONS.map((k) => [k, z.number()])) as Record<
      (typeof EXCLUSION_REASONS)[number],
      z.ZodNumber
    >,
  ),
  sender_id: z.string().nullable(),
  postal_address: z.string().nullable(),
});
const recipientSchema = z.object({
  contact_id: z.string(),
  first_name: z.string(),
  last_name: z.string(),
  address: z.string().nullable(),
  status: z.string(),
  reason: z.string().nullable(),
  sent_at: z.string().nullable(),
  updated_at: z.string(),
});

const isAdmin = async (tx: Tx, bid: string) =>
  (await tx.query<{ ok: boolean }>(`SELECT app.has_role($1, 'admin') AS ok`, [bid])).rows[0]?.ok === true;

export function campaignRoutes(root: FastifyInstance, db: Database): void {
  const app = root.withTypeProvider<ZodTypeProvider>();
  const base = '/api/businesses/:bid/campaigns';

  app.get(
    base,
    {
      schema: {
        tags,
        security,
        summary: 'Campaigns with live counts (any member)',
        params: bidParams,
        response: { 200: z.object({ items: z.array(campaignSchema) }) },
      },
    },
    async (req) => ({
      items: await inBusiness(db, req, req.params.bid, ({ tx, businessId }) => listCampaigns(tx, businessId)),
    }),
  );

  app.post(
    base,
    {
      schema: {
        tags,
        security,
        summary: 'Create a draft campaign (any member); email needs the business postal address',
        params: bidParams,
        body: campaignCreate,
        response: { 201: campaignSchema },
      },
    },
    async (req, reply) =>
      reply
        .status(201)
        .send(
          await inBusiness(db, req, req.params.bid, ({ tx, businessId, userId }) =>
            createCampaign(tx, businessId, userId, req.body),
          ),
        ),
  );

  app.get(
    `${base}/:id`,
    {
      schema: {
        tags,
        security,
        summary: 'One campaign: {status, counts:{total, eligible, queued, sent, delivered, failed, skipped}}',
        params: idParams,
        response: { 200: campaignSchema },
      },
    },
    async (req) =>
      inBusiness(db, req, req.params.bid, ({ tx, businessId }) => getCampaign(tx, businessId, req.params.id)),
  );

  app.patch(
    `${base}/:id`,
    {
      schema: {
        tags,
        security,
        summary: 'Change a draft (its author, an owner or an admin)',
        params: idParams,
        body: campaignUpdate,
        response: { 200: campaignSchema },
      },
    },
    async (req) =>
      inBusiness(db, req, req.params.bid, ({ tx, businessId }) =>
        updateCampaign(tx, businessId, req.params.id, req.body),
      ),
  );

  app.delete(
    `${base}/:id`,
    { schema: { tags, security, summary: 'Delete a draft (its author, an owner or an admin)', params: idParams } },
    async (req, reply) => {
      await inBusiness(db, req, req.params.bid, ({ tx, businessId }) => deleteCampaign(tx, businessId, req.params.id));
      return reply.status(204).send();
    },
  );

  app.get(
    `${base}/:id/review`,
    {
      schema: {
        tags,
        security,
        summary:
          'The audience before sending: list members, eligible, and why the rest are excluded (no address, do not contact, opted out, unsubscribed, suppressed, duplicate address)',
        params: idParams,
        response: { 200: reviewSchema },
      },
    },
    async (req) =>
      inBusiness(db, req, req.params.bid, ({ tx, businessId }) => reviewCampaign(tx, businessId, req.params.id)),
  );

  app.post(
    `${base}/:id/start`,
    {
      schema: {
        tags,
        security,
        summary:
          'Send now, or at send_at (owner/admin). Creates one recipient per list member, once: a second start is 409 invalid_transition',
        params: idParams,
        response: { 200: campaignSchema },
      },
    },
    async (req) =>
      inBusiness(db, req, req.params.bid, async ({ tx, businessId, userId }) =>
        startCampaign(tx, businessId, userId, req.params.id, await isAdmin(tx, businessId)),
      ),
  );

  for (const action of ['pause', 'resume', 'cancel'] as const) {
    app.post(
      `${base}/:id/${action}`,
      {
        schema: {
          tags,
          security,
          summary:
            action === 'pause'
              ? 'Pause a scheduled or sending campaign (any member: a brake anyone can pull)'
              : `${action === 'resume' ? 'Resume a paused' : 'Cancel a'} campaign (owner/admin)`,
          params: idParams,
          response: { 200: campaignSchema },
        },
      },
      async (req) =>
        inBusiness(db, req, req.params.bid, async ({ tx, businessId }) =>
          transitionCampaign(tx, businessId, req.params.id, action, await isAdmin(tx, businessId)),
        ),
    );
  }

  app.get(
    `${base}/:id/recipients`,
    {
      schema: {
        tags,
        security,
        summary: 'Per-recipient status (queued, sending, sent, delivered, failed with the reason, skipped with why)',
        params: idParams,
        querystring: z.object({
          status: z.enum(['queued', 'sending', 'sent', 'delivered', 'failed', 'skipped']).optional(),
          limit: z.coerce.number().int().min(1).max(500).default(100),
          cursor: z.uuid().optional(),
        }),
        response: { 200: z.object({ items: z.array(recipientSchema), next_cursor: z.string().nullable() }) },
      },
    },
    async (req) =>
      inBusiness(db, req, req.params.bid, ({ tx, businessId }) =>
        listRecipients(tx, businessId, req.params.id, req.query),
      ),
  );
}
