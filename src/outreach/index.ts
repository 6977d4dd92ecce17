// Outreach (docs/ARCHITECTURE.md "Outreach"): templates, 1:1 email and campaigns,
// registered by the composition root (src/main.ts).
import type { FastifyInstance } from 'fastify';
import type { Database } from '../db/index.ts';
import type { RouteModule } from '../server/app.ts';
import { templateRoutes } from './template-routes.ts';

export function outreachRoutes(deps: { db: Database }): RouteModule {
  return async (app: FastifyInstance) => {
    templateRoutes(app, deps.db);
  };
}
