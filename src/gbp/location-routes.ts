// HTTP for the Business Profile location (docs/ARCHITECTURE.md §26), under /api/businesses/:bid:
// `GET google/locations` (owner/admin: what the connected Google user manages),
// `GET|PUT|DELETE google/location` (any member reads; owner/admin attaches and detaches).
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Database } from '../db/index.ts';
import type { RouteModule } from '../server/app.ts';
import { BEARER_SECURITY } from '../server/authenticate.ts';
import { inBusiness } from '../server/scope.ts';
import { actorOf } from '../integrations/routes.ts';
import type { GbpLocations } from './locations.ts';

const security = BEARER_SECURITY;
const tags = ['business-profile'];
const bidParams = z.object({ bid: z.uuid() });

export const availableLocationSchema = z.object({
  account_name: z.string(),
  account_title: z.string().nullable(),
  location_name: z.string(),
  title: z.string(),
  address: z.string().nullable(),
  review_uri: z.string().nullable(),
});
export const attachedLocationSchema = z.object({
  id: z.uuid(),
  account_name: z.string(),
  location_name: z.string(),
  title: z.string(),
  address: z.string().nullable(),
  place_id: z.string().nullable(),
  maps_uri: z.string().nullable(),
  review_uri: z.string().nullable(),
  status: z.enum(['active', 'needs_reconnect']),
  attached_by: z.uuid().nullable(),
  attached_at: z.string(),
});

export function gbpLocationRoutes(deps: { db: Database; locations: GbpLocations }): RouteModule {
  return async (root: FastifyInstance) => {
    const app = root.withTypeProvider<ZodTypeProvider>();
    const base = '/api/businesses/:bid/google';

    app.get(
      `${base}/locations`,
      {
        schema: {
          tags,
          security,
          summary: 'Business Profile locations the connected Google account manages (owner/admin)',
          params: bidParams,
          response: { 200: z.object({ items: z.array(availableLocationSchema) }) },
        },
      },
      async (req) => ({ items: await deps.locations.list(actorOf(req), req.params.bid) }),
    );

    app.get(
      `${base}/location`,
      {
        schema: {
          tags,
          security,
          summary: 'The attached Business Profile location (any member)',
          params: bidParams,
          response: { 200: z.object({ location: attachedLocationSchema.nullable() }) },
        },
      },
      async (req) => ({
        location: await inBusiness(deps.db, req, req.params.bid, ({ tx }) =>
          deps.locations.current(tx, req.params.bid),
        ),
      }),
    );

    app.put(
      `${base}/location`,
      {
        schema: {
          tags,
          security,
          summary: 'Attach a Business Profile location (owner/admin; replaces the previous one; audited)',
          params: bidParams,
          body: z
            .object({
              account_name: z.string().regex(/^accounts\/[0-9]{1,30}$/),
              location_name: z.string().regex(/^locations\/[0-9]{1,30}$/),
            })
            .strict(),
          response: { 200: z.object({ location: attachedLocationSchema }) },
        },
      },
      async (req) => ({ location: await deps.locations.attach(actorOf(req), req.params.bid, req.body) }),
    );

    app.delete(
      `${base}/location`,
      {
        schema: {
          tags,
          security,
          summary: 'Detach the Business Profile location (owner/admin; scheduled posts stop; audited)',
          params: bidParams,
          response: { 204: z.null() },
        },
      },
      async (req, reply) => {
        await deps.locations.detach(actorOf(req), req.params.bid);
        return reply.status(204).send(null);
      },
    );
  };
}
