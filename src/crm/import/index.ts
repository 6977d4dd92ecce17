// CSV import/export as one route module for the composition root: the runner lives
// as long as the app (resumes interrupted jobs when the app is ready, finishes its
// batch in flight when the app closes).
import type { Database } from '../../db/index.ts';
import type { Logger } from '../../observability/logger.ts';
import type { RouteModule } from '../../server/app.ts';
import { createImportRunner } from './import-runner.ts';
import { importRoutes } from './routes.ts';

export function contactImportRoutes(deps: {
  db: Database;
  logger: Logger;
  engineKind: 'server' | 'embedded';
}): RouteModule {
  // The embedded engine runs one transaction at a time: overlapping batches would only queue.
  const inFlight = deps.engineKind === 'server' ? 2 : 1;
  return importRoutes({ db: deps.db, runner: createImportRunner({ db: deps.db, logger: deps.logger, inFlight }) });
}
