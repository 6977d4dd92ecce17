// `capto keys rotate-jwt`: add a new ES256 signing key. New tokens are signed with it
// at once; the old public keys stay in the JWKS until every token they signed has
// expired (JWT TTL + 1 minute), so nobody is signed out by a rotation. Other nodes
// pick the new key up within a minute, or at once when they meet its kid.
import type { Command } from '../cli/command.ts';
import { openEngine } from '../db/index.ts';
import { createDatabase } from '../db/request.ts';
import { loadMasterKey } from '../vault/master-key.ts';
import { createSigningKeys } from './signing-keys.ts';

export const rotateJwtCommand: Command = {
  name: 'keys rotate-jwt',
  summary: 'add a new JWT signing key; old public keys stay published until their tokens expire',
  help: `capto keys rotate-jwt — generate a new ES256 signing key (sealed by the master key).

Access tokens issued from now on carry the new kid. Tokens signed by the previous
key stay valid until they expire (CAPTO_JWT_TTL minutes); its public key is then
dropped from /.well-known/jwks.json. Uses the same database settings as "capto start".`,
  options: {},
  async run(_values, config) {
    const engine = await openEngine(config, 'capto keys rotate-jwt');
    try {
      const keys = createSigningKeys(createDatabase(engine.pool), loadMasterKey(config), config.jwtTtlMinutes * 60);
      const before = (await keys.jwks()).keys.map((k) => k.kid);
      const kid = await keys.rotate();
      console.log(
        `new signing key ${kid}; previous key(s) ${before.join(', ') || '(none)'} stay published for ${config.jwtTtlMinutes + 1} minutes`,
      );
      return 0;
    } finally {
      await engine.close();
    }
  },
};
