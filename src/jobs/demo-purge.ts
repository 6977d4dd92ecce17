// Expired demo workspaces and their users (docs/ARCHITECTURE.md §13), hourly.
// The queue is exclusive: one purge queued or running at a time across all nodes.
import type { Database } from '../db/index.ts';
import { purgeExpiredDemos } from '../demo/purge.ts';
import type { Logger } from '../observability/logger.ts';
import type { JobHandler } from './engine.ts';
import { defineQueue, noPayload } from './queue.ts';

export const demoPurgeQueue = defineQueue({
  name: 'demo.purge',
  payload: noPayload,
  policy: { policy: 'exclusive', retryLimit: 2, expireInSeconds: 600 },
  cron: '7 * * * *',
});

export function demoPurgeHandler(db: Database, logger: Pick<Logger, 'info'>): JobHandler<object> {
  return async () => {
    const r = await purgeExpiredDemos(db);
    if (r.businesses || r.users)
      logger.info({ demo_businesses: r.businesses, demo_users: r.users }, 'expired demo workspaces purged');
  };
}
