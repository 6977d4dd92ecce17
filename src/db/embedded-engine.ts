// Embedded mode: PGlite in a worker thread (see pglite-worker.mjs), reached through a
// `pg` pool over a Unix socket that only this OS user can open. Opening it needs the
// data dir lock (data-dir-lock.ts); a running server also serves the admin channel
// (admin-channel.ts) so that operator commands can use its database instead of opening
// PGlite a second time (docs/ARCHITECTURE.md §5).
import { existsSync, mkdirSync, mkdtempSync, rmSync, chmodSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
import pg from 'pg';
import type { Engine } from './engine.ts';
import { bootstrapSql, ROLE_NAMES } from './roles.ts';
import { adminHello, assertPrivateSocket, serveAdminChannel, type AdminChannelServer } from './admin-channel.ts';
import type { DataDirLock } from './data-dir-lock.ts';

export interface EmbeddedEngineOptions {
  dataDir: string;
  poolSize: number;
  /** Proof that this process holds the data dir: PGlite must never be opened twice. */
  lock: DataDirLock;
  /** `capto start`: serve the admin channel while open. */
  serveAdminChannel?: boolean;
}

const execFileAsync = promisify(execFile);
const SOCKET_PORT = 5432;
export const SNAPSHOTS_DIR = 'snapshots';
/** Connections of the job engine's pool (src/db/job-database.ts), on top of the app pool. */
export const EMBEDDED_JOB_POOL_SIZE = 3;

type WorkerMessage =
  | { type: 'ready' | 'closed' }
  | { type: 'error'; message: string }
  | { type: 'snapshot-done'; id: number; pausedMs: number }
  | { type: 'snapshot-failed'; id: number; message: string };

function pgConnection(socketDir: string) {
  return { host: socketDir, port: SOCKET_PORT, user: ROLE_NAMES.app, database: 'postgres' };
}

function engineOver(
  socketDir: string,
  poolSize: number,
  close: () => Promise<void>,
  via?: 'admin-channel',
): Engine & { pool: pg.Pool } {
  const connection = pgConnection(socketDir);
  const pool = new pg.Pool({ ...connection, max: poolSize, idleTimeoutMillis: 0 });
  pool.on('error', () => undefined);
  let closed = false;
  return {
    kind: 'embedded',
    via,
    pool,
    jobConnection: { ...connection, max: EMBEDDED_JOB_POOL_SIZE },
    async withMaintenanceClient(fn) {
      const client = new pg.Client(connection);
      await client.connect();
      try {
        return await fn(client);
      } finally {
        await client.end().catch(() => undefined);
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
      await close();
    },
  };
}

/**
 * Server settings for PGlite, on top of its own start parameters (docs/ARCHITECTURE.md §5).
 * PostgreSQL's default 128 MB of shared buffers live in the WebAssembly heap, which never
 * shrinks, and are touched at open: 32 MB cut an open's RSS from 293 to 176 MB here, and
 * 16 MB a further 17 MB; pages that do not fit are read from the OS page cache by a plain
 * file read.
 */
const EMBEDDED_SETTINGS = ['shared_buffers=16MB'];

interface WorkerInput {
  dataDir: string;
  settings: string[];
  socketPath: string;
  bootstrapSql: string;
  maxConnections: number;
}

/**
 * initdb into `pgdata` by pglite-init.mjs in a child process on this Node, with
 * `--liftoff-only` (its peak is lower, docs/ARCHITECTURE.md §5).
 */
async function createDataDir(pgdata: string): Promise<void> {
  const script = fileURLToPath(new URL('./pglite-init.mjs', import.meta.url));
  try {
    await execFileAsync(process.execPath, ['--liftoff-only', script, pgdata, JSON.stringify(EMBEDDED_SETTINGS)], {
      env: { ...process.env, MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? '2' },
      maxBuffer: 1024 * 1024,
    });
  } catch (e) {
    const stderr = (e as { stderr?: string }).stderr?.trim();
    throw new Error(`embedded database failed to start: ${stderr || (e as Error).message}`);
  }
}

/** A PGlite worker (pglite-worker.mjs), resolved once it has opened the database. */
async function startWorker(input: WorkerInput): Promise<Worker> {
  const worker = new Worker(new URL('./pglite-worker.mjs', import.meta.url), { workerData: input });
  await new Promise<void>((resolve, reject) => {
    const onMessage = (msg: WorkerMessage) => {
      if (msg.type === 'ready') {
        worker.off('message', onMessage);
        resolve();
      } else if (msg.type === 'error') {
        reject(new Error(`embedded database failed to start: ${msg.message}`));
      }
    };
    worker.on('message', onMessage);
    worker.once('error', reject);
  });
  return worker;
}

export async function openEmbeddedEngine(options: EmbeddedEngineOptions): Promise<Engine> {
  const dataDir = path.resolve(options.dataDir);
  if (!options.lock.held || options.lock.dataDir !== dataDir) {
    throw new Error(`opening the embedded database in ${dataDir} needs its data dir lock`);
  }
  const pgdata = path.join(dataDir, 'pgdata');
  mkdirSync(pgdata, { recursive: true, mode: 0o700 });
  // Snapshots of a server that died: nobody reads them any more (we hold the lock).
  rmSync(path.join(dataDir, SNAPSHOTS_DIR), { recursive: true, force: true });

  // Unix socket paths are limited to ~107 bytes; fall back to a private temp dir.
  let socketDir = path.join(dataDir, 'run');
  let tempSocketDir = false;
  if (socketDir.length > 80) {
    socketDir = mkdtempSync(path.join(os.tmpdir(), 'capto-sock-'));
    tempSocketDir = true;
  } else {
    mkdirSync(socketDir, { recursive: true, mode: 0o700 });
  }
  chmodSync(socketDir, 0o700);
  const socketPath = path.join(socketDir, `.s.PGSQL.${SOCKET_PORT}`);
  // Stale from a crashed run: safe to remove only because the lock proves nobody serves it.
  rmSync(socketPath, { force: true });

  // A new data dir is created (initdb) by a process of its own, which then exits: initdb
  // grows the WebAssembly heap to ~380 MB, and neither that heap nor the memory a worker
  // thread frees goes back to the OS while this process lives (docs/ARCHITECTURE.md §5).
  if (!existsSync(path.join(pgdata, 'PG_VERSION'))) await createDataDir(pgdata);
  const worker = await startWorker({
    dataDir: pgdata,
    settings: EMBEDDED_SETTINGS,
    socketPath,
    bootstrapSql: bootstrapSql(),
    maxConnections: options.poolSize + EMBEDDED_JOB_POOL_SIZE + 8,
  });

  let nextSnapshot = 1;
  const snapshot = async () => {
    const root = path.join(dataDir, SNAPSHOTS_DIR);
    mkdirSync(root, { recursive: true, mode: 0o700 });
    const dir = mkdtempSync(path.join(root, 'snap-'));
    chmodSync(dir, 0o700);
    const dispose = () => rmSync(dir, { recursive: true, force: true });
    const id = nextSnapshot++;
    try {
      const pausedMs = await new Promise<number>((resolve, reject) => {
        const onMessage = (msg: WorkerMessage) => {
          if (!('id' in msg) || msg.id !== id) return;
          worker.off('message', onMessage);
          if (msg.type === 'snapshot-done') resolve(msg.pausedMs);
          else reject(new Error(`the snapshot failed: ${msg.message}`));
        };
        worker.on('message', onMessage);
        worker.postMessage({ type: 'snapshot', id, dest: path.join(dir, 'pgdata') });
      });
      return { dir, pausedMs, dispose };
    } catch (e) {
      dispose();
      throw e;
    }
  };

  let admin: AdminChannelServer | undefined;
  const stopWorker = async () => {
    await admin?.close();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => resolve(), 10_000);
      worker.on('message', (msg: WorkerMessage) => {
        if (msg.type === 'closed') {
          clearTimeout(timer);
          resolve();
        }
      });
      worker.postMessage({ type: 'close' });
    });
    await worker.terminate();
    if (tempSocketDir) rmSync(socketDir, { recursive: true, force: true });
    rmSync(path.join(dataDir, SNAPSHOTS_DIR), { recursive: true, force: true });
  };
  const engine = engineOver(socketDir, options.poolSize, stopWorker);
  if (options.serveAdminChannel) {
    try {
      admin = await serveAdminChannel(path.join(socketDir, 'admin.sock'), {
        hello: () => ({ pid: process.pid, pgSocketDir: socketDir, pgPort: SOCKET_PORT }),
        snapshot,
      });
      options.lock.publish(admin.socketPath);
    } catch (e) {
      await engine.close();
      throw e;
    }
  }
  return engine;
}

/**
 * The database of the server that holds the data dir, reached through its admin channel:
 * a pool on the server's own database socket. Closing it leaves the server running.
 */
export async function connectToRunningServer(adminSocket: string, poolSize: number): Promise<Engine> {
  const hello = await adminHello(adminSocket);
  assertPrivateSocket(path.join(hello.pgSocketDir, `.s.PGSQL.${hello.pgPort}`));
  return engineOver(hello.pgSocketDir, poolSize, async () => undefined, 'admin-channel');
}
