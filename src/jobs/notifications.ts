// The notification queues (docs/ARCHITECTURE.md §12.1), each a
// cron sweep on an exclusive queue (one run at a time across all nodes):
// - notifications.task-due, every minute: "task due" notifications, claimed once per due time;
// - notifications.digest, every five minutes: the daily email digest of each user whose
//   chosen local hour has come (claimed once per local day, sent after the claim commits);
// - notifications.retention, hourly: notifications older than 90 days go.
import type { Database } from '../db/index.ts';
import type { Mailer } from '../mail/mailer.ts';
import type { Logger } from '../observability/logger.ts';
import { runDigest } from '../notifications/digest.ts';
import { notifyDueTasks, purgeOldNotifications } from '../notifications/reminders.ts';
import type { JobEngine } from './engine.ts';
import { defineQueue, noPayload } from './queue.ts';

export const taskDueQueue = defineQueue({
  name: 'notifications.task-due',
  payload: noPayload,
  policy: { policy: 'exclusive', retryLimit: 1, expireInSeconds: 120 },
  cron: '* * * * *',
});
export const digestQueue = defineQueue({
  name: 'notifications.digest',
  payload: noPayload,
  // No retry: the claim already committed, and a retry must not mail anyone twice.
  policy: { policy: 'exclusive', retryLimit: 0, expireInSeconds: 600 },
  cron: '*/5 * * * *',
});
export const notificationRetentionQueue = defineQueue({
  name: 'notifications.retention',
  payload: noPayload,
  policy: { policy: 'exclusive', retryLimit: 2, expireInSeconds: 1800 },
  cron: '41 * * * *',
});

export interface NotificationJobDeps {
  db: Database;
  logger: Logger;
  mailer: Mailer;
  publicUrl: string;
}

export function registerNotificationQueues(jobs: JobEngine, deps: NotificationJobDeps, batch = 500): void {
  jobs.register(taskDueQueue, async (_p, job) => {
    let total = 0;
    for (;;) {
      const n = await deps.db.asService('notifications.task-due', (tx) => notifyDueTasks(tx, batch));
      total += n;
      if (n < batch || job.signal.aborted) break;
    }
    if (total) deps.logger.info({ notifications: total }, 'task-due notifications written');
  });
  jobs.register(digestQueue, async () => {
    const sent = await runDigest(deps.db, deps.mailer, deps.logger, deps.publicUrl);
    if (sent) deps.logger.info({ digests: sent }, 'notification digests sent');
  });
  jobs.register(notificationRetentionQueue, async (_p, job) => {
    for (;;) {
      const n = await deps.db.asService('notifications.retention', (tx) => purgeOldNotifications(tx, 5000));
      if (n < 5000 || job.signal.aborted) break;
    }
  });
}
