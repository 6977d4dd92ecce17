// The scan as `capto doctor` runs it: the same static lints and waivers as the start
// gate (src/scan/gate.ts), on the configured database. An embedded data dir is opened
// under its lock, or — while a server holds it — scanned through the server's admin
// channel, so a live single-machine install gets a real verdict.
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/index.ts';
import { openEngine } from '../db/index.ts';
import { metrics } from '../observability/metrics.ts';
import { scanEngine } from '../scan/index.ts';
import { loadWaivers } from '../scan/waivers.ts';

export async function scanForDoctor(config: Config): Promise<{ errors: number; summary: string }> {
  if (!config.databaseUrl && !existsSync(path.join(config.dataDir, 'pgdata', 'PG_VERSION'))) {
    return { errors: 1, summary: `no embedded database in ${config.dataDir} yet: run "capto migrate"` };
  }
  const engine = await openEngine(config, 'capto doctor');
  try {
    const report = await scanEngine(engine, { waivers: loadWaivers() });
    for (const level of ['ERROR', 'WARN', 'INFO'] as const) metrics.scanFindings.set({ level }, report.counts[level]);
    const via = engine.via === 'admin-channel' ? " (through the running server's admin channel)" : '';
    return {
      errors: report.blocking,
      summary: `${report.counts.ERROR} error(s), ${report.counts.WARN} warning(s), ${report.counts.INFO} info${via}`,
    };
  } finally {
    await engine.close();
  }
}
