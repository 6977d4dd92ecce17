// Make an embedded data dir hold about `megabytes` of incompressible rows (for tests and
// benches that must show memory staying flat whatever the data size).
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../../src/config/index.ts';
import { asOwner } from '../../src/db/engine.ts';
import { openEngine } from '../../src/db/index.ts';
import { migrate } from '../../src/db/migrator.ts';

export function directoryBytes(dir: string): number {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    total += e.isDirectory() ? directoryBytes(p) : e.isFile() ? statSync(p).size : 0;
  }
  return total;
}

/** Migrate and fill (offline, under the lock); returns the size of pgdata in bytes. */
export async function fillDataDir(config: Config, megabytes: number): Promise<number> {
  const engine = await openEngine(config, 'test filler');
  try {
    await engine.withMaintenanceClient((c) => migrate(c));
    await asOwner(engine, (c) =>
      c.query('CREATE SCHEMA IF NOT EXISTS filler; CREATE TABLE IF NOT EXISTS filler.rows (id int, payload text)'),
    );
    const pgdata = path.join(config.dataDir, 'pgdata');
    const batch = 5000; // ~5 MB of ~1 KB rows (random hex: TOAST cannot compress it)
    for (let next = 1; directoryBytes(pgdata) < megabytes * 1024 * 1024; next += batch) {
      await asOwner(engine, (c) =>
        c.query(
          `INSERT INTO filler.rows SELECT g, (SELECT string_agg(md5(random()::text || g || i), '') FROM generate_series(1, 30) i)
             FROM generate_series($1::int, $2::int) g`,
          [next, next + batch - 1],
        ),
      );
    }
    return directoryBytes(pgdata);
  } finally {
    await engine.close();
  }
}
