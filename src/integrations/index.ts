// The integrations module's route modules (Settings → Integrations: Twilio
// configurations, the integration audit log, the Google connection), built by the
// composition root (src/main.ts) from the shared vault and Twilio client. Messaging
// (src/messaging) uses this module's provider adapters; nothing here imports messaging.
import type { Config } from '../config/index.ts';
import type { Database } from '../db/index.ts';
import type { RouteModule } from '../server/app.ts';
import type { Vault } from '../vault/secrets.ts';
import { twilioIntegrationRoutes } from './routes.ts';
import type { TwilioClient } from './twilio/client.ts';
import { createGoogleConnection } from './google/connection.ts';
import { googleIntegrationRoutes } from './google/routes.ts';
import { emailSenderRoutes } from './email/routes.ts';

export function integrationModules(deps: {
  config: Config;
  db: Database;
  vault: Vault;
  twilio: TwilioClient;
}): RouteModule[] {
  const { config, db, vault, twilio } = deps;
  const google = createGoogleConnection({ config, db, vault });
  return [
    twilioIntegrationRoutes({ db, vault, twilio, publicUrl: config.publicUrl }),
    emailSenderRoutes({ db, vault, smtpPolicy: { allowPrivateHosts: config.allowPrivateHosts } }),
    googleIntegrationRoutes({
      db,
      google,
      publicUrl: config.publicUrl,
      secureCookies: config.publicUrl.startsWith('https://'),
    }),
  ];
}
