// Cluster-wide roles (docs/ARCHITECTURE.md §6) and per-database grants, created idempotently by
// whoever may create roles: `capto db setup`, the embedded worker, the test harness.
// Several databases on one cluster share these roles; concurrent creators race on
// CREATE ROLE, so each statement tolerates "already exists".

export const ROLE_NAMES = {
  owner: 'capto_owner',
  authenticated: 'capto_authenticated',
  anon: 'capto_anon',
  service: 'capto_service',
  app: 'capto_app',
} as const;

const createRole = (name: string, attributes: string) => `
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = '${name}') THEN
    CREATE ROLE ${name} ${attributes};
  END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;`;

/**
 * SQL run as a superuser (or a CREATEROLE admin) in the target database.
 * - capto_owner owns every object and bypasses RLS: used only by migrations and the CLI.
 * - capto_app logs in, inherits nothing, and may only SET ROLE to the three request roles.
 */
export function bootstrapSql(): string {
  return [
    createRole('capto_owner', 'NOLOGIN BYPASSRLS'),
    createRole('capto_authenticated', 'NOLOGIN'),
    createRole('capto_anon', 'NOLOGIN'),
    createRole('capto_service', 'NOLOGIN'),
    createRole('capto_app', 'LOGIN NOINHERIT'),
    // Re-assert attributes every time: a role pre-created by hand must not keep more power.
    `ALTER ROLE capto_app NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION NOINHERIT LOGIN;`,
    `ALTER ROLE capto_authenticated NOSUPERUSER NOBYPASSRLS NOLOGIN;`,
    `ALTER ROLE capto_anon NOSUPERUSER NOBYPASSRLS NOLOGIN;`,
    `ALTER ROLE capto_service NOSUPERUSER NOBYPASSRLS NOLOGIN;`,
    `GRANT capto_authenticated, capto_anon, capto_service TO capto_app;`,
    `DO $$ BEGIN
       EXECUTE format('GRANT CONNECT, CREATE, TEMPORARY ON DATABASE %I TO capto_owner', current_database());
       EXECUTE format('GRANT CONNECT ON DATABASE %I TO capto_app', current_database());
       EXECUTE format('REVOKE CREATE, TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
     END $$;`,
    `REVOKE CREATE ON SCHEMA public FROM PUBLIC;`,
    // Extensions live in their own schema, created by the superuser (PGlite and PG15
    // both allow these trusted extensions), so app schemas hold only our objects.
    `CREATE SCHEMA IF NOT EXISTS extensions;`,
    `GRANT USAGE ON SCHEMA extensions TO capto_owner, capto_authenticated, capto_anon, capto_service;`,
    `CREATE EXTENSION IF NOT EXISTS citext WITH SCHEMA extensions;`,
    `CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA extensions;`,
    `CREATE EXTENSION IF NOT EXISTS btree_gin WITH SCHEMA extensions;`,
  ].join('\n');
}
