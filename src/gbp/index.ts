// Google Business Profile (docs/ARCHITECTURE.md §26): the module's services, route modules and
// job handlers, built by the composition root from the shared vault and job engine. It uses the
// business's Google connection (src/integrations/google) for tokens; nothing there imports this.
import type { Config } from '../config/index.ts';
import type { Database } from '../db/index.ts';
import { createGoogleConnection } from '../integrations/google/connection.ts';
import type { RouteModule } from '../server/app.ts';
import type { Vault } from '../vault/secrets.ts';
import { createGbpAccess } from './access.ts';
import { createGbpClient } from './client.ts';
import { gbpLocationRoutes } from './location-routes.ts';
import { createGbpLocations } from './locations.ts';

export function createGbp(deps: { config: Config; db: Database; vault: Vault }) {
  const { config, db, vault } = deps;
  const google = createGoogleConnection({ config, db, vault });
  const client = createGbpClient(config.google.apiBase);
  const access = createGbpAccess({ db, google });
  const locations = createGbpLocations({ db, client, access });
  const modules: RouteModule[] = [gbpLocationRoutes({ db, locations })];
  return { client, access, locations, modules };
}
