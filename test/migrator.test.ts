import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, readMigrations, MigrationError } from '../src/db/migrator.ts';
import { asOwner } from '../src/db/engine.ts';
import { createTestDatabase, type TestDatabase } from './support/engine.ts';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => t?.close());

describe('the migrator', () => {
  it('a second run is a no-op', async () => {
    const second = await t.engine.withMaintenanceClient((c) => migrate(c));
    expect(second.applied).toEqual([]);
    expect(second.skipped).toBe(readMigrations().length);
  });

  it('refuses an applied migration whose file changed, and applies nothing', async () => {
    const edited = readMigrations().map((m, i) =>
      i === 0 ? { ...m, sql: `${m.sql}\n-- edited`, checksum: 'f'.repeat(64) } : m,
    );
    const extra = {
      version: '9999',
      name: 'create_never',
      sql: 'CREATE TABLE app.never_applied (id int);',
      checksum: 'a'.repeat(64),
    };
    await expect(t.engine.withMaintenanceClient((c) => migrate(c, [...edited, extra]))).rejects.toThrow(
      /0001_create_tenancy was changed after it was applied/,
    );
    const r = await asOwner(t.engine, (c) => c.query(`SELECT to_regclass('app.never_applied') AS t`));
    expect(r.rows[0]!.t).toBeNull();
  });

  it('a failing migration leaves no trace and is not recorded', async () => {
    const bad = {
      version: '9998',
      name: 'create_broken',
      sql: 'CREATE TABLE app.half_done (id int); SELECT no_such_function();',
      checksum: 'b'.repeat(64),
    };
    await expect(t.engine.withMaintenanceClient((c) => migrate(c, [...readMigrations(), bad]))).rejects.toBeInstanceOf(
      MigrationError,
    );
    const r = await asOwner(t.engine, (c) =>
      c.query(
        `SELECT to_regclass('app.half_done') AS t, (SELECT count(*)::int FROM capto_meta.schema_migrations WHERE version = '9998') AS n`,
      ),
    );
    expect(r.rows[0]).toEqual({ t: null, n: 0 });
  });

  it('rejects badly named migration files', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'capto-mig-'));
    writeFileSync(path.join(dir, '1_bad.sql'), 'SELECT 1');
    expect(() => readMigrations(dir)).toThrow(/does not match/);
  });
});
