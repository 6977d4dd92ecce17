// What the tenancy routes are built from (by the composition root, src/main.ts).
import type { Config } from '../config/index.ts';
import type { Database } from '../db/index.ts';
import type { Mailer } from '../mail/mailer.ts';
import type { Logger } from '../observability/logger.ts';

export interface TenancyDeps {
  config: Config;
  db: Database;
  logger: Logger;
  mailer: Mailer;
  /** HMAC key of the invitation rate-limit counters (derived from the master key). */
  rateKeySecret: Buffer;
}
