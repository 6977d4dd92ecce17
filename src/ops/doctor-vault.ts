// What `capto doctor` proves about the live database beyond the scan: the configured
// master key opens the vault (the current JWT signing key and a data key) and every
// migration this code has is applied — the same checks as /readyz (src/ops/readiness.ts).
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/index.ts';
import { openEngine } from '../db/index.ts';
import { createDatabase } from '../db/request.ts';
import { loadMasterKey } from '../vault/master-key.ts';
import { pendingMigrations, proveVaultOpens } from './readiness.ts';

export interface DoctorDatabaseFacts {
  vault: string[];
  migrations: string[];
}

export async function databaseFactsForDoctor(config: Config): Promise<DoctorDatabaseFacts> {
  if (!config.databaseUrl && !existsSync(path.join(config.dataDir, 'pgdata', 'PG_VERSION'))) {
    return { vault: [], migrations: [`no embedded database in ${config.dataDir} yet: run "capto migrate"`] };
  }
  const master = loadMasterKey(config);
  const engine = await openEngine(config, 'capto doctor');
  try {
    const migrations = await pendingMigrations(engine);
    // Before its migrations the vault does not exist yet: nothing to open.
    const vault = migrations.length > 0 ? [] : await proveVaultOpens(createDatabase(engine.pool), master);
    return { vault: vault.map((p) => p.detail), migrations };
  } finally {
    await engine.close();
  }
}
