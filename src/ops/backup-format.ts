// The encrypted backup file (promise P2, docs/ARCHITECTURE.md §1: every copy Capto writes is AES-256-GCM).
//
//   header (78 bytes, authenticated as AAD) | AES-256-GCM( gzip(payload) ) | 16-byte tag
//
// header: magic "CAPTOBK1" | version u8 | kdf u8 | payload u8 | key version u32 |
//         scrypt log2N u8, r u8, p u8 | salt 32 | nonce 12 | created ms u64 | key check 8
//
// The key is HKDF-SHA256(ikm, salt, info "capto-backup-v1"), where ikm is the master
// key or scrypt(passphrase, salt). A fresh salt and nonce per file mean no two backups
// ever share a (key, nonce) pair. The key check (8 more bytes of the same HKDF output,
// independent of the encryption key) lets restore say "wrong key" rather than
// "corrupted"; it gives a passphrase guesser nothing the GCM tag would not.
import {
  createCipheriv,
  createDecipheriv,
  hkdfSync,
  randomBytes,
  scrypt as scryptCb,
  timingSafeEqual,
} from 'node:crypto';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { open, rename, rm, stat } from 'node:fs/promises';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';

export const MAGIC = Buffer.from('CAPTOBK1', 'ascii');
export const FORMAT_VERSION = 1;
export const HEADER_LENGTH = 78;
const TAG_LENGTH = 16;
const INFO = 'capto-backup-v1';

export type KdfKind = 'master-key' | 'passphrase';
export type PayloadKind = 'pglite-datadir' | 'pg-dump-sql' | 'logical-ndjson';
const KDF_CODES: Record<KdfKind, number> = { 'master-key': 1, passphrase: 2 };
const PAYLOAD_CODES: Record<PayloadKind, number> = { 'pglite-datadir': 1, 'pg-dump-sql': 2, 'logical-ndjson': 3 };

/** OWASP's scrypt floor is N=2^17, r=8, p=1; the cost is paid once per backup or restore. */
const SCRYPT = { log2N: 17, r: 8, p: 1 };

export type BackupKey =
  { kind: 'master-key'; key: Buffer; version: number } | { kind: 'passphrase'; passphrase: string };

export interface BackupHeader {
  version: number;
  kdf: KdfKind;
  payload: PayloadKind;
  keyVersion: number;
  scrypt: { log2N: number; r: number; p: number };
  salt: Buffer;
  nonce: Buffer;
  createdAt: Date;
  keyCheck: Buffer;
}

/** A backup that cannot be restored; the message is safe to print and names the cause. */
export class BackupError extends Error {
  override name = 'BackupError';
  readonly reason:
    'not_a_backup' | 'unsupported_version' | 'wrong_key' | 'corrupted' | 'in_use' | 'not_empty' | 'unavailable';
  constructor(reason: BackupError['reason'], message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.reason = reason;
  }
}

function scrypt(passphrase: string, salt: Buffer, p: BackupHeader['scrypt']): Promise<Buffer> {
  const N = 2 ** p.log2N;
  return new Promise((resolve, reject) =>
    scryptCb(passphrase.normalize('NFC'), salt, 32, { N, r: p.r, p: p.p, maxmem: 256 * N * p.r }, (e, k) =>
      e ? reject(e) : resolve(k),
    ),
  );
}

async function deriveKeys(
  key: BackupKey,
  header: Pick<BackupHeader, 'salt' | 'scrypt'>,
): Promise<{ enc: Buffer; check: Buffer }> {
  const ikm = key.kind === 'master-key' ? key.key : await scrypt(key.passphrase, header.salt, header.scrypt);
  const okm = Buffer.from(hkdfSync('sha256', ikm, header.salt, INFO, 40));
  return { enc: okm.subarray(0, 32), check: okm.subarray(32, 40) };
}

function encodeHeader(h: BackupHeader): Buffer {
  const b = Buffer.alloc(HEADER_LENGTH);
  MAGIC.copy(b, 0);
  b.writeUInt8(h.version, 8);
  b.writeUInt8(KDF_CODES[h.kdf], 9);
  b.writeUInt8(PAYLOAD_CODES[h.payload], 10);
  b.writeUInt32BE(h.keyVersion, 11);
  b.writeUInt8(h.scrypt.log2N, 15);
  b.writeUInt8(h.scrypt.r, 16);
  b.writeUInt8(h.scrypt.p, 17);
  h.salt.copy(b, 18);
  h.nonce.copy(b, 50);
  b.writeBigUInt64BE(BigInt(h.createdAt.getTime()), 62);
  h.keyCheck.copy(b, 70);
  return b;
}

export function decodeHeader(b: Buffer): BackupHeader {
  if (b.length < HEADER_LENGTH || !b.subarray(0, 8).equals(MAGIC)) {
    throw new BackupError('not_a_backup', 'this file is not a Capto backup (no CAPTOBK1 header)');
  }
  const version = b.readUInt8(8);
  if (version !== FORMAT_VERSION)
    throw new BackupError(
      'unsupported_version',
      `backup format version ${version} is not supported by this Capto (expects ${FORMAT_VERSION})`,
    );
  const kdf = (Object.keys(KDF_CODES) as KdfKind[]).find((k) => KDF_CODES[k] === b.readUInt8(9));
  const payload = (Object.keys(PAYLOAD_CODES) as PayloadKind[]).find((k) => PAYLOAD_CODES[k] === b.readUInt8(10));
  const scryptParams = { log2N: b.readUInt8(15), r: b.readUInt8(16), p: b.readUInt8(17) };
  // Bounded so a crafted header cannot make restore allocate gigabytes.
  if (!kdf || !payload || scryptParams.log2N > 20 || scryptParams.r > 16 || scryptParams.p > 4) {
    throw new BackupError('corrupted', 'the backup header is corrupted');
  }
  return {
    version,
    kdf,
    payload,
    keyVersion: b.readUInt32BE(11),
    scrypt: scryptParams,
    salt: Buffer.from(b.subarray(18, 50)),
    nonce: Buffer.from(b.subarray(50, 62)),
    createdAt: new Date(Number(b.readBigUInt64BE(62))),
    keyCheck: Buffer.from(b.subarray(70, 78)),
  };
}

/**
 * Stream `payload` through gzip and AES-256-GCM into `outFile`. Written to a 0600
 * temporary file and renamed, so a crash never leaves a truncated file under the name.
 */
export async function writeBackup(
  outFile: string,
  payload: Readable,
  payloadKind: PayloadKind,
  key: BackupKey,
  /** Runs after the payload ended, before the file gets its name (e.g. pg_dump's exit status). */
  beforeCommit?: () => Promise<void>,
): Promise<BackupHeader> {
  const base = { salt: randomBytes(32), scrypt: SCRYPT };
  const keys = await deriveKeys(key, base);
  const header: BackupHeader = {
    version: FORMAT_VERSION,
    kdf: key.kind,
    payload: payloadKind,
    keyVersion: key.kind === 'master-key' ? key.version : 0,
    ...base,
    nonce: randomBytes(12),
    createdAt: new Date(),
    keyCheck: keys.check,
  };
  const headerBytes = encodeHeader(header);
  const cipher = createCipheriv('aes-256-gcm', keys.enc, header.nonce);
  cipher.setAAD(headerBytes);
  const tmp = `${outFile}.partial-${process.pid}`;
  const out = createWriteStream(tmp, { mode: 0o600, flags: 'wx' });
  try {
    await new Promise<void>((resolve, reject) => out.write(headerBytes, (e) => (e ? reject(e) : resolve())));
    await pipeline(payload, createGzip({ level: 6 }), cipher, out, { end: false });
    await endWith(out, cipher.getAuthTag());
    await beforeCommit?.();
    await rename(tmp, outFile);
    return header;
  } catch (e) {
    out.destroy();
    await rm(tmp, { force: true });
    throw e;
  }
}

function endWith(out: WriteStream, last: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    out.once('error', reject);
    out.end(last, () => resolve());
  });
}

export async function readHeader(file: string): Promise<{ header: BackupHeader; headerBytes: Buffer; size: number }> {
  const { size } = await stat(file);
  const fh = await open(file, 'r');
  try {
    const headerBytes = Buffer.alloc(HEADER_LENGTH);
    const { bytesRead } = await fh.read(headerBytes, 0, HEADER_LENGTH, 0);
    if (bytesRead < HEADER_LENGTH || size < HEADER_LENGTH + TAG_LENGTH)
      throw new BackupError('not_a_backup', 'this file is not a Capto backup (too short)');
    return { header: decodeHeader(headerBytes), headerBytes, size };
  } finally {
    await fh.close();
  }
}

/**
 * Decrypt and decompress `file` into `sink`. GCM only proves integrity at the end,
 * so callers that must "restore nothing" on tampering run this once into a sink that
 * discards (verifyBackup) before streaming it into the database.
 */
export async function readBackup(
  file: string,
  key: BackupKey,
  sink: Writable,
  options: { end?: boolean } = {},
): Promise<BackupHeader> {
  const { header, headerBytes, size } = await readHeader(file);
  if (header.kdf !== key.kind) {
    throw new BackupError(
      'wrong_key',
      header.kdf === 'passphrase'
        ? 'this backup was encrypted with a passphrase: pass --passphrase-file'
        : 'this backup was encrypted with the master key: run without --passphrase-file and with CAPTO_MASTER_KEY set',
    );
  }
  const keys = await deriveKeys(key, header);
  if (!timingSafeEqual(keys.check, header.keyCheck)) {
    throw new BackupError(
      'wrong_key',
      header.kdf === 'passphrase'
        ? 'wrong passphrase for this backup; nothing was restored'
        : `this backup was made under a different master key (key version ${header.keyVersion}); nothing was restored`,
    );
  }
  const tag = Buffer.alloc(TAG_LENGTH);
  const fh = await open(file, 'r');
  try {
    await fh.read(tag, 0, TAG_LENGTH, size - TAG_LENGTH);
  } finally {
    await fh.close();
  }
  const decipher = createDecipheriv('aes-256-gcm', keys.enc, header.nonce);
  decipher.setAAD(headerBytes);
  decipher.setAuthTag(tag);
  try {
    await pipeline(
      createReadStream(file, { start: HEADER_LENGTH, end: size - TAG_LENGTH - 1 }),
      decipher,
      createGunzip(),
      sink,
      { end: options.end ?? true },
    );
  } catch (e) {
    if (e instanceof BackupError) throw e;
    // Decompression garbage and a failed tag both mean the same thing: the bytes changed.
    if (isIntegrityFailure(e))
      throw new BackupError(
        'corrupted',
        'the backup is corrupted or was tampered with (integrity check failed); nothing was restored',
        { cause: e },
      );
    throw e;
  }
  return header;
}

function isIntegrityFailure(e: unknown): boolean {
  const err = e as { code?: string; message?: string };
  return /unable to authenticate|unsupported state|incorrect header check|invalid (block|distance|code|stored)|unexpected end|too far back|Z_(DATA|BUF)_ERROR/i.test(
    `${err.code ?? ''} ${err.message ?? ''}`,
  );
}

/** Read the whole file through decryption and discard it: proves key and integrity first. */
export async function verifyBackup(file: string, key: BackupKey): Promise<{ header: BackupHeader; bytes: number }> {
  let bytes = 0;
  const header = await readBackup(
    file,
    key,
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        bytes += chunk.length;
        cb();
      },
    }),
  );
  return { header, bytes };
}
