// The scan as `capto doctor` runs it: the same static lints and waivers as the start
// gate (src/scan/gate.ts), on the configured database. An embedded data dir is opened
// only under its lock, so doctor never opens PGlite beside a running server.
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/index.ts';
import { openEngine } from '../db/index.ts';
import { metrics } from '../observability/metrics.ts';
import { scanEngine } from '../scan/index.ts';
import { loadWaivers } from '../scan/waivers.ts';
import { BackupError } from './backup-format.ts';
import { acquireDataDirLock } from './data-dir-lock.ts';

export async function scanForDoctor(config: Config): Promise<{ errors: number; summary: string }> {
  let release = () => undefined as void;
  if (!config.databaseUrl) {
    if (!existsSync(path.join(config.dataDir, 'pgdata', 'PG_VERSION'))) {
      return { errors: 1, summary: `no embedded database in ${config.dataDir} yet: run "capto migrate"` };
    }
    try {
      release = acquireDataDirLock(config.dataDir, 'capto doctor');
    } catch (e) {
      if (!(e instanceof BackupError) || e.reason !== 'in_use') throw e;
      // A production server ran this very scan at start and refuses to start on an ERROR;
      // a development server starts anyway, so its scan proves nothing.
      return config.isProduction
        ? { errors: 0, summary: 'passed the start gate of the running production server (data dir in use)' }
        : {
            errors: 1,
            summary: 'not checked: a development server holds the data dir; stop it and run "capto doctor" again',
          };
    }
  }
  try {
    const engine = await openEngine(config);
    try {
      const report = await scanEngine(engine, { waivers: loadWaivers() });
      for (const level of ['ERROR', 'WARN', 'INFO'] as const) metrics.scanFindings.set({ level }, report.counts[level]);
      return {
        errors: report.blocking,
        summary: `${report.counts.ERROR} error(s), ${report.counts.WARN} warning(s), ${report.counts.INFO} info`,
      };
    } finally {
      await engine.close();
    }
  } finally {
    release();
  }
}
