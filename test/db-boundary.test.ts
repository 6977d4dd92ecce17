// Route and domain code cannot reach the database except through asUser / asAnon /
// asService: the Database object exposes nothing else, and no module outside src/db,
// the CLI, the scanner and the composition root imports a driver.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/engine.ts';

const SRC = path.resolve('src');
const ALLOWED = [/^db\//, /^cli\//, /^scan\//, /^ops\//, /^main\.ts$/, /\.test\.ts$/];
const DRIVER_IMPORT =
  /from\s+['"](pg|pg-pool|@electric-sql\/pglite[^'"]*)['"]|import\(\s*['"](pg|@electric-sql\/pglite[^'"]*)['"]\s*\)|require\(\s*['"]pg['"]\s*\)/;

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = path.join(dir, f);
    return statSync(p).isDirectory() ? walk(p) : /\.(ts|mjs|js)$/.test(f) ? [p] : [];
  });
}

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => t?.close());

describe('the database boundary', () => {
  it('exposes only the three request helpers, frozen', () => {
    expect(Object.keys(t.db).sort()).toEqual(['asAnon', 'asService', 'asUser']);
    expect(Object.isFrozen(t.db)).toBe(true);
    expect(() => Object.assign(t.db, { pool: {} })).toThrow();
  });

  it('no module outside src/db, src/cli, src/scan and src/main.ts imports a database driver', () => {
    const files = walk(SRC);
    expect(files.length).toBeGreaterThan(10);
    const offenders = files
      .map((f) => path.relative(SRC, f))
      .filter((rel) => !ALLOWED.some((re) => re.test(rel)))
      .filter((rel) => DRIVER_IMPORT.test(readFileSync(path.join(SRC, rel), 'utf8')));
    expect(offenders).toEqual([]);
  });

  it('the detector itself catches a driver import (so the check above can fail)', () => {
    expect(DRIVER_IMPORT.test(`import pg from 'pg';`)).toBe(true);
    expect(DRIVER_IMPORT.test(`import { PGlite } from '@electric-sql/pglite';`)).toBe(true);
    expect(DRIVER_IMPORT.test(`const m = await import('pg');`)).toBe(true);
    expect(DRIVER_IMPORT.test(`import type { Tx } from '../db/index.ts';`)).toBe(false);
  });

  it('the login role itself holds no privilege on any app table', async () => {
    const c = await t.engine.pool.connect();
    try {
      await expect(c.query('SELECT 1 FROM app.businesses')).rejects.toThrow(/permission denied/);
      await expect(c.query('SELECT 1 FROM auth.users')).rejects.toThrow(/permission denied/);
      const me = await c.query<{ rolsuper: boolean; rolbypassrls: boolean; rolinherit: boolean }>(
        'SELECT rolsuper, rolbypassrls, rolinherit FROM pg_roles WHERE rolname = current_user',
      );
      expect(me.rows[0]).toEqual({ rolsuper: false, rolbypassrls: false, rolinherit: false });
    } finally {
      c.release();
    }
  });
});
