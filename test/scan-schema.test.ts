// The CI gate (promise P11): the full scan — static lints and the
// cross-tenant probe — against the migrated database, on the engine under test. It
// fails on any ERROR or probe leak, and it sees every table other modules add,
// because lints and probe discover tables from pg_catalog.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../src/config/index.ts';
import type { Logger } from '../src/observability/logger.ts';
import { asOwner } from '../src/db/engine.ts';
import {
  defaultScanConfig,
  renderJson,
  renderSarif,
  renderTable,
  scanCommand,
  scanEngine,
  scanOnStart,
  type ScanReport,
} from '../src/scan/index.ts';
import { loadWaivers } from '../src/scan/waivers.ts';
import { ENGINE, createTestDatabase, type TestDatabase } from './support/engine.ts';

let t: TestDatabase;
let report: ScanReport;

beforeAll(async () => {
  t = await createTestDatabase();
  report = await scanEngine(t.engine, { probe: true, waivers: loadWaivers() });
  // The scan's own output is the evidence CI keeps.
  console.log(renderTable(report, 'INFO'));
}, 300_000); // a fresh PGlite plus migrations is slow on a loaded 2-core machine
afterAll(async () => t?.close());

describe(`capto scan on the migrated schema (${ENGINE})`, () => {
  it('finds no ERROR and no probe leak', () => {
    const blocking = report.findings
      .filter((f) => f.level === 'ERROR' && !f.waived)
      .map((f) => `${f.name} ${f.object}: ${f.reason}`);
    expect(blocking).toEqual([]);
    expect(report.blocking).toBe(0);
  });

  it('leaves no table unprobed and no positive control failed', () => {
    const warn = report.findings
      .filter((f) => ['probe_table_skipped', 'probe_positive_control_failed'].includes(f.name))
      .map((f) => `${f.name} ${f.object}: ${f.reason}`);
    expect(warn).toEqual([]);
  });

  it('probes every table that has a business_id (discovered from the catalog) and sees its own rows', async () => {
    const tenantTables = await asOwner(t.engine, async (c) =>
      (
        await c.query<{ t: string }>(
          `SELECT DISTINCT n.nspname || '.' || c.relname AS t
           FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE a.attname = $1 AND NOT a.attisdropped AND c.relkind IN ('r', 'p') AND n.nspname = ANY ($2::text[])`,
          [defaultScanConfig.tenantColumn, defaultScanConfig.appSchemas],
        )
      ).rows.map((r) => r.t),
    );
    expect(tenantTables.length).toBeGreaterThanOrEqual(2);
    const probed = new Set(report.probe!.matrix.map((m) => m.table));
    expect(tenantTables.filter((x) => !probed.has(x))).toEqual([]);
    // Positive control: wherever a member may SELECT, a member of A saw A's row.
    const readable = report.probe!.matrix.filter((m) => m.cells.own !== '-');
    expect(readable.length).toBeGreaterThanOrEqual(2);
    expect(readable.filter((m) => m.cells.own !== 'ok').map((m) => m.table)).toEqual([]);
    expect(report.probe!.matrix.filter((m) => Object.values(m.cells).includes('LEAK')).map((m) => m.table)).toEqual([]);
  });

  it('rolls everything back: the probe leaves no business behind', async () => {
    const n = await asOwner(
      t.engine,
      async (c) => (await c.query<{ n: string }>('SELECT count(*) AS n FROM app.businesses')).rows[0]!.n,
    );
    expect(Number(n)).toBe(0);
  });

  it('renders JSON and SARIF 2.1.0 with every lint as a rule', () => {
    const json = JSON.parse(renderJson(report));
    expect(json.blocking).toBe(0);
    expect(json.probe.matrix.length).toBe(report.probe!.matrix.length);
    const sarif = JSON.parse(renderSarif(report));
    expect(sarif.version).toBe('2.1.0');
    const rules = sarif.runs[0].tool.driver.rules.map((r: { id: string }) => r.id);
    expect(rules).toContain('rls_not_forced');
    expect(sarif.runs[0].results.every((r: { ruleId: string }) => rules.includes(r.ruleId))).toBe(true);
  });
});

// A migration that forgets FORCE ROW LEVEL SECURITY on a new table.
describe('the gates, given a table that forgot FORCE ROW LEVEL SECURITY', () => {
  const table = 'app.scan_gate_forgot_force';
  beforeAll(async () => {
    await asOwner(t.engine, (c) =>
      c.query(`CREATE TABLE ${table} (id int PRIMARY KEY); ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY;`),
    );
  });
  afterAll(async () => {
    await asOwner(t.engine, (c) => c.query(`DROP TABLE IF EXISTS ${table}`));
  });

  it('the scan reports rls_not_forced as the one blocking ERROR', async () => {
    const r = await scanEngine(t.engine, {});
    expect(r.findings.filter((f) => f.level === 'ERROR').map((f) => `${f.name} ${f.object}`)).toEqual([
      `rls_not_forced ${table}`,
    ]);
    expect(r.blocking).toBe(1);
    const sarif = JSON.parse(renderSarif(r, 'ERROR'));
    expect(sarif.runs[0].results.map((x: { ruleId: string; level: string }) => `${x.ruleId}:${x.level}`)).toEqual([
      'rls_not_forced:error',
    ]);
  });

  it('capto start refuses to start in production', async () => {
    const logger = { info: vi.fn(), warn: vi.fn() } as unknown as Logger;
    await expect(scanOnStart(t.engine, loadConfig({ CAPTO_ENV: 'production' }), logger)).rejects.toThrow(
      /refusing to start in production[\s\S]*rls_not_forced app\.scan_gate_forgot_force/,
    );
  });

  it('capto start warns loudly in development and starts', async () => {
    const warn = vi.fn();
    const logger = { info: vi.fn(), warn } as unknown as Logger;
    await scanOnStart(t.engine, loadConfig({ CAPTO_ENV: 'development' }), logger);
    expect(warn.mock.calls.map((c) => String(c[1])).join('\n')).toMatch(/DATABASE SECURITY SCAN FAILED \(1 error/);
    expect(warn.mock.calls.some((c) => (c[0] as { lint?: string }).lint === 'rls_not_forced')).toBe(true);
  });

  // The CLI opens its own engine: on PGlite that would be a second instance on one data dir.
  it.runIf(ENGINE === 'server')('capto scan exits 1 and prints the lint (server: any DATABASE_URL)', async () => {
    const out: string[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((s: unknown) => void out.push(String(s)));
    try {
      expect(await scanCommand.run({ level: 'ERROR' }, loadConfig({ ...t.env, CAPTO_ENV: 'test' }))).toBe(1);
      expect(await scanCommand.run({ level: 'bogus' }, loadConfig({ ...t.env, CAPTO_ENV: 'test' }))).toBe(2);
    } finally {
      spy.mockRestore();
    }
    expect(out.join('\n')).toMatch(/rls_not_forced\s+app\.scan_gate_forgot_force[\s\S]*RESULT: FAIL/);
  });
});
