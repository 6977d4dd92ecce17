// `capto scan`: the CLI face of the scanner. Works against any database the config
// points at (embedded data dir or DATABASE_URL/CAPTO_MIGRATION_URL).
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Command } from '../cli/command.ts';
import { openEngine } from '../db/index.ts';
import { LINTS } from './registry.ts';
import { renderJson, renderSarif, renderTable } from './report.ts';
import { scanEngine } from './run.ts';
import type { Level } from './types.ts';
import { DEFAULT_WAIVERS_FILE, loadWaivers } from './waivers.ts';

const LEVELS = ['ERROR', 'WARN', 'INFO'] as const;

export const scanCommand: Command = {
  name: 'scan',
  summary: 'database security scan: static lints (+ --probe cross-tenant probe); exit 1 on any ERROR',
  help: `capto scan [--probe] [--json | --sarif] [--level ERROR|WARN|INFO] [--waivers FILE]

Reads pg_catalog (search_path pinned to '') in a transaction that is always rolled
back and reports every access-policy problem it knows (${Object.keys(LINTS).length} lints, listed in
docs/SECURITY.md). --probe also creates two businesses with owner/admin/member
personas, an outsider and one row in every tenant table, then tries to read and
change the other business's rows as each persona, exactly as a request would —
all rolled back.

On the embedded engine it runs beside a running server through the server's admin
channel (docs/OPERATIONS.md); the server's requests wait while the scan's
transaction runs.

Exit status: 1 when any ERROR (or probe leak) is not waived, 0 otherwise, 2 on
bad usage. Waivers come only from ${'scan-waivers.json'} (lint, object, reason).`,
  options: {
    probe: { type: 'boolean' },
    json: { type: 'boolean' },
    sarif: { type: 'boolean' },
    level: { type: 'string' },
    waivers: { type: 'string' },
  },
  async run(values, config) {
    const level = (typeof values.level === 'string' ? values.level.toUpperCase() : 'INFO') as Level;
    if (!LEVELS.includes(level)) {
      console.error('capto scan: --level must be ERROR, WARN or INFO');
      return 2;
    }
    if (values.json && values.sarif) {
      console.error('capto scan: choose one of --json and --sarif');
      return 2;
    }
    const waivers = loadWaivers(typeof values.waivers === 'string' ? values.waivers : DEFAULT_WAIVERS_FILE);
    if (!config.databaseUrl && !existsSync(path.join(config.dataDir, 'pgdata', 'PG_VERSION'))) {
      console.error(
        `capto scan: no embedded database in ${config.dataDir}; run "capto migrate" first or set DATABASE_URL`,
      );
      return 2;
    }
    // Embedded: under the data dir lock, or through a running server's admin channel.
    const engine = await openEngine(config, 'capto scan');
    try {
      const report = await scanEngine(engine, { probe: values.probe === true, waivers });
      console.log(
        values.json
          ? renderJson(report, level)
          : values.sarif
            ? renderSarif(report, level)
            : renderTable(report, level),
      );
      return report.blocking > 0 ? 1 : 0;
    } finally {
      await engine.close();
    }
  },
};
