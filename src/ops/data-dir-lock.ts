// One process at a time on an embedded data dir. PGlite has no postmaster lock: two
// processes opening the same pgdata would corrupt it, and a backup taken while the
// server writes would not be a consistent snapshot. `capto start`, backup and
// restore all take this lock; a lock whose process has died is taken over.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BackupError } from './backup-format.ts';

const LOCK_FILE = 'capto.lock';

interface LockInfo {
  pid: number;
  purpose: string;
  since: string;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readLock(file: string): LockInfo | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as LockInfo;
  } catch {
    return undefined;
  }
}

/** Take the data dir's lock or throw BackupError('in_use') naming the holder. Returns the release function. */
export function acquireDataDirLock(dataDir: string, purpose: string): () => void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = path.join(dataDir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const info: LockInfo = { pid: process.pid, purpose, since: new Date().toISOString() };
      writeFileSync(file, JSON.stringify(info), { flag: 'wx', mode: 0o600 });
      let released = false;
      return () => {
        if (released) return;
        released = true;
        const current = readLock(file);
        if (current?.pid === process.pid && current.since === info.since) rmSync(file, { force: true });
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = readLock(file);
      if (holder && isAlive(holder.pid)) {
        throw new BackupError(
          'in_use',
          `the embedded database in ${dataDir} is in use by "${holder.purpose}" (pid ${holder.pid}, since ${holder.since}); ` +
            'stop the server first (embedded backups and restores need it stopped; server-mode backups run live)',
        );
      }
      rmSync(file, { force: true }); // stale: its process is gone
    }
  }
  throw new BackupError('in_use', `could not take the lock on ${dataDir}`);
}
