// One process at a time on an embedded data dir (docs/ARCHITECTURE.md §5). PGlite has
// no postmaster lock: two processes opening the same pgdata would corrupt it.
//
// The lock is an OS lock: an exclusive SQLite transaction on <dataDir>/capto.lock.db, i.e.
// a POSIX fcntl() byte-range lock, held for as long as the holder lives. The kernel drops it
// when the process ends, however it ends (kill -9, the OOM killer, a container restart), so
// a restarted server — PID 1 again in a container — never meets a stale lock, and a reused
// PID can never make a dead holder look alive. No PID is ever trusted.
//
// Beside it, capto.lock.json says who holds the lock (pid, purpose, since, and for a running
// server the path of its admin channel, docs/SECURITY.md §Admin channel). It is information
// for messages and for finding the server; whether the data dir is held is decided by the
// OS lock alone.
//
// POSIX rule to respect: closing ANY descriptor of a file drops every fcntl lock this
// process holds on it. Only SQLite (which keeps one descriptor per file and process) may
// open capto.lock.db; nothing here reads or writes that file with node:fs.
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';

const LOCK_DB = 'capto.lock.db';
const HOLDER_FILE = 'capto.lock.json';
/** The lock file of Capto versions that trusted a PID; it proves nothing and is removed. */
const LEGACY_LOCK = 'capto.lock';

export interface LockHolder {
  pid: number;
  purpose: string;
  since: string;
  /** The running server's admin channel (a Unix socket), when the holder serves one. */
  adminSocket?: string;
}

/** The data dir is held by another process (usually a running `capto start`). */
export class DataDirInUseError extends Error {
  override name = 'DataDirInUseError';
  readonly dataDir: string;
  readonly holder: LockHolder | undefined;
  constructor(dataDir: string, holder: LockHolder | undefined, message: string) {
    super(message);
    this.dataDir = dataDir;
    this.holder = holder;
  }
}

/** Describe the holder for an operator: 'capto start' (pid 12, since …). */
export function describeHolder(holder: LockHolder | undefined): string {
  return holder ? `"${holder.purpose}" (pid ${holder.pid}, since ${holder.since})` : 'another process';
}

/** Who holds the data dir according to its holder file (information only, may be stale). */
export function readLockHolder(dataDir: string): LockHolder | undefined {
  try {
    const v = JSON.parse(readFileSync(path.join(dataDir, HOLDER_FILE), 'utf8')) as LockHolder;
    return typeof v.pid === 'number' && typeof v.purpose === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

function writeHolder(dataDir: string, holder: LockHolder): void {
  const file = path.join(dataDir, HOLDER_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(holder), { mode: 0o600 });
  renameSync(tmp, file);
}

const ISSUE = Symbol('data-dir-lock');

/** Proof that this process holds a data dir. Opening PGlite on it requires one. */
export class DataDirLock {
  #db: DatabaseSync | undefined;
  #holder: LockHolder;
  readonly dataDir: string;

  /** Only this module issues locks: use tryAcquireDataDirLock / acquireDataDirLock. */
  constructor(token: typeof ISSUE, dataDir: string, db: DatabaseSync, holder: LockHolder) {
    if (token !== ISSUE) throw new Error('a DataDirLock comes from acquireDataDirLock only');
    this.dataDir = dataDir;
    this.#db = db;
    this.#holder = holder;
  }

  get held(): boolean {
    return this.#db !== undefined;
  }

  get holder(): LockHolder {
    return { ...this.#holder };
  }

  /** Record the admin channel of the server holding this lock, for commands to find it. */
  publish(adminSocket: string): void {
    if (!this.#db) throw new Error('the data dir lock was released');
    this.#holder = { ...this.#holder, adminSocket };
    writeHolder(this.dataDir, this.#holder);
  }

  release(): void {
    const db = this.#db;
    if (!db) return;
    this.#db = undefined;
    // The holder file goes first, while the lock still makes it ours.
    rmSync(path.join(this.dataDir, HOLDER_FILE), { force: true });
    try {
      db.exec('ROLLBACK');
    } finally {
      db.close();
    }
  }
}

/** Take the lock if nobody holds it; undefined when another process (or connection) does. */
export function tryAcquireDataDirLock(dataDir: string, purpose: string): DataDirLock | undefined {
  const dir = path.resolve(dataDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, LOCK_DB);
  const created = !existsSync(file);
  // timeout 0: never wait; "database is locked" means someone holds it.
  const db = new DatabaseSync(file, { timeout: 0 });
  try {
    db.exec('BEGIN EXCLUSIVE');
  } catch (e) {
    db.close();
    if (/locked|busy/i.test((e as Error).message)) return undefined;
    throw e;
  }
  if (created) chmodSync(file, 0o600);
  rmSync(path.join(dir, LEGACY_LOCK), { force: true });
  const holder: LockHolder = { pid: process.pid, purpose, since: new Date().toISOString() };
  writeHolder(dir, holder);
  return new DataDirLock(ISSUE, dir, db, holder);
}

/** Take the lock or throw DataDirInUseError naming the holder. */
export function acquireDataDirLock(dataDir: string, purpose: string): DataDirLock {
  const lock = tryAcquireDataDirLock(dataDir, purpose);
  if (lock) return lock;
  const holder = readLockHolder(dataDir);
  throw new DataDirInUseError(
    dataDir,
    holder,
    `the embedded database in ${dataDir} is in use by ${describeHolder(holder)}; ` +
      `${purpose} needs it to itself: stop the server first`,
  );
}
