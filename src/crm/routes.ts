// The CRM module's routes (docs/ARCHITECTURE.md §11), all under /api/businesses/:bid and all run as the
// signed-in caller inside that business (scope.ts). CSV import/export registers its
// own routes from src/crm/import.
import type { FastifyInstance } from 'fastify';
import type { Database } from '../db/index.ts';
import type { RouteModule } from '../server/app.ts';
import { activityRoutes } from './activity-routes.ts';
import { contactRoutes } from './contact-routes.ts';
import { customFieldRoutes } from './custom-field-routes.ts';
import { dashboardRoutes } from './dashboard-routes.ts';
import { dealRoutes } from './deal-routes.ts';
import { listRoutes } from './list-routes.ts';
import { searchRoutes } from './search-routes.ts';

export function crmRoutes(deps: { db: Database }): RouteModule {
  return async (app: FastifyInstance) => {
    contactRoutes(app, deps.db);
    listRoutes(app, deps.db);
    dealRoutes(app, deps.db);
    activityRoutes(app, deps.db);
    searchRoutes(app, deps.db);
    customFieldRoutes(app, deps.db);
    dashboardRoutes(app, deps.db);
  };
}
