// Opening the configured engine. Application modules import only the types and
// `Database` from here; the engine itself stays with main.ts, the CLI and tests.
import type { Config } from '../config/index.ts';
import type { Engine } from './engine.ts';
import { accessDataDir } from './data-dir-access.ts';
import { connectToRunningServer, openEmbeddedEngine } from './embedded-engine.ts';
import { openServerEngine } from './server-engine.ts';

export type { Database, Tx, Claims, QueryResult } from './types.ts';
export type { Engine } from './engine.ts';
export { DataDirInUseError } from './data-dir-lock.ts';

export interface OpenEngineOptions {
  /**
   * Embedded engine held by a running server: 'share' (default) uses the server's
   * database through its admin channel; 'refuse' throws DataDirInUseError.
   */
  whenServing?: 'share' | 'refuse';
  /** `capto start`: hold the data dir and serve the admin channel (never shares). */
  serve?: boolean;
}

/**
 * Open the configured database for `purpose` ("capto scan", …: named to whoever finds the
 * data dir in use). On the embedded engine this always goes through the data dir lock or
 * the running server's admin channel (data-dir-access.ts), so no command can open PGlite
 * beside a server.
 */
export async function openEngine(
  config: Pick<Config, 'databaseUrl' | 'migrationUrl' | 'dataDir' | 'dbPoolSize'>,
  purpose: string,
  options: OpenEngineOptions = {},
): Promise<Engine> {
  if (config.databaseUrl) {
    return openServerEngine({
      databaseUrl: config.databaseUrl,
      migrationUrl: config.migrationUrl,
      poolSize: config.dbPoolSize,
    });
  }
  const access = await accessDataDir(config.dataDir, purpose, {
    whenServing: options.serve ? 'refuse' : (options.whenServing ?? 'share'),
    refuseHint: options.serve ? 'another Capto server is running on this data dir' : undefined,
  });
  if (access.kind === 'server') return connectToRunningServer(access.adminSocket, config.dbPoolSize);
  const { lock } = access;
  try {
    const engine = await openEmbeddedEngine({
      dataDir: config.dataDir,
      poolSize: config.dbPoolSize,
      lock,
      serveAdminChannel: options.serve,
    });
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
