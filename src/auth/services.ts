// The auth module's services, built once by the composition root (src/main.ts):
// master key → signing keys → access tokens; HIBP checker; mailer; the flows.
import type { Config } from '../config/index.ts';
import type { Database } from '../db/index.ts';
import type { Logger } from '../observability/logger.ts';
import { createMailer, type Mailer } from '../mail/mailer.ts';
import { deriveSubkey, loadMasterKey, type MasterKey } from '../vault/master-key.ts';
import { createAccessTokens, type AccessTokens } from './access-tokens.ts';
import { setAuthEventLogger } from './events.ts';
import { createBreachChecker, type BreachChecker } from './hibp.ts';
import { createAuthService, type AuthService } from './service.ts';
import { createSigningKeys, type SigningKeys } from './signing-keys.ts';

export interface AuthServices {
  config: Config;
  db: Database;
  logger: Logger;
  masterKey: MasterKey;
  mailer: Mailer;
  breach: BreachChecker;
  signingKeys: SigningKeys;
  tokens: AccessTokens;
  service: AuthService;
}

export function createAuthServices(deps: { config: Config; db: Database; logger: Logger }): AuthServices {
  const { config, db, logger } = deps;
  setAuthEventLogger(logger);
  const masterKey = loadMasterKey(config);
  const mailer = createMailer(config, logger);
  const breach = createBreachChecker(config.hibp.rangeUrl);
  const signingKeys = createSigningKeys(db, masterKey, config.jwtTtlMinutes * 60);
  const tokens = createAccessTokens(signingKeys, config.publicUrl, config.jwtTtlMinutes);
  const service = createAuthService({
    db,
    config,
    mailer,
    breach,
    tokens,
    successorKey: deriveSubkey(masterKey, 'refresh-token-successor'),
  });
  return { config, db, logger, masterKey, mailer, breach, signingKeys, tokens, service };
}
