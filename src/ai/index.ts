// The AI module (docs/ARCHITECTURE.md §23): one client for every business's provider
// (over the operator's OPENAI_BASE_URL and CAPTO_ALLOW_PRIVATE_HOSTS), and its routes.
import type { Config } from '../config/index.ts';
import type { Database } from '../db/index.ts';
import type { MessagingDeps } from '../messaging/send.ts';
import type { RouteModule } from '../server/app.ts';
import type { Vault } from '../vault/secrets.ts';
import type { AssistDeps } from './assist.ts';
import { createAiClient } from './provider-client.ts';
import { aiRoutes } from './routes.ts';

export function createAssistDeps(deps: { config: Config; db: Database; vault: Vault }): AssistDeps {
  const client = createAiClient({
    openaiBaseUrl: deps.config.ai.openaiBaseUrl,
    timeoutMs: deps.config.ai.timeoutMs,
    allowPrivateHosts: deps.config.allowPrivateHosts,
  });
  return { db: deps.db, vault: deps.vault, client, perMinute: deps.config.ai.ratePerMinute };
}

export function aiModule(deps: {
  config: Config;
  db: Database;
  vault: Vault;
  messaging: MessagingDeps;
  assist: AssistDeps;
}): RouteModule {
  const { assist } = deps;
  return aiRoutes({
    db: deps.db,
    assist,
    providers: {
      db: deps.db,
      vault: deps.vault,
      client: assist.client,
      allowPrivateHosts: deps.config.allowPrivateHosts,
    },
    messaging: deps.messaging,
  });
}
