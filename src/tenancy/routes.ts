// The workspace HTTP API (docs/ARCHITECTURE.md §13). Handlers parse, call a service inside
// the caller's transaction (tenancyTx: asUser + live session), and shape the answer.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { RouteModule } from '../server/app.ts';
import { BEARER_SECURITY, callerOf } from '../server/authenticate.ts';
import { recordAuthEvent } from '../auth/events.ts';
import { createBusiness, deleteBusiness, getBusiness, listMyBusinesses, updateBusiness } from './businesses.ts';
import { tenancyTx } from './db-errors.ts';
import { acceptInvitation } from './invitations.ts';
import { getMe } from './me.ts';
import type { TenancyDeps } from './deps.ts';
import { teamRoutes } from './routes-team.ts';
import {
  acceptBody,
  businessParams,
  businessSchema,
  createBusinessBody,
  deleteBusinessBody,
  meSchema,
  updateBusinessBody,
} from './schemas.ts';

const SECURED = BEARER_SECURITY;

export function tenancyRoutes(deps: TenancyDeps): RouteModule {
  return async (root: FastifyInstance) => {
    const app = root.withTypeProvider<ZodTypeProvider>();
    const { db, config, logger } = deps;

    app.get(
      '/api/me',
      {
        schema: {
          tags: ['workspaces'],
          summary: 'The signed-in user, her businesses (role, trial, demo) and app flags',
          security: SECURED,
          response: { 200: meSchema },
        },
      },
      async (request) => tenancyTx(db, request, (tx) => getMe(tx, { googleSignIn: Boolean(config.google.clientId) })),
    );

    app.get(
      '/api/businesses',
      {
        schema: {
          tags: ['workspaces'],
          summary: 'The businesses the caller belongs to, with her role in each',
          security: SECURED,
          response: { 200: z.object({ businesses: z.array(businessSchema) }) },
        },
      },
      async (request) => ({ businesses: await tenancyTx(db, request, (tx) => listMyBusinesses(tx)) }),
    );

    app.post(
      '/api/businesses',
      {
        schema: {
          tags: ['workspaces'],
          summary: 'Create a business; the caller becomes its owner',
          security: SECURED,
          body: createBusinessBody,
          response: { 201: businessSchema },
        },
      },
      async (request, reply) => {
        const { sub } = callerOf(request);
        const business = await tenancyTx(db, request, (tx) => createBusiness(tx, sub, request.body));
        logger.info({ business_id: business.id, user_id: sub }, 'business created');
        return reply.status(201).send(business);
      },
    );

    app.get(
      '/api/businesses/:bid',
      {
        schema: {
          tags: ['workspaces'],
          summary: 'A business the caller belongs to, with her role',
          security: SECURED,
          params: businessParams,
          response: { 200: businessSchema },
        },
      },
      async (request) => tenancyTx(db, request, (tx) => getBusiness(tx, request.params.bid)),
    );

    app.patch(
      '/api/businesses/:bid',
      {
        schema: {
          tags: ['workspaces'],
          summary: 'Update name, NMLS number, time zone (IANA) or postal address (owner or admin)',
          security: SECURED,
          params: businessParams,
          body: updateBusinessBody,
          response: { 200: businessSchema },
        },
      },
      async (request) => tenancyTx(db, request, (tx) => updateBusiness(tx, request.params.bid, request.body)),
    );

    app.delete(
      '/api/businesses/:bid',
      {
        schema: {
          tags: ['workspaces'],
          summary: 'Delete a business and all of its data (owner only; confirm with its exact name)',
          security: SECURED,
          params: businessParams,
          body: deleteBusinessBody,
          response: { 204: z.null() },
        },
      },
      async (request, reply) => {
        const { sub, sid } = callerOf(request);
        const deleted = await tenancyTx(db, request, (tx) =>
          deleteBusiness(tx, request.params.bid, request.body.confirm_name),
        );
        // The deletion is committed first; the event follows in a service transaction
        // (auth events are written by capto_service). Should that write fail, the log
        // line below still records who deleted what.
        logger.warn({ business_id: deleted.id, user_id: sub }, 'business deleted');
        const ua = request.headers['user-agent'];
        await db
          .asService('tenancy.business_deleted', (tx) =>
            recordAuthEvent(tx, {
              type: 'business_deleted',
              userId: sub,
              sessionId: sid ?? null,
              ip: request.ip,
              userAgent: typeof ua === 'string' ? ua : null,
              details: { business_id: deleted.id, business_name: deleted.name },
            }),
          )
          .catch((e: unknown) =>
            logger.error({ err: e, business_id: deleted.id }, 'could not record the business_deleted event'),
          );
        return reply.status(204).send(null);
      },
    );

    app.post(
      '/api/invitations/accept',
      {
        schema: {
          tags: ['workspaces'],
          summary: 'Accept an invitation: the caller’s verified email must be the invited one',
          security: SECURED,
          body: acceptBody,
          response: { 200: z.object({ business: businessSchema }) },
        },
      },
      async (request) => {
        const business = await tenancyTx(db, request, (tx) => acceptInvitation(tx, request.body.token));
        logger.info(
          { business_id: business.id, user_id: callerOf(request).sub, role: business.role },
          'invitation accepted',
        );
        return { business };
      },
    );

    await teamRoutes(app, deps);
  };
}
