// HTTP: reading conversations and messages, and marking a conversation read. Opening a
// conversation and sending live in routes.ts beside the Twilio webhooks.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Database } from '../db/index.ts';
import { getConversation, listConversations, listMessages, markConversationRead } from './conversations.ts';
import { bidParams, idParams, pageOf, pageQuery } from '../crm/schemas.ts';
import { inBusiness } from '../server/scope.ts';
import { conversationQuery, conversationSchema, messageSchema } from './schemas.ts';
import { BEARER_SECURITY } from '../server/authenticate.ts';

const security = BEARER_SECURITY;

export function conversationRoutes(root: FastifyInstance, db: Database): void {
  const app = root.withTypeProvider<ZodTypeProvider>();
  const base = '/api/businesses/:bid/conversations';
  const tags = ['conversations'];

  app.get(
    base,
    {
      // The inbox: its transaction's set-up is the session check (§8).
      config: { sessionInTransaction: true },
      schema: {
        tags,
        security,
        summary: 'Conversations, most recent first, with unread counts',
        params: bidParams,
        querystring: conversationQuery,
        response: { 200: pageOf(conversationSchema).extend({ unread_total: conversationSchema.shape.unread_count }) },
      },
    },
    async (req) =>
      inBusiness(db, req, req.params.bid, ({ tx, businessId }) => listConversations(tx, businessId, req.query)),
  );

  app.get(
    `${base}/:id`,
    {
      schema: { tags, security, summary: 'A conversation', params: idParams, response: { 200: conversationSchema } },
    },
    async (req) =>
      inBusiness(db, req, req.params.bid, ({ tx, businessId }) => getConversation(tx, businessId, req.params.id)),
  );

  app.get(
    `${base}/:id/messages`,
    {
      // An open thread: its transaction's set-up is the session check (§8).
      config: { sessionInTransaction: true },
      schema: {
        tags,
        security,
        summary: 'Messages, newest first (keyset paged)',
        params: idParams,
        querystring: pageQuery,
        response: { 200: pageOf(messageSchema) },
      },
    },
    async (req) =>
      inBusiness(db, req, req.params.bid, ({ tx, businessId }) =>
        listMessages(tx, businessId, req.params.id, req.query),
      ),
  );

  app.post(
    `${base}/:id/read`,
    {
      schema: {
        tags,
        security,
        summary: 'Mark a conversation read',
        params: idParams,
        response: { 200: conversationSchema },
      },
    },
    async (req) =>
      inBusiness(db, req, req.params.bid, ({ tx, businessId }) => markConversationRead(tx, businessId, req.params.id)),
  );
}
