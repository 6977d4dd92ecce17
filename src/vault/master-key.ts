// The master key (docs/ARCHITECTURE.md §17): CAPTO_MASTER_KEY (base64 of 32 bytes), or — outside
// production only — generated once into the data dir with mode 0600. Versioned so
// rotation can keep opening old envelopes: CAPTO_MASTER_KEY may list
// "3:<base64>,2:<base64>" (the first is current); a bare base64 value is version 1.
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { hkdfSync, randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Config } from '../config/index.ts';
import { VaultError, type VaultKey } from './envelope.ts';

export interface MasterKey {
  readonly current: VaultKey;
  /** The key of a given version (for envelopes sealed before a rotation). */
  version(v: number): VaultKey | undefined;
}

export const DEV_MASTER_KEY_FILE = 'master.key';

export function loadMasterKey(config: Pick<Config, 'masterKey' | 'dataDir' | 'isProduction'>): MasterKey {
  if (config.masterKey) return parseMasterKey(config.masterKey);
  if (config.isProduction) throw new VaultError('CAPTO_MASTER_KEY is required in production');
  return parseMasterKey(readOrCreateDevKey(config.dataDir));
}

export function parseMasterKey(value: string): MasterKey {
  const keys: VaultKey[] = value.split(',').map((part, i) => {
    const m = /^(?:(\d{1,6}):)?([A-Za-z0-9+/=_-]+)$/.exec(part.trim());
    if (!m) throw new VaultError(`CAPTO_MASTER_KEY entry ${i + 1} is not [version:]base64`);
    const bytes = Buffer.from(m[2]!, 'base64');
    if (bytes.length !== 32) throw new VaultError(`CAPTO_MASTER_KEY entry ${i + 1} must decode to 32 bytes`);
    return Object.freeze({ version: m[1] ? Number(m[1]) : 1, bytes });
  });
  const byVersion = new Map(keys.map((k) => [k.version, k]));
  if (byVersion.size !== keys.length) throw new VaultError('CAPTO_MASTER_KEY lists a version twice');
  return Object.freeze({ current: keys[0]!, version: (v: number) => byVersion.get(v) });
}

/**
 * A purpose-bound subkey (HKDF-SHA256) of the current master key, for MACs that must
 * agree across nodes (e.g. refresh-token successors) without storing another secret.
 */
export function deriveSubkey(master: MasterKey, purpose: string): VaultKey {
  const bytes = Buffer.from(hkdfSync('sha256', master.current.bytes, Buffer.alloc(0), `capto:${purpose}`, 32));
  return Object.freeze({ version: master.current.version, bytes });
}

function readOrCreateDevKey(dataDir: string): string {
  const file = path.join(dataDir, DEV_MASTER_KEY_FILE);
  if (!existsSync(file)) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    try {
      // 'wx': two processes starting together must not overwrite each other's key.
      writeFileSync(file, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
  return readFileSync(file, 'utf8').trim();
}
