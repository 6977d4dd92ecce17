// The start-up gate (promise P11): after migrating, `capto start` runs the static scan.
// Production refuses to start on any unwaived ERROR; development starts but says so
// loudly, once per finding, so a broken migration is never quiet.
import { ConfigError, type Config } from '../config/index.ts';
import type { Engine } from '../db/engine.ts';
import type { Logger } from '../observability/logger.ts';
import { metrics } from '../observability/metrics.ts';
import { scanEngine } from './run.ts';
import { loadWaivers } from './waivers.ts';

/** Returns the number of unwaived ERRORs (only ever non-zero outside production, which refuses to start). */
export async function scanOnStart(engine: Engine, config: Config, logger: Logger): Promise<number> {
  const report = await scanEngine(engine, { waivers: loadWaivers() });
  for (const [level, n] of Object.entries(report.counts)) metrics.scanFindings.set({ level }, n);
  const errors = report.findings.filter((f) => f.level === 'ERROR' && !f.waived);
  if (errors.length === 0) {
    logger.info({ counts: report.counts }, 'database security scan passed');
    return 0;
  }
  const list = errors.map((f) => `${f.name} ${f.object}: ${f.reason}`);
  if (config.isProduction) {
    throw new ConfigError(
      `refusing to start in production: the database security scan found ${errors.length} error(s):\n  - ${list.join('\n  - ')}\nRun "capto scan" for remedies.`,
    );
  }
  for (const f of errors)
    logger.warn({ lint: f.name, object: f.object, remedy: f.remedy }, `SECURITY SCAN ERROR: ${f.reason}`);
  logger.warn(
    { errors: errors.length },
    `DATABASE SECURITY SCAN FAILED (${errors.length} error(s)) — production would refuse to start; run "capto scan"`,
  );
  return errors.length;
}
