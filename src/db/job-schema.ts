// The job engine's tables (docs/ARCHITECTURE.md §22): pg-boss's own schema,
// installed and upgraded here by the migration owner — never by the running server,
// which only reads and writes job rows. The server's login role (capto_app) gets
// DML on these tables and EXECUTE on their functions, nothing else; the request roles
// (capto_authenticated, capto_anon, capto_service) get nothing, which the scan checks
// (`job_schema_exposed`).
import type pg from 'pg';
import { getConstructionPlans, getMigrationPlans } from 'pg-boss';
import { ROLE_NAMES } from './roles.ts';

export const JOB_SCHEMA = 'pgboss';
export type JobSchemaOutcome = 'installed' | 'upgraded' | 'current';
// The migrator's advisory lock (src/db/migrator.ts): two nodes starting at once install the schema once.
const MIGRATION_LOCK = 7_270_001;

/** pg-boss's plans are `BEGIN; … COMMIT;`: the body, to run inside our own owner transaction. */
export function planBody(plan: string): string {
  const text = plan.trim();
  if (!text.startsWith('BEGIN;') || !text.endsWith('COMMIT;'))
    throw new Error(
      'pg-boss plan is not one BEGIN … COMMIT block: review src/db/job-schema.ts before upgrading pg-boss',
    );
  const body = text.slice('BEGIN;'.length, -'COMMIT;'.length);
  if (/\bCOMMIT;|\bCONCURRENTLY\b/.test(body))
    throw new Error('pg-boss plan holds statements outside its transaction: review src/db/job-schema.ts');
  return body;
}

const GRANTS = `
  REVOKE ALL ON SCHEMA ${JOB_SCHEMA} FROM PUBLIC;
  REVOKE ALL ON ALL FUNCTIONS IN SCHEMA ${JOB_SCHEMA} FROM PUBLIC;
  GRANT USAGE ON SCHEMA ${JOB_SCHEMA} TO ${ROLE_NAMES.app};
  GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${JOB_SCHEMA} TO ${ROLE_NAMES.app};
  GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA ${JOB_SCHEMA} TO ${ROLE_NAMES.app};
  GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA ${JOB_SCHEMA} TO ${ROLE_NAMES.app};`;

/**
 * Install pg-boss's schema, or upgrade it to this pg-boss's version, as capto_owner in
 * one transaction (`ownerTx`: the migrator's role prefix). Called by the migrator after
 * the SQL migrations.
 */
export async function installJobSchema(
  client: pg.ClientBase,
  ownerTx: string,
  target: number = currentJobSchemaVersion(),
): Promise<JobSchemaOutcome> {
  await client.query(`BEGIN; ${ownerTx} SELECT pg_advisory_xact_lock(${MIGRATION_LOCK});`);
  try {
    const exists = await client.query<{ t: string | null }>(`SELECT to_regclass('${JOB_SCHEMA}.version')::text AS t`);
    let outcome: JobSchemaOutcome;
    if (!exists.rows[0]?.t) {
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${JOB_SCHEMA}`);
      await client.query(planBody(getConstructionPlans(JOB_SCHEMA, { createSchema: false })));
      outcome = 'installed';
    } else {
      const v = await client.query<{ version: number }>(`SELECT version FROM ${JOB_SCHEMA}.version`);
      const version = Number(v.rows[0]?.version);
      if (version > target)
        throw new Error(`the job schema is at version ${version}, newer than this pg-boss (${target}): upgrade Capto`);
      if (version < target) {
        await client.query(planBody(getMigrationPlans(JOB_SCHEMA, version)));
        outcome = 'upgraded';
      } else outcome = 'current';
    }
    await client.query(GRANTS);
    await client.query('COMMIT');
    return outcome;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}

let cachedVersion: number | undefined;
/** The schema version this pg-boss expects (its package.json `pgboss.schema`). */
export function currentJobSchemaVersion(): number {
  if (cachedVersion === undefined) {
    const m = /INSERT INTO \S+\.version\s*\(version\) VALUES \('(\d+)'\)/.exec(getConstructionPlans(JOB_SCHEMA));
    if (!m) throw new Error('cannot read the pg-boss schema version from its construction plan');
    cachedVersion = Number(m[1]);
  }
  return cachedVersion;
}
