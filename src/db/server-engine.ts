// Server mode: DATABASE_URL → a pg pool logging in as capto_app. Migrations use
// CAPTO_MIGRATION_URL (or DATABASE_URL when that is an owner/superuser, in which case
// the app pool logs in as capto_app on the same server instead).
import pg from 'pg';
import type { Engine } from './engine.ts';
import { bootstrapSql, ROLE_NAMES } from './roles.ts';

export interface ServerEngineOptions {
  databaseUrl: string;
  migrationUrl?: string;
  poolSize: number;
  /** Create roles and grants when the migration login may (a superuser). Default true. */
  bootstrap?: boolean;
}

export class UnsafeLoginRoleError extends Error {
  override name = 'UnsafeLoginRoleError';
}

export async function openServerEngine(options: ServerEngineOptions): Promise<Engine> {
  const migrationUrl = options.migrationUrl ?? options.databaseUrl;
  const admin = new pg.Client({ connectionString: migrationUrl });
  await admin.connect();
  let appUrl = options.databaseUrl;
  try {
    const me = await admin.query<{ rolsuper: boolean; rolcreaterole: boolean }>(
      'SELECT rolsuper, rolcreaterole FROM pg_catalog.pg_roles WHERE rolname = current_user',
    );
    const privileged = me.rows[0]?.rolsuper === true;
    if (privileged && options.bootstrap !== false) await bootstrapWithRetry(admin);
    const appUser = new URL(options.databaseUrl).username || process.env.USER || '';
    if (appUser !== ROLE_NAMES.app && privileged && migrationUrl === options.databaseUrl) {
      // Given one superuser URL: migrate with it, serve as capto_app on the same database.
      const u = new URL(options.databaseUrl);
      u.username = ROLE_NAMES.app;
      u.password = '';
      appUrl = u.toString();
    }
  } finally {
    await admin.end();
  }

  // pipeline: a request transaction sends its set-up and first statement in one round trip (src/db/request.ts).
  const pool = new pg.Pool({
    connectionString: appUrl,
    max: options.poolSize,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 5_000,
    pipeline: true,
  });
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on('error', () => undefined);
  // A backend can die at any instant (pg_terminate_backend, failover). pg then emits 'error'
  // on the client, and at the instant a client passes between the pool and its user (or
  // waits with a pipelined COMMIT in flight) nobody may be listening: an uncaught exception
  // that would end the process. Every client listens for its whole life; its queries still
  // fail, and the pool drops it when it comes back (it is no longer queryable).
  pool.on('connect', (client) => client.on('error', () => undefined));
  try {
    await assertSafeLoginRole(pool);
  } catch (e) {
    await pool.end();
    throw e;
  }

  return {
    kind: 'server',
    pool,
    jobConnection: { connectionString: appUrl, max: 4, connectionTimeoutMillis: 5_000 },
    withMaintenanceClient: (fn) => withClient(migrationUrl, fn),
    async close() {
      await pool.end();
    },
  };
}

/** A dedicated connection for `fn`, always closed afterwards (maintenance and CLI work). */
export async function withClient<T>(connectionString: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  client.on('error', () => undefined); // a backend killed while idle must not crash the process
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The server's login role must be confined by RLS: no superuser, no BYPASSRLS, no inherited power. */
export async function assertSafeLoginRole(pool: pg.Pool): Promise<void> {
  const r = await pool.query<{ rolname: string; rolsuper: boolean; rolbypassrls: boolean; rolinherit: boolean }>(
    'SELECT rolname, rolsuper, rolbypassrls, rolinherit FROM pg_catalog.pg_roles WHERE rolname = current_user',
  );
  const role = r.rows[0];
  if (!role || role.rolsuper || role.rolbypassrls || role.rolinherit) {
    throw new UnsafeLoginRoleError(
      `the server must log in as ${ROLE_NAMES.app} (NOSUPERUSER NOBYPASSRLS NOINHERIT); DATABASE_URL logs in as ${role?.rolname ?? 'an unknown role'}. ` +
        `Run "capto db setup" and point DATABASE_URL at ${ROLE_NAMES.app}, with CAPTO_MIGRATION_URL for the owner.`,
    );
  }
}

/** Roles are cluster-wide: concurrent bootstraps (parallel test databases) may collide; retry. */
export async function bootstrapWithRetry(client: pg.ClientBase, attempts = 5): Promise<void> {
  for (let i = 1; ; i++) {
    try {
      await client.query(bootstrapSql());
      return;
    } catch (e) {
      if (i >= attempts) throw e;
      await new Promise((r) => setTimeout(r, 50 * i + Math.random() * 100));
    }
  }
}
