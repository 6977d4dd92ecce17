// A fresh, migrated database per test file, on the engine under test:
// - TEST_DATABASE_URL set (an admin URL of a PostgreSQL cluster): a new database
//   capto_t_<random>, bootstrapped and migrated, dropped afterwards;
// - otherwise: the embedded engine in a temporary data dir.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { Database, Engine } from '../../src/db/index.ts';
import { acquireDataDirLock } from '../../src/db/data-dir-lock.ts';
import { openEmbeddedEngine } from '../../src/db/embedded-engine.ts';
import { openServerEngine } from '../../src/db/server-engine.ts';
import { migrate } from '../../src/db/migrator.ts';
import { createDatabase } from '../../src/db/request.ts';

export const ENGINE: 'server' | 'embedded' = process.env.TEST_DATABASE_URL ? 'server' : 'embedded';

export interface TestDatabase {
  engine: Engine;
  db: Database;
  /** The admin URL of this test's database (server mode only). */
  adminUrl?: string;
  /** Settings that make startCapto use this same database. */
  env: Record<string, string>;
  close(): Promise<void>;
}

/** Create an empty database (server mode) or data dir (embedded) without opening it. */
export async function createBlankDatabase(): Promise<{
  env: Record<string, string>;
  adminUrl?: string;
  drop(): Promise<void>;
}> {
  const admin = process.env.TEST_DATABASE_URL;
  if (admin) {
    const name = `capto_t_${process.env.CAPTO_TEST_RUN ?? 'x'}_${randomBytes(4).toString('hex')}`;
    const client = new pg.Client({ connectionString: admin });
    await client.connect();
    await client.query(`CREATE DATABASE ${name}`);
    await client.end();
    const url = new URL(admin);
    url.pathname = `/${name}`;
    return {
      env: { DATABASE_URL: url.toString() },
      adminUrl: url.toString(),
      async drop() {
        const c = new pg.Client({ connectionString: admin });
        await c.connect();
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
        await c.end();
      },
    };
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'capto-test-'));
  return {
    env: { CAPTO_DATA_DIR: dir },
    async drop() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The embedded engine under its data dir lock, released when the engine closes. */
async function openLockedEmbedded(dataDir: string, poolSize: number): Promise<Engine> {
  const lock = acquireDataDirLock(dataDir, 'test');
  try {
    const engine = await openEmbeddedEngine({ dataDir, poolSize, lock });
    return {
      ...engine,
      async close() {
        try {
          await engine.close();
        } finally {
          lock.release();
        }
      },
    };
  } catch (e) {
    lock.release();
    throw e;
  }
}

export async function createTestDatabase(
  options: { poolSize?: number; migrate?: boolean } = {},
): Promise<TestDatabase> {
  const blank = await createBlankDatabase();
  const poolSize = options.poolSize ?? 4;
  const engine = blank.env.DATABASE_URL
    ? await openServerEngine({ databaseUrl: blank.env.DATABASE_URL, poolSize })
    : await openLockedEmbedded(blank.env.CAPTO_DATA_DIR!, poolSize);
  if (options.migrate !== false) await engine.withMaintenanceClient((c) => migrate(c));
  return {
    engine,
    db: createDatabase(engine.pool, { preparedStatements: engine.kind === 'server' }),
    adminUrl: blank.adminUrl,
    env: blank.env,
    async close() {
      await engine.close();
      await blank.drop();
    },
  };
}
