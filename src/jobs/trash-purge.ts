// Contacts in the trash for 30 days (docs/ARCHITECTURE.md §11), hourly, in batches of
// 5000 — one short service transaction each, so the purge never holds locks for long.
import type { Database } from '../db/index.ts';
import { purgeDeletedContacts } from '../crm/contacts.ts';
import type { Logger } from '../observability/logger.ts';
import type { JobHandler } from './engine.ts';
import { defineQueue, noPayload } from './queue.ts';

export const trashPurgeQueue = defineQueue({
  name: 'crm.trash-purge',
  payload: noPayload,
  policy: { policy: 'exclusive', retryLimit: 2, expireInSeconds: 1800 },
  cron: '23 * * * *',
});

export function trashPurgeHandler(db: Database, logger: Pick<Logger, 'info'>, batch = 5000): JobHandler<object> {
  return async (_payload, job) => {
    let total = 0;
    for (;;) {
      const n = await db.asService('crm.trash-purge', (tx) => purgeDeletedContacts(tx, batch));
      total += n;
      if (n < batch || job.signal.aborted) break;
    }
    if (total) logger.info({ contacts: total }, 'contacts purged from the trash');
  };
}
