// `capto backup` and `capto restore` (docs/ARCHITECTURE.md §19). A backup is a copy of the whole
// database — the vault included, as the ciphertext it already is (nothing is
// decrypted on the way) — compressed and sealed by backup-format.ts.
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import type { Config } from '../config/index.ts';
import { accessDataDir } from '../db/data-dir-access.ts';
import { adminSnapshot } from '../db/admin-channel.ts';
import { DataDirInUseError } from '../db/data-dir-lock.ts';
import {
  embeddedNonEmptyTables,
  extractTar,
  hasDatabase,
  installRestoredPgdata,
  pgdataOf,
  tarDirectory,
} from './backup-embedded.ts';
import {
  BackupError,
  readBackup,
  readHeader,
  verifyBackup,
  writeBackup,
  type BackupHeader,
  type BackupKey,
} from './backup-format.ts';
import { masterBackupKey, readPassphraseFile } from './backup-key.ts';
import { logicalExport, restoreLogical } from './backup-logical.ts';
import { hasTool, restoreServer, serverNonEmptyTables, startPgDump } from './backup-server.ts';

export interface BackupResult {
  file: string;
  bytes: number;
  engine: 'embedded' | 'server';
  header: BackupHeader;
  /** Embedded: taken from a running server (online), and how long it paused for the copy. */
  online?: { pausedMs: number };
}

/** `--out` or, without it, a timestamped file in CAPTO_BACKUP_DIR. */
export function backupPath(config: Config, out?: string): string {
  if (out) return path.resolve(out);
  if (!config.backupDir) throw new BackupError('unavailable', 'pass --out FILE or set CAPTO_BACKUP_DIR');
  mkdirSync(config.backupDir, { recursive: true, mode: 0o700 });
  return path.join(config.backupDir, `capto-${new Date().toISOString().replace(/[:.]/g, '-')}.captobk`);
}

export async function createBackup(
  config: Config,
  options: { out?: string; passphraseFile?: string; logical?: boolean },
): Promise<BackupResult> {
  const file = backupPath(config, options.out);
  if (existsSync(file)) throw new BackupError('unavailable', `${file} already exists; backups are never overwritten`);
  const key: BackupKey = options.passphraseFile ? readPassphraseFile(options.passphraseFile) : masterBackupKey(config);

  if (config.databaseUrl && (options.logical || !hasTool('pg_dump'))) {
    const header = await writeBackup(
      file,
      logicalExport(config.migrationUrl ?? config.databaseUrl),
      'logical-ndjson',
      key,
    );
    return { file, bytes: statSync(file).size, engine: 'server', header };
  }
  if (config.databaseUrl) {
    const dump = startPgDump(config.migrationUrl ?? config.databaseUrl);
    const header = await writeBackup(file, dump.stdout, 'pg-dump-sql', key, () => dump.done());
    return { file, bytes: statSync(file).size, engine: 'server', header };
  }
  // Embedded: online through the running server's admin channel, or offline under the lock.
  const access = await accessDataDir(config.dataDir, 'capto backup', { whenServing: 'share' }).catch((e: unknown) => {
    throw e instanceof DataDirInUseError ? new BackupError('in_use', e.message) : e;
  });
  if (access.kind === 'server') {
    const snap = await adminSnapshot(access.adminSocket);
    try {
      const header = await writeBackup(file, tarDirectory(path.join(snap.dir, 'pgdata')), 'pglite-datadir', key);
      return { file, bytes: statSync(file).size, engine: 'embedded', header, online: { pausedMs: snap.pausedMs } };
    } finally {
      snap.done();
    }
  }
  try {
    const pgdata = pgdataOf(config.dataDir);
    if (!hasDatabase(pgdata))
      throw new BackupError('unavailable', `there is no embedded database in ${config.dataDir} to back up`);
    const header = await writeBackup(file, tarDirectory(pgdata), 'pglite-datadir', key);
    return { file, bytes: statSync(file).size, engine: 'embedded', header };
  } finally {
    access.lock.release();
  }
}

export interface RestoreResult {
  engine: 'embedded' | 'server';
  header: BackupHeader;
  replacedTables: string[];
}

export async function restoreBackup(
  config: Config,
  options: { in: string; passphraseFile?: string; force?: boolean },
): Promise<RestoreResult> {
  const file = path.resolve(options.in);
  if (!existsSync(file)) throw new BackupError('unavailable', `${file} does not exist`);
  const { header } = await readHeader(file);
  const key: BackupKey = options.passphraseFile
    ? readPassphraseFile(options.passphraseFile)
    : header.kdf === 'master-key'
      ? masterBackupKey(config, header.keyVersion)
      : readPassphraseFileRequired();
  const engine = config.databaseUrl ? 'server' : 'embedded';
  const fromServer = header.payload !== 'pglite-datadir';
  if (fromServer !== (engine === 'server')) {
    throw new BackupError(
      'unavailable',
      `this backup was taken from the ${fromServer ? 'server' : 'embedded'} engine; restore it with ${fromServer ? 'DATABASE_URL set' : 'DATABASE_URL unset'}`,
    );
  }
  // Prove key and integrity over the whole file before touching the database.
  await verifyBackup(file, key);

  if (header.payload === 'logical-ndjson') {
    const url = config.migrationUrl ?? config.databaseUrl!;
    // The schema is rebuilt by migrations that commit on their own: only an empty
    // target can take that without risking its data, so --force does not apply.
    const tables = await serverNonEmptyTables(url);
    if (tables.length > 0)
      throw new BackupError(
        'not_empty',
        `the target database is not empty (${tables.slice(0, 5).join(', ')}); a logical backup restores into an empty database only (--force does not apply)`,
      );
    const pass = new PassThrough();
    await Promise.all([
      readBackup(file, key, pass).catch((e: unknown) => {
        pass.destroy(e as Error);
        throw e;
      }),
      restoreLogical(url, pass).catch((e: unknown) => {
        pass.destroy();
        throw e;
      }),
    ]);
    return { engine: 'server', header, replacedTables: [] };
  }
  if (engine === 'server') {
    const url = config.migrationUrl ?? config.databaseUrl!;
    const replacedTables = await refuseNonEmpty(await serverNonEmptyTables(url), options.force);
    await restoreServer(url, (stdin) => readBackup(file, key, stdin, { end: false }).then(() => undefined));
    return { engine, header, replacedTables };
  }
  const access = await accessDataDir(config.dataDir, 'capto restore', {
    whenServing: 'refuse',
    refuseHint: 'a restore replaces the database under it; stop the server, restore, start it again',
  }).catch((e: unknown) => {
    throw e instanceof DataDirInUseError ? new BackupError('in_use', e.message) : e;
  });
  if (access.kind !== 'exclusive') throw new BackupError('in_use', 'the data dir is in use');
  const { lock } = access;
  const incoming = `${pgdataOf(config.dataDir)}.incoming-${Date.now()}`;
  try {
    const replacedTables = await refuseNonEmpty(await embeddedNonEmptyTables(lock), options.force);
    // Streamed: decrypt → gunzip → untar straight to disk (memory stays flat).
    const pass = new PassThrough();
    await Promise.all([
      readBackup(file, key, pass).catch((e: unknown) => {
        pass.destroy(e as Error);
        throw e;
      }),
      extractTar(pass, incoming).catch((e: unknown) => {
        pass.destroy(e as Error);
        throw e;
      }),
    ]);
    await installRestoredPgdata(lock, incoming);
    return { engine, header, replacedTables };
  } finally {
    rmSync(incoming, { recursive: true, force: true });
    lock.release();
  }
}

function readPassphraseFileRequired(): never {
  throw new BackupError('wrong_key', 'this backup was encrypted with a passphrase: pass --passphrase-file');
}

async function refuseNonEmpty(tables: string[], force = false): Promise<string[]> {
  if (tables.length > 0 && !force) {
    const shown = tables.slice(0, 5).join(', ') + (tables.length > 5 ? `, … (${tables.length} tables)` : '');
    throw new BackupError(
      'not_empty',
      `the target database is not empty (${shown}); restore replaces everything in it — pass --force to do that`,
    );
  }
  return tables;
}
