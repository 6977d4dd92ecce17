// Settings → Integrations (docs/ARCHITECTURE.md §16): Twilio configurations and the audit log, under
// /api/businesses/:bid/integrations. Responses show the Account SID masked and never
// any token; the request body's auth_token is redacted from logs by the logger.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { parsePhoneNumberFromString } from 'libphonenumber-js';
import { z } from 'zod';
import { listIntegrationEvents } from '../audit/integration-events.ts';
import type { RouteModule } from '../server/app.ts';
import { BEARER_SECURITY, callerOf } from '../server/authenticate.ts';
import { inBusiness } from '../server/scope.ts';
import { AppError } from '../shared/errors.ts';
import type { Actor } from './permissions.ts';
import {
  addTwilioConfig,
  listTwilioConfigs,
  removeTwilioConfig,
  setDefaultTwilioConfig,
  setTwilioRate,
  type TwilioDeps,
} from './twilio/configs.ts';

const security = BEARER_SECURITY;
const tags = ['integrations'];
const bidParams = z.object({ bid: z.string().uuid() });
const configParams = bidParams.extend({ id: z.string().uuid() });

// Messages name the rule, never the value: a mistyped token must not be echoed back.
const newConfigBody = z
  .object({
    friendly_name: z.string().trim().min(1, 'Name is required').max(100, 'Name must be at most 100 characters'),
    account_sid: z
      .string()
      .trim()
      .regex(/^AC[0-9a-fA-F]{32}$/, 'Account SID must be AC followed by 32 hex digits')
      .transform((s) => `AC${s.slice(2).toLowerCase()}`),
    auth_token: z
      .string()
      .trim()
      .regex(/^[0-9a-fA-F]{32}$/, 'Auth token must be 32 hex digits'),
    phone_number: z
      .string()
      .trim()
      .max(32, 'Phone number must be an E.164 number such as +15551234567')
      .transform((s, ctx) => {
        const p = parsePhoneNumberFromString(s, 'US');
        if (!p || !p.isValid()) {
          ctx.addIssue({ code: 'custom', message: 'Phone number must be an E.164 number such as +15551234567' });
          return z.NEVER;
        }
        return p.number;
      }),
  })
  .strict();

const configView = z.object({
  id: z.string(),
  friendly_name: z.string(),
  account_sid: z.string(),
  phone_number: z.string(),
  is_default: z.boolean(),
  messages_per_second: z.number().int(),
  created_by: z.string().nullable(),
  created_by_email: z.string().nullable(),
  created_at: z.string(),
  webhooks: z.object({ sms: z.string(), status: z.string() }),
});

const configPatchBody = z
  .object({
    messages_per_second: z
      .number()
      .int('messages_per_second must be a whole number')
      .min(1, 'messages_per_second must be between 1 and 100')
      .max(100, 'messages_per_second must be between 1 and 100'),
  })
  .strict();

const auditQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: z
    .string()
    .regex(/^\d{1,18}$/, 'cursor is the next_cursor of a previous page')
    .optional(),
});
const auditItem = z.object({
  id: z.string(),
  seq: z.number(),
  occurred_at: z.string(),
  actor_user_id: z.string().nullable(),
  actor_email: z.string().nullable(),
  action: z.string(),
  subject_id: z.string().nullable(),
  details: z.record(z.string(), z.unknown()),
  ip: z.string().nullable(),
  user_agent: z.string().nullable(),
});

export function actorOf(request: FastifyRequest): Actor {
  const ua = request.headers['user-agent'];
  return { userId: callerOf(request).sub, ip: request.ip, userAgent: typeof ua === 'string' ? ua : undefined };
}

export function twilioIntegrationRoutes(deps: TwilioDeps): RouteModule {
  return async (root: FastifyInstance) => {
    const app = root.withTypeProvider<ZodTypeProvider>();
    const base = '/api/businesses/:bid/integrations';

    app.get(
      `${base}/twilio`,
      {
        schema: {
          tags,
          security,
          summary: 'Twilio configurations (any member; SID masked, never a token)',
          params: bidParams,
          response: { 200: z.object({ items: z.array(configView) }) },
        },
      },
      async (req) => ({
        items: await inBusiness(deps.db, req, req.params.bid, ({ tx }) =>
          listTwilioConfigs(tx, deps.publicUrl, req.params.bid),
        ),
      }),
    );

    app.post(
      `${base}/twilio`,
      {
        schema: {
          tags,
          security,
          summary: 'Add a Twilio configuration (owner/admin); credentials are verified with Twilio first',
          params: bidParams,
          body: newConfigBody,
          response: { 201: configView },
        },
      },
      async (req, reply) => {
        const created = await addTwilioConfig(deps, actorOf(req), req.params.bid, req.body);
        req.log.info(
          { business_id: req.params.bid, config_id: created.id, account_sid: created.account_sid },
          'twilio configuration added',
        );
        return reply.status(201).send(created);
      },
    );

    app.delete(
      `${base}/twilio/:id`,
      {
        schema: {
          tags,
          security,
          summary: 'Remove a Twilio configuration and its stored token (owner/admin)',
          params: configParams,
        },
      },
      async (req, reply) => {
        await removeTwilioConfig(deps, actorOf(req), req.params.bid, req.params.id);
        req.log.info({ business_id: req.params.bid, config_id: req.params.id }, 'twilio configuration removed');
        return reply.status(204).send();
      },
    );

    app.post(
      `${base}/twilio/:id/default`,
      {
        schema: {
          tags,
          security,
          summary: 'Make a configuration the default (owner/admin)',
          params: configParams,
          response: { 200: configView },
        },
      },
      async (req) => {
        const updated = await setDefaultTwilioConfig(deps, actorOf(req), req.params.bid, req.params.id);
        req.log.info({ business_id: req.params.bid, config_id: req.params.id }, 'twilio default configuration set');
        return updated;
      },
    );

    app.patch(
      `${base}/twilio/:id`,
      {
        schema: {
          tags,
          security,
          summary:
            "Set a number's throughput cap, messages_per_second 1–100 (owner/admin; audited as twilio.config.updated). " +
            'US long codes allow 1/s; toll-free and short codes more. 1:1 texts and campaigns on the number share it.',
          params: configParams,
          body: configPatchBody,
          response: { 200: configView },
        },
      },
      async (req) => {
        const updated = await setTwilioRate(
          deps,
          actorOf(req),
          req.params.bid,
          req.params.id,
          req.body.messages_per_second,
        );
        req.log.info(
          { business_id: req.params.bid, config_id: req.params.id, messages_per_second: updated.messages_per_second },
          'twilio configuration rate set',
        );
        return updated;
      },
    );

    app.get(
      `${base}/audit`,
      {
        schema: {
          tags,
          security,
          summary: 'Integration audit log, newest first (owner/admin)',
          params: bidParams,
          querystring: auditQuery,
          response: { 200: z.object({ items: z.array(auditItem), next_cursor: z.string().nullable() }) },
        },
      },
      async (req) =>
        inBusiness(deps.db, req, req.params.bid, async ({ tx }) => {
          // RLS returns nothing to members; say so instead of showing an empty log.
          const admin = await tx.query<{ ok: boolean }>(`SELECT app.has_role($1, 'admin') AS ok`, [req.params.bid]);
          if (admin.rows[0]?.ok !== true)
            throw new AppError('forbidden', 'only owners and admins can read the integration audit log');
          return listIntegrationEvents(tx, req.params.bid, req.query);
        }),
    );
  };
}
