// HTTP: POST /api/businesses/:bid/contacts/:id/emails — queue a 1:1 email (any member).
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Database } from '../db/index.ts';
import { nudgeDelivery, type OutboxNotifier } from '../messaging/outbox.ts';
import { inBusiness } from '../server/scope.ts';
import { queueContactEmail } from './contact-emails.ts';

const emailView = z.object({
  id: z.string(),
  contact_id: z.string(),
  sender_id: z.string().nullable(),
  to: z.string(),
  subject: z.string(),
  status: z.enum(['queued', 'sending', 'sent', 'failed']),
  reason: z.string().nullable(),
  created_at: z.string(),
  sent_at: z.string().nullable(),
});

export function contactEmailRoutes(root: FastifyInstance, db: Database, outbox: OutboxNotifier): void {
  const app = root.withTypeProvider<ZodTypeProvider>();
  app.post(
    '/api/businesses/:bid/contacts/:id/emails',
    {
      schema: {
        tags: ['contacts'],
        security: [{ bearer: [] }],
        summary:
          'Send the contact an email (any member): queued (202) with its outbox row and delivered by the outbox through the chosen sender (default when omitted); Markdown body sent as text + safe HTML; refused for suppressed addresses',
        params: z.object({ bid: z.uuid(), id: z.uuid() }),
        body: z.strictObject({
          sender_id: z.uuid().nullish(),
          subject: z
            .string()
            .trim()
            .min(1)
            .max(500)
            .refine((v) => !/[\r\n]/.test(v), 'subject must be one line'),
          body: z.string().min(1).max(50_000),
        }),
        response: { 202: emailView },
      },
    },
    async (req, reply) => {
      const queued = await inBusiness(db, req, req.params.bid, ({ tx, businessId, userId }) =>
        queueContactEmail(tx, businessId, userId, req.params.id, req.body),
      );
      nudgeDelivery(outbox, req.log, { id: queued.id, businessId: req.params.bid });
      return reply.status(202).send(queued);
    },
  );
}
