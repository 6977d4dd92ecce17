// The integrations module's route modules, built by the composition root (src/main.ts)
// from its shared dependencies: the vault (over the master key), the Twilio client
// (over the operator's TWILIO_API_BASE), and the Google connection.
import type { Config } from '../config/index.ts';
import type { Database } from '../db/index.ts';
import type { Logger } from '../observability/logger.ts';
import type { RouteModule } from '../server/app.ts';
import type { MasterKey } from '../vault/master-key.ts';
import { createVault } from '../vault/secrets.ts';
import { messagingRoutes } from '../messaging/routes.ts';
import { twilioIntegrationRoutes } from './routes.ts';
import { createTwilioClient } from './twilio/client.ts';
import { createGoogleConnection } from './google/connection.ts';
import { googleIntegrationRoutes } from './google/routes.ts';

export function integrationModules(deps: {
  config: Config;
  db: Database;
  logger: Logger;
  masterKey: MasterKey;
}): RouteModule[] {
  const vault = createVault(deps.masterKey);
  const twilio = createTwilioClient(deps.config.twilioApiBase);
  const shared = { db: deps.db, vault, twilio, publicUrl: deps.config.publicUrl };
  const google = createGoogleConnection({ config: deps.config, db: deps.db, vault });
  return [
    twilioIntegrationRoutes(shared),
    messagingRoutes({ ...shared, logger: deps.logger }),
    googleIntegrationRoutes({
      db: deps.db,
      google,
      publicUrl: deps.config.publicUrl,
      secureCookies: deps.config.publicUrl.startsWith('https://'),
    }),
  ];
}
