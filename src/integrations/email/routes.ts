// Settings → Integrations → Email senders, under /api/businesses/:bid/integrations/email.
// Responses never carry the password; the request body's `password` is redacted from
// logs by the logger. Owners/admins change senders (checked in the service and by the
// database's audit triggers); any member lists them.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { RouteModule } from '../../server/app.ts';
import { inBusiness } from '../../server/scope.ts';
import { actorOf } from '../routes.ts';
import {
  addEmailSender,
  listEmailSenders,
  removeEmailSender,
  setDefaultEmailSender,
  updateEmailSender,
  type EmailSenderDeps,
} from './senders.ts';

const security = [{ bearer: [] }];
const tags = ['integrations'];
const bidParams = z.object({ bid: z.uuid() });
const senderParams = bidParams.extend({ id: z.uuid() });

const fromName = z
  .string()
  .trim()
  .min(1, 'from_name is required')
  .max(100, 'from_name is at most 100 characters')
  .refine((v) => !/[\r\n]/.test(v), 'from_name must be one line');
const fromEmail = z
  .string()
  .trim()
  .max(254)
  .pipe(z.email('from_email must be an email address'))
  .transform((e) => e.toLowerCase());
const host = z.string().trim().min(1, 'host is required').max(253);
const port = z.number().int().min(1).max(65535);
const securityMode = z.enum(['tls', 'starttls', 'none']);
const username = z.string().min(1, 'username is required').max(254);
// Never echoed: the message names the rule only.
const password = z.string().min(1, 'password is required').max(1024, 'password is at most 1024 characters');
const rate = z.number().int().min(1).max(1000);

const newSenderBody = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('smtp'),
    host,
    port,
    security: securityMode,
    username,
    password,
    from_email: fromEmail,
    from_name: fromName,
    rate_per_second: rate.optional(),
  }),
  z.strictObject({ kind: z.literal('gmail'), from_name: fromName, rate_per_second: rate.optional() }),
]);

const patchSenderBody = z.strictObject({
  host: host.optional(),
  port: port.optional(),
  security: securityMode.optional(),
  username: username.optional(),
  password: password.optional(),
  from_email: fromEmail.optional(),
  from_name: fromName.optional(),
  rate_per_second: rate.optional(),
});

export const emailSenderView = z.object({
  id: z.string(),
  kind: z.enum(['smtp', 'gmail']),
  from_name: z.string(),
  from_email: z.string(),
  host: z.string().nullable(),
  port: z.number().nullable(),
  security: securityMode.nullable(),
  username: z.string().nullable(),
  rate_per_second: z.number(),
  is_default: z.boolean(),
  created_by: z.string().nullable(),
  created_by_email: z.string().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
});

export function emailSenderRoutes(deps: EmailSenderDeps): RouteModule {
  return async (root: FastifyInstance) => {
    const app = root.withTypeProvider<ZodTypeProvider>();
    const base = '/api/businesses/:bid/integrations/email';

    app.get(
      base,
      {
        schema: {
          tags,
          security,
          summary: 'Email senders (any member; never a password)',
          params: bidParams,
          response: { 200: z.object({ items: z.array(emailSenderView) }) },
        },
      },
      async (req) => ({
        items: await inBusiness(deps.db, req, req.params.bid, ({ tx }) => listEmailSenders(tx, req.params.bid)),
      }),
    );

    app.post(
      base,
      {
        schema: {
          tags,
          security,
          summary:
            'Add an email sender (owner/admin): SMTP (login verified before saving; host must be public unless CAPTO_ALLOW_PRIVATE_HOSTS) or the connected Gmail account',
          params: bidParams,
          body: newSenderBody,
          response: { 201: emailSenderView },
        },
      },
      async (req, reply) => {
        const created = await addEmailSender(deps, actorOf(req), req.params.bid, req.body);
        req.log.info({ business_id: req.params.bid, sender_id: created.id, kind: created.kind }, 'email sender added');
        return reply.status(201).send(created);
      },
    );

    app.patch(
      `${base}/:id`,
      {
        schema: {
          tags,
          security,
          summary:
            'Change an email sender (owner/admin); changing host, port, security or username requires the password again and re-verifies the login',
          params: senderParams,
          body: patchSenderBody,
          response: { 200: emailSenderView },
        },
      },
      async (req) => {
        const updated = await updateEmailSender(deps, actorOf(req), req.params.bid, req.params.id, req.body);
        req.log.info({ business_id: req.params.bid, sender_id: req.params.id }, 'email sender updated');
        return updated;
      },
    );

    app.delete(
      `${base}/:id`,
      {
        schema: {
          tags,
          security,
          summary: 'Remove an email sender and its stored password (owner/admin)',
          params: senderParams,
        },
      },
      async (req, reply) => {
        await removeEmailSender(deps, actorOf(req), req.params.bid, req.params.id);
        req.log.info({ business_id: req.params.bid, sender_id: req.params.id }, 'email sender removed');
        return reply.status(204).send();
      },
    );

    app.post(
      `${base}/:id/default`,
      {
        schema: {
          tags,
          security,
          summary: 'Make an email sender the default (owner/admin)',
          params: senderParams,
          response: { 200: emailSenderView },
        },
      },
      async (req) => {
        const updated = await setDefaultEmailSender(deps, actorOf(req), req.params.bid, req.params.id);
        req.log.info({ business_id: req.params.bid, sender_id: req.params.id }, 'email default sender set');
        return updated;
      },
    );
  };
}
