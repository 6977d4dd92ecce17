// Every kind of sealed value the database holds, in ONE list (docs/OPERATIONS.md §4).
// `capto keys rotate` re-wraps every kind sealed by the master key and then proves none
// is left under an old version; `test/vault-rotation.test.ts` reads the catalog and
// fails when a table has a sealed-looking column this list does not name, so a new
// kind cannot be forgotten (a forgotten kind is a lock-out after the old key is gone).
import { dataKeyAad } from './secrets.ts';

/** A value sealed directly by the master key: a jsonb envelope ({key_version, nonce, ciphertext}). */
export interface MasterSealedKind {
  readonly sealedBy: 'master';
  /** What the operator reads in `capto keys rotate`'s report. */
  readonly label: string;
  readonly table: string;
  readonly column: string;
  /** Columns identifying one row (its primary key). */
  readonly key: readonly string[];
  /** The AAD the envelope was sealed with, from the row's key columns. */
  aad(row: Record<string, unknown>): string;
  /** Columns kept in step with the envelope's version, set on re-wrap ($1 = the new version). */
  readonly alsoSet?: string;
}

/** A value sealed by a per-business data key: master rotation leaves it untouched (its data key is re-wrapped). */
export interface DataKeySealedKind {
  readonly sealedBy: 'data_key';
  readonly label: string;
  readonly table: string;
  readonly column: string;
}

export type SealedKind = MasterSealedKind | DataKeySealedKind;

export const JWT_SIGNING_KEY_AAD = (kid: string) => `vault.jwt_signing_keys|${kid}|private_key`;

export const SEALED_KINDS: readonly SealedKind[] = [
  {
    sealedBy: 'master',
    label: 'per-business data keys',
    table: 'vault.data_keys',
    column: 'wrapped',
    key: ['business_id', 'version'],
    aad: (row) => dataKeyAad(String(row.business_id), Number(row.version)),
    alsoSet: 'master_key_version = $1, rewrapped_at = now()',
  },
  {
    sealedBy: 'master',
    label: 'JWT signing keys',
    table: 'vault.jwt_signing_keys',
    column: 'private_key',
    key: ['kid'],
    aad: (row) => JWT_SIGNING_KEY_AAD(String(row.kid)),
  },
  {
    sealedBy: 'data_key',
    label: 'tenant secrets (Twilio, Google, SMTP, AI keys …)',
    table: 'vault.secrets',
    column: 'ciphertext',
  },
];

export const MASTER_SEALED_KINDS = SEALED_KINDS.filter((k): k is MasterSealedKind => k.sealedBy === 'master');
