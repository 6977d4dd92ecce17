// Outreach (docs/ARCHITECTURE.md "Outreach"): templates, campaigns and their dispatcher,
// and the public unsubscribe page, built by the composition root (src/main.ts).
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config/index.ts';
import type { Database } from '../db/index.ts';
import { createEmailDelivery } from '../integrations/email/deliver.ts';
import { createGoogleConnection } from '../integrations/google/connection.ts';
import { createCommitMarks } from '../messaging/commit-marks.ts';
import type { OutboxDriver, OutboxNotifier } from '../messaging/outbox.ts';
import type { TwilioClient } from '../integrations/twilio/client.ts';
import type { Logger } from '../observability/logger.ts';
import type { RouteModule } from '../server/app.ts';
import type { MasterKey } from '../vault/master-key.ts';
import type { Vault } from '../vault/secrets.ts';
import { campaignRoutes } from './campaign-routes.ts';
import { contactEmailRoutes } from './contact-email-routes.ts';
import { createCampaignDispatcher, type CampaignDispatcher } from './dispatcher.ts';
import { createEmailDriver } from './email-driver.ts';
import { templateRoutes } from './template-routes.ts';
import { createUnsubscribeTokens } from './unsubscribe.ts';
import { unsubscribeRoutes } from './unsubscribe-routes.ts';

export function createOutreach(deps: {
  config: Config;
  db: Database;
  vault: Vault;
  twilio: TwilioClient;
  masterKey: MasterKey;
  logger: Logger;
  outbox: OutboxNotifier;
}): { modules: RouteModule[]; dispatcher: CampaignDispatcher; emailDriver: OutboxDriver; close(): Promise<void> } {
  const { config, db, vault } = deps;
  const tokens = createUnsubscribeTokens(deps.masterKey);
  const email = createEmailDelivery({
    db,
    vault,
    google: createGoogleConnection({ config, db, vault }),
    googleApiBase: config.google.apiBase,
    smtpPolicy: { allowPrivateHosts: config.allowPrivateHosts },
    messageIdDomain: new URL(config.publicUrl).hostname,
  });
  // One group commit of points of no return per node, for 1:1 and campaign sends alike.
  const marks = createCommitMarks(db);
  const emailDriver = createEmailDriver({
    db,
    email,
    marks,
    tokens,
    publicUrl: config.publicUrl,
    cap: config.jobs.outboxCap,
  });
  const dispatcher = createCampaignDispatcher({
    db,
    vault,
    marks,
    email,
    twilio: deps.twilio,
    tokens,
    logger: deps.logger,
    publicUrl: config.publicUrl,
    throttle: config.campaigns.throttle,
    smsWindow: config.campaigns.smsWindow ? [...config.campaigns.smsWindow] : null,
    pollMs: config.campaigns.pollMs,
    leaseSeconds: config.campaigns.leaseSeconds,
    concurrency: config.campaigns.concurrency,
  });
  const routes: RouteModule = async (app: FastifyInstance) => {
    templateRoutes(app, db);
    campaignRoutes(app, db);
    contactEmailRoutes(app, db, deps.outbox);
  };
  return {
    modules: [routes, unsubscribeRoutes({ db, tokens })],
    dispatcher,
    emailDriver,
    async close() {
      await dispatcher.stop();
      email.close();
    },
  };
}
