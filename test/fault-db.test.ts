// Faults: backends killed in the middle of requests and the database
// refusing connections → 503 `database_unavailable` with the stable shape, nothing
// half-applied, and recovery without a restart. Server PostgreSQL only: the embedded
// engine has no backends to kill.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../src/shared/errors.ts';
import { ENGINE } from './support/engine.ts';
import { newBusiness, newUser } from './support/factories.ts';
import { request } from './support/http.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const serverOnly = ENGINE === 'server' ? describe : describe.skip;

serverOnly('database faults (server PostgreSQL)', () => {
  let s: TestServer;
  let admin: pg.Client;
  let dbName: string;

  beforeAll(async () => {
    s = await startTestServer();
    const url = new URL(process.env.TEST_DATABASE_URL!);
    admin = new pg.Client({ connectionString: url.toString() });
    await admin.connect();
    const r = await s.engine.pool.query<{ db: string }>('SELECT current_database() AS db');
    dbName = r.rows[0]!.db;
  });
  afterAll(async () => {
    await admin?.query(`ALTER DATABASE ${dbName} ALLOW_CONNECTIONS true`).catch(() => undefined);
    await admin?.end();
    await s?.stop();
  });

  const killAppBackends = () =>
    admin.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND usename = 'capto_app' AND pid <> pg_backend_pid()`,
      [dbName],
    );

  it('a backend killed inside a transaction → database_unavailable, and its writes are absent', async () => {
    const owner = await newUser(s.engine);
    const business = await newBusiness(s.engine, owner.id, 'Before');
    const outcome = await s.db
      .asUser({ sub: owner.id }, async (tx) => {
        await tx.query(`UPDATE app.businesses SET name = 'Half-applied' WHERE id = $1`, [business.id]);
        const pid = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        await admin.query('SELECT pg_terminate_backend($1)', [pid.rows[0]!.pid]);
        await tx.query('SELECT 1');
      })
      .catch((e: unknown) => e);
    expect(outcome).toBeInstanceOf(AppError);
    expect((outcome as AppError).code).toBe('database_unavailable');
    const name = await s.db.asUser({ sub: owner.id }, (tx) =>
      tx.query<{ name: string }>('SELECT name FROM app.businesses WHERE id = $1', [business.id]),
    );
    expect(name.rows[0]!.name).toBe('Before'); // positive control: the row is readable, unchanged
  });

  it('killed pooled connections: requests answer 200 or 503 with the stable code, then recover by themselves', async () => {
    await Promise.all(Array.from({ length: 4 }, () => request(`${s.url}/readyz`)));
    await killAppBackends();
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) {
      const r = await request(`${s.url}/readyz`);
      statuses.push(r.status);
      if (r.status !== 200)
        expect(r.json).toEqual({ error: { code: 'database_unavailable', message: expect.any(String) } });
    }
    expect(statuses.every((x) => x === 200 || x === 503)).toBe(true);
    expect(statuses.at(-1)).toBe(200);
  });

  it('while the database refuses connections → 503; afterwards it recovers without a restart', async () => {
    await admin.query(`ALTER DATABASE ${dbName} ALLOW_CONNECTIONS false`);
    await killAppBackends();
    const down = await request(`${s.url}/readyz`);
    expect(down.status).toBe(503);
    expect(down.json).toEqual({ error: { code: 'database_unavailable', message: expect.any(String) } });
    expect(down.text).not.toMatch(/ALLOW_CONNECTIONS|does not allow|at .*:\d+/);
    await admin.query(`ALTER DATABASE ${dbName} ALLOW_CONNECTIONS true`);
    let last = 0;
    for (let i = 0; i < 5 && last !== 200; i++) last = (await request(`${s.url}/readyz`)).status;
    expect(last).toBe(200);
  });
});

if (ENGINE !== 'server') {
  describe('database faults', () => {
    it.skip('run on server PostgreSQL only (the embedded engine has no backends to kill)', () => undefined);
  });
}
