// The one door to an embedded data dir (docs/ARCHITECTURE.md §5). Every process that
// reads or writes an embedded database — `capto start`, each CLI command, backup and
// restore — comes through accessDataDir (openEngine uses it), and gets either
//   - the data dir lock: nobody else has it, open PGlite yourself (the offline path), or
//   - the admin channel of the server that holds it: use the server's database.
// Nothing else hands out a DataDirLock, and PGlite is never opened without one.
import {
  DataDirInUseError,
  describeHolder,
  readLockHolder,
  tryAcquireDataDirLock,
  type DataDirLock,
  type LockHolder,
} from './data-dir-lock.ts';

export type DataDirAccess =
  { kind: 'exclusive'; lock: DataDirLock } | { kind: 'server'; holder: LockHolder; adminSocket: string };

export interface AccessOptions {
  /**
   * What to do when a running server holds the data dir: 'share' reaches its database
   * through its admin channel; 'refuse' throws DataDirInUseError (restore, start).
   */
  whenServing: 'share' | 'refuse';
  /** Added to the refusal, e.g. why this command needs the server stopped. */
  refuseHint?: string;
  /** How long to wait for a starting server to open its admin channel (ms). */
  startupWaitMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function accessDataDir(dataDir: string, purpose: string, options: AccessOptions): Promise<DataDirAccess> {
  const deadline = Date.now() + (options.startupWaitMs ?? 60_000);
  for (;;) {
    const lock = tryAcquireDataDirLock(dataDir, purpose);
    if (lock) return { kind: 'exclusive', lock };
    const holder = readLockHolder(dataDir);
    if (options.whenServing === 'refuse') {
      throw new DataDirInUseError(
        dataDir,
        holder,
        `${purpose} cannot run while ${describeHolder(holder)} holds the embedded database in ${dataDir}` +
          (options.refuseHint ? `: ${options.refuseHint}` : ''),
      );
    }
    if (holder?.adminSocket) return { kind: 'server', holder, adminSocket: holder.adminSocket };
    // A server that is still starting (migrations, start scan) publishes its channel soon;
    // another command (not a server) holds the lock only for as long as it runs.
    if (holder?.purpose !== 'capto start' || Date.now() >= deadline) {
      throw new DataDirInUseError(
        dataDir,
        holder,
        `the embedded database in ${dataDir} is in use by ${describeHolder(holder)}, which serves no admin channel; ` +
          `run ${purpose} again when it has finished`,
      );
    }
    await sleep(200);
  }
}
