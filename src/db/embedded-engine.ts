// Embedded mode: PGlite in a worker thread (see pglite-worker.ts), reached through a
// `pg` pool over a Unix socket that only this OS user can open.
import { mkdirSync, mkdtempSync, rmSync, chmodSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import pg from 'pg';
import type { Engine } from './engine.ts';
import { bootstrapSql, ROLE_NAMES } from './roles.ts';

export interface EmbeddedEngineOptions {
  dataDir: string;
  poolSize: number;
}

const SOCKET_PORT = 5432;

export async function openEmbeddedEngine(options: EmbeddedEngineOptions): Promise<Engine> {
  const pgdata = path.join(options.dataDir, 'pgdata');
  mkdirSync(pgdata, { recursive: true, mode: 0o700 });

  // Unix socket paths are limited to ~107 bytes; fall back to a private temp dir.
  let socketDir = path.join(options.dataDir, 'run');
  let tempSocketDir = false;
  if (socketDir.length > 80) {
    socketDir = mkdtempSync(path.join(os.tmpdir(), 'capto-sock-'));
    tempSocketDir = true;
  } else {
    mkdirSync(socketDir, { recursive: true, mode: 0o700 });
  }
  chmodSync(socketDir, 0o700);
  const socketPath = path.join(socketDir, `.s.PGSQL.${SOCKET_PORT}`);
  if (existsSync(socketPath)) rmSync(socketPath); // stale socket from a crashed run

  const maxConnections = options.poolSize + 8;
  const worker = new Worker(new URL('./pglite-worker.mjs', import.meta.url), {
    workerData: { dataDir: pgdata, socketPath, bootstrapSql: bootstrapSql(), maxConnections },
  });
  await new Promise<void>((resolve, reject) => {
    const onMessage = (msg: { type: string; message?: string }) => {
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

  const connection = { host: socketDir, port: SOCKET_PORT, user: ROLE_NAMES.app, database: 'postgres' };
  const pool = new pg.Pool({ ...connection, max: options.poolSize, idleTimeoutMillis: 0 });
  pool.on('error', () => undefined);
  let closed = false;

  return {
    kind: 'embedded',
    pool,
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
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => resolve(), 10_000);
        worker.on('message', (msg: { type: string }) => {
          if (msg.type === 'closed') {
            clearTimeout(timer);
            resolve();
          }
        });
        worker.postMessage({ type: 'close' });
      });
      await worker.terminate();
      if (tempSocketDir) rmSync(socketDir, { recursive: true, force: true });
    },
  };
}
