// HTTP: one search box over the business's contacts, deals and conversations.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Database } from '../db/index.ts';
import { bidParams, searchQuery, searchSchema } from './schemas.ts';
import { inBusiness } from '../server/scope.ts';
import { globalSearch } from './search.ts';
import { BEARER_SECURITY } from '../server/authenticate.ts';

const security = BEARER_SECURITY;

export function searchRoutes(root: FastifyInstance, db: Database): void {
  const app = root.withTypeProvider<ZodTypeProvider>();
  app.get(
    '/api/businesses/:bid/search',
    {
      // The search box on every screen: the set-up is the session check (§8).
      config: { sessionInTransaction: true },
      schema: {
        tags: ['search'],
        security,
        summary: 'Search contacts, deals and conversations',
        params: bidParams,
        querystring: searchQuery,
        response: { 200: searchSchema },
      },
    },
    async (req) =>
      inBusiness(db, req, req.params.bid, ({ tx, businessId }) =>
        globalSearch(tx, businessId, req.query.q, req.query.limit),
      ),
  );
}
