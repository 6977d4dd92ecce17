// A job engine on a test database, with fast polling and supervision, stopped by the caller.
import { openJobDatabase } from '../../src/db/job-database.ts';
import { createJobEngine, type JobEngine, type JobEngineOptions } from '../../src/jobs/engine.ts';
import type { TestDatabase } from './engine.ts';

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

export function testJobEngine(t: TestDatabase, options: Partial<JobEngineOptions> = {}): JobEngine {
  return createJobEngine({
    database: openJobDatabase(t.engine),
    logger: quiet,
    workers: true,
    pollSeconds: 0.5,
    superviseSeconds: 1,
    concurrency: 2,
    stopTimeoutSeconds: 5,
    ...options,
  });
}
