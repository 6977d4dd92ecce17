// HTTP for messaging: the inbox (conversation-routes.ts), open a conversation, send an
// SMS (any member), and the Twilio webhooks. The webhooks live in their own encapsulated plugin, the only place that
// parses application/x-www-form-urlencoded (Twilio's format); the rest of the API
// stays JSON-only.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { RouteModule } from '../server/app.ts';
import { BEARER_SECURITY, callerOf } from '../server/authenticate.ts';
import { inBusiness } from '../server/scope.ts';
import { conversationRoutes } from './conversation-routes.ts';
import { getConversation } from './conversations.ts';
import type { FormParams } from '../integrations/twilio/signature.ts';
import { receiveInboundSms, receiveStatusCallback } from './inbound.ts';
import { openConversation, sendConversationMessage, type MessagingDeps } from './send.ts';

const security = BEARER_SECURITY;
const tags = ['conversations'];
const WEBHOOK_BODY_LIMIT = 64 * 1024;
const EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>';

function parseForm(text: string): FormParams {
  // A null-prototype object: parameter names such as __proto__ stay plain keys.
  const out = Object.create(null) as FormParams;
  for (const [k, v] of new URLSearchParams(text)) {
    const prev = out[k];
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

export function messagingRoutes(deps: MessagingDeps): RouteModule {
  return async (root: FastifyInstance) => {
    const app = root.withTypeProvider<ZodTypeProvider>();
    const base = '/api/businesses/:bid/conversations';
    conversationRoutes(root, deps.db);

    app.post(
      base,
      {
        schema: {
          tags,
          security,
          summary:
            'Open (or find) the conversation with a contact on a Twilio number (default configuration unless given)',
          params: z.object({ bid: z.string().uuid() }),
          body: z.object({ contact_id: z.string().uuid(), twilio_config_id: z.string().uuid().optional() }).strict(),
        },
      },
      async (req, reply) => {
        const conv = await inBusiness(deps.db, req, req.params.bid, async ({ tx }) => {
          const id = await openConversation(tx, req.params.bid, req.body);
          return getConversation(tx, req.params.bid, id);
        });
        return reply.status(201).send(conv);
      },
    );

    app.post(
      `${base}/:id/messages`,
      {
        schema: {
          tags,
          security,
          summary:
            'Send an SMS in a conversation (any member): 202 with the message `queued`; it is delivered through the outbox, and its status moves sending → sent → delivered | failed',
          params: z.object({ bid: z.string().uuid(), id: z.string().uuid() }),
          body: z
            .object({ body: z.string().trim().min(1, 'body is required').max(1600, 'body is at most 1600 characters') })
            .strict(),
        },
      },
      async (req, reply) => {
        const { sub } = callerOf(req);
        const bid = req.params.bid;
        const message = await sendConversationMessage(
          deps,
          (fn) => inBusiness(deps.db, req, bid, ({ tx }) => fn(tx)),
          { userId: sub },
          bid,
          req.params.id,
          req.body.body,
        );
        req.log.info({ business_id: bid, message_id: message.id, status: message.status }, 'sms queued');
        return reply.status(202).send(message);
      },
    );

    await app.register(async (hooks) => {
      hooks.addContentTypeParser(
        'application/x-www-form-urlencoded',
        { parseAs: 'string', bodyLimit: WEBHOOK_BODY_LIMIT },
        (_req, body, done) => {
          done(null, parseForm(body as string));
        },
      );
      const hookOf = (req: { params: unknown; url: string; headers: Record<string, unknown>; body: unknown }) => ({
        configId: (req.params as { configId: string }).configId,
        // Twilio signs the URL it was given: our public URL + this path and query.
        url: `${deps.publicUrl}${req.url}`,
        signature:
          typeof req.headers['x-twilio-signature'] === 'string' ? req.headers['x-twilio-signature'] : undefined,
        params: (req.body && typeof req.body === 'object' ? req.body : {}) as FormParams,
      });

      hooks.post(
        '/webhooks/twilio/:configId/sms',
        { schema: { hide: true }, config: { rawText: true } },
        async (req, reply) => {
          const outcome = await receiveInboundSms(deps, hookOf(req));
          req.log.info({ config_id: (req.params as { configId: string }).configId, outcome }, 'twilio inbound sms');
          return reply.type('text/xml; charset=utf-8').send(EMPTY_TWIML);
        },
      );

      hooks.post(
        '/webhooks/twilio/:configId/status',
        { schema: { hide: true }, config: { rawText: true } },
        async (req, reply) => {
          const { m, r } = req.query as Record<string, unknown>;
          const outcome = await receiveStatusCallback(deps, hookOf(req), {
            message: typeof m === 'string' ? m : undefined,
            recipient: typeof r === 'string' ? r : undefined,
          });
          req.log.info({ config_id: (req.params as { configId: string }).configId, outcome }, 'twilio status callback');
          return reply.type('text/xml; charset=utf-8').send(EMPTY_TWIML);
        },
      );
    });
  };
}
