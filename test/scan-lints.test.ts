// Every lint has a fixture (test/fixtures/scan/<lint>.sql) that breaks
// exactly that rule on a scratch schema. Each fixture runs in a transaction that is
// rolled back, so one database serves them all; the scan of the unchanged schema is
// the baseline, and a fixture must add findings of its own lint name and no other.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultScanConfig, LINTS, scanInTransaction, sessionFacts, type ScanConfig } from '../src/scan/index.ts';
import type { Finding } from '../src/scan/types.ts';
import { applyWaivers } from '../src/scan/waivers.ts';
import { ENGINE, createTestDatabase, type TestDatabase } from './support/engine.ts';

const DIR = path.resolve('test/fixtures/scan');
const CONFIG: ScanConfig = {
  ...defaultScanConfig,
  appSchemas: [...defaultScanConfig.appSchemas, 'scan_fixture'],
  excludedSchemas: [...defaultScanConfig.excludedSchemas, 'scan_fixture_excluded'],
};
// Lints that are properties of the engine or of the waiver file, not of a schema.
const NOT_SQL = new Set(['embedded_superuser_session', 'waiver_unused']);
const fixtures = readdirSync(DIR)
  .filter((f) => f.endsWith('.sql') && !f.startsWith('_'))
  .map((f) => f.replace(/\.sql$/, ''))
  .sort();

/** The fixture's SQL with `-- include: file` lines expanded. */
function fixtureSql(name: string): string {
  return readFileSync(path.join(DIR, `${name}.sql`), 'utf8').replace(/^-- include: (\S+)$/gm, (_, f: string) =>
    readFileSync(path.join(DIR, f), 'utf8'),
  );
}

let t: TestDatabase;
let baseline: Finding[];
const key = (f: Finding) => `${f.name}|${f.object}`;

/** Run `setup` then a scan (with the probe for probe_* fixtures) in one rolled-back transaction. */
async function scanWith(setup: string | null, probe: boolean): Promise<Finding[]> {
  const session = await sessionFacts(t.engine);
  return t.engine.withMaintenanceClient(async (client: pg.ClientBase) => {
    await client.query('BEGIN');
    try {
      // Become the session's superuser (PGlite: the login is capto_app on a superuser session).
      const su = (await client.query<{ u: string }>('SELECT session_user::text AS u')).rows[0]!.u;
      await client.query(`SET LOCAL ROLE "${su}"; SET LOCAL search_path = pg_catalog, extensions, public`);
      if (setup) {
        await client.query(readFileSync(path.join(DIR, '_prelude.sql'), 'utf8'));
        await client.query(setup);
      }
      await client.query(`SET LOCAL ROLE ${CONFIG.roles.owner}`);
      return (
        await scanInTransaction(client, {
          config: CONFIG,
          probe,
          probeOnly: (r) => r.schema === 'scan_fixture',
          session,
        })
      ).findings;
    } finally {
      await client.query('ROLLBACK');
    }
  });
}

beforeAll(async () => {
  t = await createTestDatabase();
  // The real schema; its probe runs in test/scan-schema.test.ts (the CI gate).
  baseline = await scanWith(null, false);
}, 300_000); // a fresh PGlite plus migrations is slow on a loaded 2-core machine
afterAll(async () => t?.close());

describe('scan lint fixtures', () => {
  it('the real schema has no ERROR or WARN finding', () => {
    expect(baseline.filter((f) => f.level !== 'INFO')).toEqual([]);
    expect(baseline.map((f) => f.name)).toContain('schema_excluded'); // capto_meta, reported not hidden
  });

  it('every lint has a failing fixture (or is an engine/waiver property tested below)', () => {
    const missing = Object.keys(LINTS).filter((l) => !fixtures.includes(l) && !NOT_SQL.has(l));
    expect(fixtures.filter((f) => !f.startsWith('clean_') && !(f.split('--')[0]! in LINTS))).toEqual([]);
    expect(missing).toEqual([]);
  });

  it.each(fixtures)('%s', async (name) => {
    const found = await scanWith(fixtureSql(name), name.startsWith('probe_'));
    const before = new Set(baseline.map(key));
    const added = found.filter((f) => !before.has(key(f)));
    // <lint>--<variant>.sql breaks the same rule another way.
    const expected = name.startsWith('clean_') ? [] : [name.split('--')[0]!];
    expect({ name, lints: [...new Set(added.map((f) => f.name))] }).toEqual({ name, lints: expected });
    if (expected.length) expect(added.every((f) => f.reason.length > 0 && f.remedy.length > 0)).toBe(true);
  });

  it(`reports PGlite's superuser session as accepted INFO on embedded, nothing on server (${ENGINE})`, () => {
    const info = baseline.filter((f) => f.name === 'embedded_superuser_session');
    expect(info.length).toBe(ENGINE === 'embedded' ? 1 : 0);
    expect(info.every((f) => f.level === 'INFO')).toBe(true);
  });

  it('marks waived findings and reports unused waivers', () => {
    const f: Finding = {
      name: 'rls_not_forced',
      level: 'ERROR',
      category: 'SECURITY',
      object: 'app.x',
      reason: 'r',
      remedy: 'm',
    };
    const out = applyWaivers(
      [f],
      [
        { lint: 'rls_not_forced', object: 'app.x', reason: 'reviewed: legacy table dropped in 0009' },
        { lint: 'rls_disabled', object: 'app.gone', reason: 'reviewed: this table no longer exists' },
      ],
    );
    expect(out[0]!.waived?.reason).toMatch(/legacy/);
    expect(out.filter((x) => x.name === 'waiver_unused').map((x) => x.object)).toEqual(['rls_disabled app.gone']);
  });
});
