// The envelope every secret is stored in (docs/ARCHITECTURE.md §17; promise P2): AES-256-GCM with a fresh
// 96-bit nonce per seal and Additional Authenticated Data naming where the secret
// belongs, so a ciphertext copied to another row, tenant or purpose fails to open.
// Only src/vault touches key material.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

export interface VaultKey {
  /** Version of the key; stored beside the ciphertext so rotation knows what opened it. */
  readonly version: number;
  /** 32 bytes of key material. */
  readonly bytes: Buffer;
}

export interface Envelope {
  key_version: number;
  alg: 'A256GCM';
  /** base64 of the 12-byte nonce */
  nonce: string;
  /** base64 of ciphertext || 16-byte GCM tag */
  ciphertext: string;
}

export class VaultError extends Error {
  override name = 'VaultError';
}

const NONCE_BYTES = 12;
const TAG_BYTES = 16;

export function seal(key: VaultKey, plaintext: string | Buffer, aad: string): Envelope {
  if (key.bytes.length !== 32) throw new VaultError('vault keys are 32 bytes');
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key.bytes, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([
    cipher.update(typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext),
    cipher.final(),
  ]);
  return {
    key_version: key.version,
    alg: 'A256GCM',
    nonce: nonce.toString('base64'),
    ciphertext: Buffer.concat([body, cipher.getAuthTag()]).toString('base64'),
  };
}

/** Decrypt an envelope; any tampering, wrong key or wrong AAD throws VaultError (no detail: it would be an oracle). */
export function open(key: VaultKey, envelope: Envelope, aad: string): Buffer {
  if (!isEnvelope(envelope) || envelope.key_version !== key.version)
    throw new VaultError('the envelope cannot be opened with this key');
  const nonce = Buffer.from(envelope.nonce, 'base64');
  const data = Buffer.from(envelope.ciphertext, 'base64');
  if (nonce.length !== NONCE_BYTES || data.length < TAG_BYTES) throw new VaultError('the envelope is malformed');
  try {
    const decipher = createDecipheriv('aes-256-gcm', key.bytes, nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    return Buffer.concat([decipher.update(data.subarray(0, data.length - TAG_BYTES)), decipher.final()]);
  } catch (e) {
    throw new VaultError('the envelope failed authentication', { cause: e });
  }
}

/** True when the envelope was sealed under an older key version and should be re-sealed. */
export function needsReseal(envelope: Envelope, current: VaultKey): boolean {
  return envelope.key_version !== current.version;
}

export function isEnvelope(value: unknown): value is Envelope {
  if (!value || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  return (
    v.alg === 'A256GCM' &&
    Number.isInteger(v.key_version) &&
    typeof v.nonce === 'string' &&
    typeof v.ciphertext === 'string'
  );
}
