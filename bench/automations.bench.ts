// The cost of automation triggers on a CSV import (docs/ARCHITECTURE.md §25), server
// PostgreSQL: import rows/s into a business with an active "contact created" automation (its
// 0103 trigger writes one event per created contact, in the batch's own statement) vs the same
// import into a business with none (the trigger's one indexed lookup per batch), same run,
// alternating sides, best of rounds. Goal: ≥ 0.80 of the import's own rate. The events are
// left pending (no scheduler runs), so only the import's own transaction is measured.
import { randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import pg from 'pg';
import { createAutomation, setAutomationStatus } from '../src/automations/automations.ts';
import { openServerEngine } from '../src/db/server-engine.ts';
import { migrate } from '../src/db/migrator.ts';
import { createDatabase } from '../src/db/request.ts';
import type { Database } from '../src/db/index.ts';
import { readCsvUpload } from '../src/crm/import/csv-reader.ts';
import { beginImportJob, createImportJob, getImportJob } from '../src/crm/import/import-jobs.ts';
import { createImportRunner } from '../src/crm/import/import-runner.ts';
import { contactsFixture } from '../test/fixtures/csv/contacts-fixture.ts';
import { figure, ratioRange, type Figure } from './lib.ts';

const ADMIN_URL =
  process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const ROWS = Number(process.env.BENCH_AUTOMATION_IMPORT_ROWS ?? 20_000);
const ROUNDS = Number(process.env.BENCH_AUTOMATION_ROUNDS ?? 4);

async function newOwnedBusiness(admin: pg.Pool): Promise<{ userId: string; businessId: string }> {
  const userId = randomUUID();
  const businessId = randomUUID();
  await admin.query(`BEGIN; SET LOCAL ROLE capto_owner`);
  await admin.query('INSERT INTO auth.users (id, email) VALUES ($1, $2)', [
    userId,
    `a-${userId.slice(0, 8)}@bench.test`,
  ]);
  await admin.query('INSERT INTO app.businesses (id, name, created_by) VALUES ($1, $2, $3)', [
    businessId,
    'Automation bench',
    userId,
  ]);
  await admin.query(
    `INSERT INTO app.memberships (business_id, user_id, role) VALUES ($1, $2, 'owner') ON CONFLICT DO NOTHING`,
    [businessId, userId],
  );
  await admin.query('COMMIT');
  return { userId, businessId };
}

async function importOnce(db: Database, admin: pg.Pool, csv: Buffer, withAutomation: boolean): Promise<number> {
  const { userId, businessId } = await newOwnedBusiness(admin);
  if (withAutomation)
    await db.asUser({ sub: userId }, async (tx) => {
      const a = await createAutomation(tx, { userId }, businessId, {
        name: 'New leads',
        trigger: { type: 'contact_created' },
        steps: [{ type: 'set_contact_status', status: 'prospect' }],
      });
      await setAutomationStatus(tx, businessId, a.id, 'active');
    });
  const upload = await readCsvUpload(Readable.from([csv]));
  const job = await db.asUser({ sub: userId }, (tx) => createImportJob(tx, businessId, userId, 'bench.csv', upload));
  await db.asUser({ sub: userId }, (tx) => beginImportJob(tx, businessId, userId, job.id, { dedupe_mode: 'skip' }));
  const t0 = process.hrtime.bigint();
  const runner = createImportRunner({ db, inFlight: 2 });
  runner.start({ id: job.id, businessId, userId });
  await runner.settled(job.id);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const done = await db.asUser({ sub: userId }, (tx) => getImportJob(tx, businessId, job.id));
  if (done.status !== 'completed') throw new Error(`bench import ended ${done.status}: ${done.error}`);
  if (withAutomation) {
    const events = await admin.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM app.automation_trigger_events WHERE business_id = $1`,
      [businessId],
    );
    if (events.rows[0]!.n !== done.created_count)
      throw new Error(`expected ${done.created_count} trigger events, found ${events.rows[0]!.n}`);
  }
  return seconds;
}

export default async function run(): Promise<Figure[]> {
  const name = `capto_bench_auto_${randomBytes(3).toString('hex')}`;
  const root = new pg.Client({ connectionString: ADMIN_URL });
  await root.connect();
  await root.query(`CREATE DATABASE ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const engine = await openServerEngine({ databaseUrl: url.toString(), poolSize: 10 });
  const admin = new pg.Pool({ connectionString: url.toString(), max: 2 });
  admin.on('error', () => undefined);
  try {
    await engine.withMaintenanceClient((c) => migrate(c));
    const db = createDatabase(engine.pool);
    const csv = Buffer.from(contactsFixture(ROWS).csv);
    await importOnce(db, admin, Buffer.from(contactsFixture(2000).csv), true); // warm up
    const pairs: [number, number][] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? [false, true] : [true, false];
      const took = { none: 0, active: 0 };
      for (const withAutomation of order) {
        const s = await importOnce(db, admin, csv, withAutomation);
        took[withAutomation ? 'active' : 'none'] = s;
        console.log(`  round ${round + 1}: ${withAutomation ? 'active automation' : 'none'} ${s.toFixed(2)} s`);
      }
      pairs.push([ROWS / took.active, ROWS / took.none]);
    }
    const r = ratioRange(pairs);
    return [
      figure({
        name: 'CSV import rows/s with an active contact-created automation',
        value: r.median[0],
        baseline: r.median[1],
        unit: 'rows/s',
        goal: '>= 0.80',
        engine: 'server',
        notes: `${ROWS.toLocaleString('en-US')} rows per import, the median of ${ROUNDS} interleaved pairs; ${r.notes}; baseline: the same import with no automation`,
      }),
    ];
  } finally {
    await engine.close().catch(() => undefined);
    await admin.end().catch(() => undefined);
    await root.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
    await root.end();
  }
}
