// Which key protects a backup: a passphrase file (for backups kept apart from the
// master key, e.g. off-site) or the master key loaded the same way the vault loads it.
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/index.ts';
import { DEV_MASTER_KEY_FILE, loadMasterKey } from '../vault/master-key.ts';
import { BackupError, type BackupKey } from './backup-format.ts';

const MIN_PASSPHRASE = 12;

export function readPassphraseFile(file: string): BackupKey {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new BackupError(
      'unavailable',
      `cannot read the passphrase file ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
  // One trailing newline is what `echo … > file` adds; anything else is part of the passphrase.
  const passphrase = text.replace(/\r?\n$/, '');
  if (passphrase.length < MIN_PASSPHRASE)
    throw new BackupError('unavailable', `the passphrase in ${file} is shorter than ${MIN_PASSPHRASE} characters`);
  if ((statSync(file).mode & 0o077) !== 0) process.emitWarning(`${file} is readable by other users; chmod 600 it`);
  return { kind: 'passphrase', passphrase };
}

/**
 * The master key for writing (the current version) or reading (the version named in
 * the backup's header, so a backup made before `capto keys rotate` still restores
 * while the old version stays listed in CAPTO_MASTER_KEY).
 */
export function masterBackupKey(config: Config, version?: number): BackupKey {
  if (!config.masterKey && !existsSync(path.join(config.dataDir, DEV_MASTER_KEY_FILE))) {
    // A fresh dev key would only ever say "wrong key": ask for the real one instead.
    throw new BackupError(
      'unavailable',
      `no master key: set CAPTO_MASTER_KEY (the one the backup was made under) or pass --passphrase-file. ` +
        `A development install keeps its key in ${path.join(config.dataDir, DEV_MASTER_KEY_FILE)} (CAPTO_DATA_DIR/${DEV_MASTER_KEY_FILE}): ` +
        `copy that file from the machine the backup was made on`,
    );
  }
  const master = loadMasterKey(config);
  const key = version === undefined ? master.current : master.version(version);
  if (!key) {
    throw new BackupError(
      'wrong_key',
      `this backup was made under master key version ${version}, which CAPTO_MASTER_KEY does not list; nothing was restored`,
    );
  }
  return { kind: 'master-key', key: key.bytes, version: key.version };
}
