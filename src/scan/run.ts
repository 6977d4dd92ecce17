// Running a scan: static lints over one catalog snapshot, then (optionally) the
// probe, all inside ONE transaction on a maintenance connection that is always
// rolled back, with search_path pinned to '' so no object of ours can shadow a
// catalog function the lints rely on.
import type pg from 'pg';
import type { Engine } from '../db/engine.ts';
import { loadCatalog } from './catalog.ts';
import { defaultScanConfig } from './config.ts';
import { policyLints } from './lints-policies.ts';
import { roleLints, type SessionFacts } from './lints-roles.ts';
import { tableLints } from './lints-tables.ts';
import { type ProbeOptions, type ProbeResult, runProbe } from './probe.ts';
import { applyWaivers, type Waiver } from './waivers.ts';
import type { Finding, Level, ScanConfig } from './types.ts';

export interface ScanOptions {
  config?: ScanConfig;
  probe?: boolean;
  /** Restrict the probe to some tables (fixture tests). */
  probeOnly?: ProbeOptions['only'];
  waivers?: Waiver[];
}

export interface ScanReport {
  engine: SessionFacts['engine'];
  schemas: { scanned: string[]; missing: string[]; excluded: string[] };
  findings: Finding[];
  probe?: ProbeResult;
  counts: Record<Level, number>;
  /** Unwaived ERRORs (probe leaks included): non-zero means exit 1 and refuse to start. */
  blocking: number;
}

const ORDER: Record<Level, number> = { ERROR: 0, WARN: 1, INFO: 2 };

/** Scan on a client already inside a transaction (the caller rolls it back). */
export async function scanInTransaction(
  client: pg.ClientBase,
  options: ScanOptions & { session?: SessionFacts } = {},
): Promise<ScanReport> {
  const config = options.config ?? defaultScanConfig;
  const session = options.session ?? { engine: 'unknown' };
  await client.query(`SET LOCAL search_path = ''`);
  const cat = await loadCatalog(client, config);
  let findings = [...tableLints(cat, config), ...policyLints(cat, config), ...roleLints(cat, config, session)];
  let probe: ProbeResult | undefined;
  if (options.probe) {
    probe = await runProbe(client, cat, config, { only: options.probeOnly });
    findings.push(...probe.findings);
  }
  findings = applyWaivers(findings, options.waivers ?? []);
  findings.sort(
    (a, b) => ORDER[a.level] - ORDER[b.level] || a.name.localeCompare(b.name) || a.object.localeCompare(b.object),
  );
  const present = new Set(cat.schemas.map((s) => s.name));
  const counts: Record<Level, number> = { ERROR: 0, WARN: 0, INFO: 0 };
  for (const f of findings) if (!f.waived) counts[f.level]++;
  return {
    engine: session.engine,
    schemas: {
      scanned: config.appSchemas.filter((s) => present.has(s)),
      missing: config.appSchemas.filter((s) => !present.has(s)),
      excluded: config.excludedSchemas.filter((s) => present.has(s)),
    },
    findings,
    probe,
    counts,
    blocking: counts.ERROR,
  };
}

/** What the server's own login session is: in embedded mode PGlite's superuser (reported as INFO). */
export async function sessionFacts(engine: Engine): Promise<SessionFacts> {
  const r = await engine.pool.query<{ u: string; s: boolean }>(
    'SELECT session_user::text AS u, r.rolsuper AS s FROM pg_catalog.pg_roles r WHERE r.rolname = session_user',
  );
  return { engine: engine.kind, appSessionUser: r.rows[0]?.u, appSessionSuperuser: r.rows[0]?.s ?? false };
}

/** Scan the engine's database: one maintenance transaction as capto_owner, always rolled back. */
export async function scanEngine(engine: Engine, options: ScanOptions = {}): Promise<ScanReport> {
  const config = options.config ?? defaultScanConfig;
  const session = await sessionFacts(engine);
  return engine.withMaintenanceClient(async (client) => {
    await client.query('BEGIN');
    try {
      let owner = true;
      await client.query('SAVEPOINT scan_role');
      try {
        await client.query(`SET LOCAL ROLE ${config.roles.owner}`);
      } catch {
        // A login that cannot become capto_owner can still read the catalog.
        owner = false;
        await client.query('ROLLBACK TO SAVEPOINT scan_role');
      }
      if (options.probe && !owner)
        throw new Error(
          `the probe must act as ${config.roles.owner}: point CAPTO_MIGRATION_URL (or DATABASE_URL) at an owner or admin login`,
        );
      return await scanInTransaction(client, { ...options, config, session });
    } finally {
      await client.query('ROLLBACK').catch(() => undefined);
    }
  });
}
