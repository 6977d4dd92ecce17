// CSV import/export as one route module for the composition root: the runner lives
// as long as the app (finishes its batch in flight when the app closes); interrupted
// jobs are resumed by the job engine's `import.resume` queue (src/jobs/import-resume.ts).
import type { Database } from '../../db/index.ts';
import type { Logger } from '../../observability/logger.ts';
import type { RouteModule } from '../../server/app.ts';
import { createImportRunner, type ImportRunner } from './import-runner.ts';
import { importRoutes } from './routes.ts';

export function contactImport(deps: { db: Database; logger: Logger; engineKind: 'server' | 'embedded' }): {
  routes: RouteModule;
  runner: ImportRunner;
} {
  // The embedded engine runs one transaction at a time: overlapping batches would only queue.
  const inFlight = deps.engineKind === 'server' ? 2 : 1;
  const runner = createImportRunner({ db: deps.db, logger: deps.logger, inFlight });
  return { routes: importRoutes({ db: deps.db, runner }), runner };
}
