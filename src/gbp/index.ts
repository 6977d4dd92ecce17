// Google Business Profile (docs/ARCHITECTURE.md §26): the module's services, route modules and
// job handlers, built by the composition root from the shared vault and job engine. It uses the
// business's Google connection (src/integrations/google) for tokens; nothing there imports this.
import type { AssistDeps } from '../ai/assist.ts';
import type { Config } from '../config/index.ts';
import type { Database } from '../db/index.ts';
import { createGoogleConnection } from '../integrations/google/connection.ts';
import type { JobEngine } from '../jobs/engine.ts';
import {
  gbpNotifier,
  gbpPublishHandler,
  gbpPublishQueue,
  gbpSweepHandler,
  gbpSweepQueue,
} from '../jobs/gbp-publish.ts';
import type { Logger } from '../observability/logger.ts';
import type { RouteModule } from '../server/app.ts';
import type { Vault } from '../vault/secrets.ts';
import { createGbpAccess } from './access.ts';
import { createGbpClient } from './client.ts';
import { gbpLocationRoutes } from './location-routes.ts';
import { createGbpLocations } from './locations.ts';
import { gbpPostRoutes } from './post-routes.ts';
import { gbpReviewRoutes } from './review-routes.ts';
import { createGbpReviews } from './reviews.ts';
import {
  gbpReplyHandler,
  gbpReplyNotifier,
  gbpReplyQueue,
  gbpReviewsSyncHandler,
  gbpReviewsSyncQueue,
} from '../jobs/gbp-reviews.ts';
import { createGbpPublisher } from './publisher.ts';

export function createGbp(deps: {
  config: Config;
  db: Database;
  vault: Vault;
  jobs: JobEngine;
  logger: Logger;
  assist: AssistDeps;
}) {
  const { config, db, vault, jobs, logger, assist } = deps;
  const google = createGoogleConnection({ config, db, vault });
  const client = createGbpClient(config.google.apiBase);
  const access = createGbpAccess({ db, google });
  const locations = createGbpLocations({ db, client, access });
  const publisher = createGbpPublisher({ db, client, access, logger });
  const notifier = gbpNotifier(jobs);
  jobs.register(gbpPublishQueue, gbpPublishHandler(publisher, jobs));
  jobs.register(gbpSweepQueue, gbpSweepHandler(db, jobs));
  const reviews = createGbpReviews({ db, client, access, logger });
  jobs.register(gbpReviewsSyncQueue, gbpReviewsSyncHandler(reviews));
  jobs.register(gbpReplyQueue, gbpReplyHandler(reviews));
  const modules: RouteModule[] = [
    gbpLocationRoutes({ db, locations }),
    gbpPostRoutes({ db, book: notifier.book }),
    gbpReviewRoutes({ db, reviews, bookReply: gbpReplyNotifier(jobs), assist }),
  ];
  return { client, access, locations, publisher, reviews, modules };
}
