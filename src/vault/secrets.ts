// Tenant secrets (docs/ARCHITECTURE.md §17; promises P2, P5): Twilio auth tokens and Google OAuth tokens,
// sealed with AES-256-GCM under a per-business data key, which is itself sealed by
// the master key. Only this module sees plaintext, and only inside a capto_service
// transaction: the request roles have no USAGE on schema vault, so every function
// here fails with "permission denied" when handed a user transaction.
//
// AAD = business_id | secret id | kind | key_version: a ciphertext copied to another
// row, another business or another purpose does not open, even though the database
// administrator could move bytes around freely.
import { randomBytes, randomUUID } from 'node:crypto';
import type { Tx } from '../db/index.ts';
import { open, seal, VaultError, type Envelope, type VaultKey } from './envelope.ts';
import type { MasterKey } from './master-key.ts';

export type SecretKind = 'twilio.auth_token' | 'google.oauth_tokens' | 'smtp.password' | 'ai.api_key';

export interface SecretRef {
  businessId: string;
  id: string;
  kind: SecretKind;
}

export interface Vault {
  /** Seal `plaintext` as a new secret of the business; returns its id. */
  putSecret(tx: Tx, input: { businessId: string; kind: SecretKind; plaintext: string; id?: string }): Promise<string>;
  /** Re-seal an existing secret with new plaintext (e.g. a refreshed OAuth token). */
  replaceSecret(tx: Tx, ref: SecretRef, plaintext: string): Promise<void>;
  readSecret(tx: Tx, ref: SecretRef): Promise<string>;
  deleteSecret(tx: Tx, ref: Omit<SecretRef, 'kind'>): Promise<boolean>;
}

export const dataKeyAad = (businessId: string, version: number) => `capto.data_key|${businessId}|${version}`;
export const secretAad = (businessId: string, id: string, kind: string, keyVersion: number) =>
  `${businessId}|${id}|${kind}|${keyVersion}`;

interface DataKeyRow {
  version: number;
  wrapped: Envelope;
}

export function unwrapDataKey(master: MasterKey, businessId: string, row: DataKeyRow): VaultKey {
  const kek = master.version(row.wrapped.key_version);
  if (!kek) throw new VaultError(`master key version ${row.wrapped.key_version} is not configured (CAPTO_MASTER_KEY)`);
  return Object.freeze({ version: row.version, bytes: open(kek, row.wrapped, dataKeyAad(businessId, row.version)) });
}

/** The business's current data key, created on first use (concurrent creators agree on one). */
async function currentDataKey(tx: Tx, master: MasterKey, businessId: string): Promise<VaultKey> {
  const select = () =>
    tx.query<DataKeyRow>(
      'SELECT version, wrapped FROM vault.data_keys WHERE business_id = $1 ORDER BY version DESC LIMIT 1',
      [businessId],
    );
  let r = await select();
  if (r.rows.length === 0) {
    const wrapped = seal(master.current, randomBytes(32), dataKeyAad(businessId, 1));
    await tx.query(
      `INSERT INTO vault.data_keys (business_id, version, wrapped, master_key_version) VALUES ($1, 1, $2::jsonb, $3)
       ON CONFLICT (business_id, version) DO NOTHING`,
      [businessId, JSON.stringify(wrapped), wrapped.key_version],
    );
    r = await select();
  }
  return unwrapDataKey(master, businessId, r.rows[0]!);
}

async function dataKeyVersion(tx: Tx, master: MasterKey, businessId: string, version: number): Promise<VaultKey> {
  const r = await tx.query<DataKeyRow>(
    'SELECT version, wrapped FROM vault.data_keys WHERE business_id = $1 AND version = $2',
    [businessId, version],
  );
  if (r.rows.length === 0) throw new VaultError('the data key of this secret is missing');
  return unwrapDataKey(master, businessId, r.rows[0]!);
}

function sealSecret(key: VaultKey, ref: SecretRef, plaintext: string) {
  const env = seal(key, plaintext, secretAad(ref.businessId, ref.id, ref.kind, key.version));
  return {
    keyVersion: key.version,
    nonce: Buffer.from(env.nonce, 'base64'),
    ciphertext: Buffer.from(env.ciphertext, 'base64'),
  };
}

export function createVault(master: MasterKey): Vault {
  const vault: Vault = {
    async putSecret(tx, input) {
      const ref: SecretRef = {
        businessId: input.businessId.toLowerCase(),
        id: (input.id ?? randomUUID()).toLowerCase(),
        kind: input.kind,
      };
      const key = await currentDataKey(tx, master, ref.businessId);
      const s = sealSecret(key, ref, input.plaintext);
      await tx.query(
        'INSERT INTO vault.secrets (id, business_id, kind, key_version, nonce, ciphertext) VALUES ($1, $2, $3, $4, $5, $6)',
        [ref.id, ref.businessId, ref.kind, s.keyVersion, s.nonce, s.ciphertext],
      );
      return ref.id;
    },

    async replaceSecret(tx, ref, plaintext) {
      const norm = { ...ref, businessId: ref.businessId.toLowerCase(), id: ref.id.toLowerCase() };
      const key = await currentDataKey(tx, master, norm.businessId);
      const s = sealSecret(key, norm, plaintext);
      const r = await tx.query(
        `UPDATE vault.secrets SET key_version = $4, nonce = $5, ciphertext = $6, updated_at = now()
          WHERE id = $1 AND business_id = $2 AND kind = $3`,
        [norm.id, norm.businessId, norm.kind, s.keyVersion, s.nonce, s.ciphertext],
      );
      if (r.rowCount !== 1) throw new VaultError('no such secret');
    },

    async readSecret(tx, ref) {
      const r = await tx.query<{
        business_id: string;
        kind: string;
        key_version: number;
        nonce: Buffer;
        ciphertext: Buffer;
      }>(
        'SELECT business_id, kind, key_version, nonce, ciphertext FROM vault.secrets WHERE id = $1 AND business_id = $2',
        [ref.id, ref.businessId],
      );
      const row = r.rows[0];
      if (!row || row.kind !== ref.kind) throw new VaultError('no such secret');
      const key = await dataKeyVersion(tx, master, row.business_id, row.key_version);
      const env: Envelope = {
        key_version: row.key_version,
        alg: 'A256GCM',
        nonce: row.nonce.toString('base64'),
        ciphertext: row.ciphertext.toString('base64'),
      };
      return open(key, env, secretAad(row.business_id, ref.id.toLowerCase(), row.kind, row.key_version)).toString(
        'utf8',
      );
    },

    async deleteSecret(tx, ref) {
      const r = await tx.query('DELETE FROM vault.secrets WHERE id = $1 AND business_id = $2', [
        ref.id,
        ref.businessId,
      ]);
      return r.rowCount === 1;
    },
  };
  return Object.freeze(vault);
}
