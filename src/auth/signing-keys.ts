// ES256 signing keys (P8), shared through the database so every app node signs and
// verifies with the same set. Private keys live only as vault envelopes (P2) and
// are opened into non-extractable CryptoKeys held in memory. A node reloads the set
// every minute, and at once (rate-limited) when a token names a kid it has not seen,
// so a key rotated by `capto keys rotate-jwt` or another node is picked up quickly.
import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, type CryptoKey as JoseCryptoKey, type JWK } from 'jose';
import type { Database, Tx } from '../db/index.ts';
import { open, seal, type Envelope } from '../vault/envelope.ts';
import type { MasterKey } from '../vault/master-key.ts';
import { JWT_SIGNING_KEY_AAD } from '../vault/sealed-kinds.ts';

type Key = JoseCryptoKey;

interface LoadedKey {
  kid: string;
  publicJwk: JWK;
  publicKey: Key;
  privateKey?: Key;
  retired: boolean;
}

export interface SigningKeys {
  /** The key new tokens are signed with. */
  current(): Promise<{ kid: string; key: Key }>;
  /** The public key for a kid, or undefined when no published key has it. */
  verificationKey(kid: string): Promise<Key | undefined>;
  /** The published JWK set (current and recently retired public keys). */
  jwks(): Promise<{ keys: JWK[] }>;
  /** Add a new signing key; older ones stay published until their tokens expired. */
  rotate(): Promise<string>;
}

const RELOAD_MS = 60_000;
const UNKNOWN_KID_RELOAD_MS = 5_000;
// One number for the cluster: nodes starting together create only one first key.
const KEY_CREATION_LOCK = 7_270_003;

const aadFor = JWT_SIGNING_KEY_AAD;

export function createSigningKeys(db: Database, master: MasterKey, tokenTtlSeconds: number): SigningKeys {
  let keys: LoadedKey[] = [];
  let loadedAt = 0;
  let loading: Promise<void> | undefined;

  async function load(): Promise<void> {
    loading ??= (async () => {
      const rows = await db.asService('auth.signing_keys.load', async (tx) => {
        let r = await selectPublished(tx);
        if (!r.some((k) => k.retired_at === null)) {
          await tx.query('SELECT pg_advisory_xact_lock($1)', [KEY_CREATION_LOCK]);
          r = await selectPublished(tx);
          if (!r.some((k) => k.retired_at === null)) {
            await insertKey(tx, master);
            r = await selectPublished(tx);
          }
        }
        return r;
      });
      const next: LoadedKey[] = [];
      for (const row of rows) {
        const known = keys.find((k) => k.kid === row.kid);
        if (known) {
          next.push({ ...known, retired: row.retired_at !== null });
          continue;
        }
        const publicKey = (await importJWK(row.public_jwk, 'ES256')) as Key;
        let privateKey: Key | undefined;
        if (row.retired_at === null) {
          const jwk = JSON.parse(
            open(versionKey(master, row.private_key), row.private_key, aadFor(row.kid)).toString('utf8'),
          ) as JWK;
          privateKey = (await importJWK(jwk, 'ES256', { extractable: false })) as Key;
        }
        next.push({ kid: row.kid, publicJwk: row.public_jwk, publicKey, privateKey, retired: row.retired_at !== null });
      }
      keys = next;
      loadedAt = Date.now();
    })().finally(() => {
      loading = undefined;
    });
    return loading;
  }

  async function fresh(): Promise<LoadedKey[]> {
    if (Date.now() - loadedAt > RELOAD_MS) await load();
    return keys;
  }

  return {
    async current() {
      const active = (await fresh()).find((k) => !k.retired && k.privateKey);
      if (!active?.privateKey) {
        await load();
        const again = keys.find((k) => !k.retired && k.privateKey);
        if (!again?.privateKey) throw new Error('no active JWT signing key');
        return { kid: again.kid, key: again.privateKey };
      }
      return { kid: active.kid, key: active.privateKey };
    },
    async verificationKey(kid) {
      let found = (await fresh()).find((k) => k.kid === kid);
      if (!found && Date.now() - loadedAt > UNKNOWN_KID_RELOAD_MS) {
        await load();
        found = keys.find((k) => k.kid === kid);
      }
      return found?.publicKey;
    },
    async jwks() {
      return { keys: (await fresh()).map((k) => ({ ...k.publicJwk, kid: k.kid, alg: 'ES256', use: 'sig' })) };
    },
    async rotate() {
      const kid = await db.asService('auth.signing_keys.rotate', async (tx) => {
        await tx.query('SELECT pg_advisory_xact_lock($1)', [KEY_CREATION_LOCK]);
        // Retired keys stay in the JWKS until every token they signed has expired (+1 min clock skew).
        await tx.query(
          `UPDATE vault.jwt_signing_keys SET retired_at = now(), publish_until = now() + make_interval(secs => $1)
            WHERE retired_at IS NULL`,
          [tokenTtlSeconds + 60],
        );
        return insertKey(tx, master);
      });
      await load();
      return kid;
    },
  };
}

interface KeyRow {
  kid: string;
  public_jwk: JWK;
  private_key: Envelope;
  retired_at: Date | null;
}

function selectPublished(tx: Tx) {
  return tx
    .query<KeyRow>(
      `SELECT kid, public_jwk, private_key, retired_at FROM vault.jwt_signing_keys
        WHERE retired_at IS NULL OR publish_until > now() ORDER BY created_at DESC`,
    )
    .then((r) => r.rows);
}

function versionKey(master: MasterKey, envelope: Envelope) {
  const key = master.version(envelope.key_version);
  if (!key) throw new Error(`JWT signing key sealed with unknown master key version ${envelope.key_version}`);
  return key;
}

async function insertKey(tx: Tx, master: MasterKey): Promise<string> {
  const kid = randomBytes(12).toString('base64url');
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const privateJwk = await exportJWK(privateKey);
  const envelope = seal(master.current, JSON.stringify(privateJwk), aadFor(kid));
  await tx.query('INSERT INTO vault.jwt_signing_keys (kid, public_jwk, private_key) VALUES ($1, $2, $3)', [
    kid,
    JSON.stringify({ kty: publicJwk.kty, crv: publicJwk.crv, x: publicJwk.x, y: publicJwk.y }),
    JSON.stringify(envelope),
  ]);
  return kid;
}
