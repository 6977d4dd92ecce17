// The CI gate (issue 6 §4, DESIGN P11): the full scan — static lints and the
// cross-tenant probe — against the migrated database, on the engine under test. It
// fails on any ERROR or probe leak, and it sees every table other modules add,
// because lints and probe discover tables from pg_catalog.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asOwner } from '../src/db/engine.ts';
import { defaultScanConfig, renderTable, scanEngine, type ScanReport } from '../src/scan/index.ts';
import { loadWaivers } from '../src/scan/waivers.ts';
import { ENGINE, createTestDatabase, type TestDatabase } from './support/engine.ts';

let t: TestDatabase;
let report: ScanReport;

beforeAll(async () => {
  t = await createTestDatabase();
  report = await scanEngine(t.engine, { probe: true, waivers: loadWaivers() });
  // The scan's own output is the evidence CI keeps.
  console.log(renderTable(report, 'INFO'));
});
afterAll(async () => t?.close());

describe(`capto scan on the migrated schema (${ENGINE})`, () => {
  it('finds no ERROR and no probe leak', () => {
    const blocking = report.findings.filter((f) => f.level === 'ERROR' && !f.waived).map((f) => `${f.name} ${f.object}: ${f.reason}`);
    expect(blocking).toEqual([]);
    expect(report.blocking).toBe(0);
  });

  it('leaves no table unprobed and no positive control failed', () => {
    const warn = report.findings.filter((f) => ['probe_table_skipped', 'probe_positive_control_failed'].includes(f.name)).map((f) => `${f.name} ${f.object}: ${f.reason}`);
    expect(warn).toEqual([]);
  });

  it('probes every table that has a business_id (discovered from the catalog) and sees its own rows', async () => {
    const tenantTables = await asOwner(t.engine, async (c) =>
      (await c.query<{ t: string }>(
        `SELECT DISTINCT n.nspname || '.' || c.relname AS t
           FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE a.attname = $1 AND NOT a.attisdropped AND c.relkind IN ('r', 'p') AND n.nspname = ANY ($2::text[])`,
        [defaultScanConfig.tenantColumn, defaultScanConfig.appSchemas],
      )).rows.map((r) => r.t),
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
    const n = await asOwner(t.engine, async (c) => (await c.query<{ n: string }>('SELECT count(*) AS n FROM app.businesses')).rows[0]!.n);
    expect(Number(n)).toBe(0);
  });
});
