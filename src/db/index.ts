// Opening the configured engine. Application modules import only the types and
// `Database` from here; the engine itself stays with main.ts, the CLI and tests.
import type { Config } from '../config/index.ts';
import type { Engine } from './engine.ts';
import { openEmbeddedEngine } from './embedded-engine.ts';
import { openServerEngine } from './server-engine.ts';

export type { Database, Tx, Claims, QueryResult } from './types.ts';
export type { Engine } from './engine.ts';

export function openEngine(
  config: Pick<Config, 'databaseUrl' | 'migrationUrl' | 'dataDir' | 'dbPoolSize'>,
): Promise<Engine> {
  if (config.databaseUrl) {
    return openServerEngine({
      databaseUrl: config.databaseUrl,
      migrationUrl: config.migrationUrl,
      poolSize: config.dbPoolSize,
    });
  }
  return openEmbeddedEngine({ dataDir: config.dataDir, poolSize: config.dbPoolSize });
}
