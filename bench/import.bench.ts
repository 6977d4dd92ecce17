// CSV import throughput on server PostgreSQL: rows/s of the real
// import — the same runner, SQL and batch size (1000) the server uses — as the
// importing user through RLS (capto_authenticated) vs the very same code with the
// transaction's role switched to capto_owner (BYPASSRLS), measured in the same run,
// in a throw-away copy of the cached path world (bench/path-world.ts: 200k contacts over
// 1,000 businesses), copied in seconds instead of seeded each run. With only 100 businesses
// the planner seq-scanned the tiny businesses and memberships tables in every
// per-row foreign-key check, which a real deployment never does.
// Goal: ≥ 20,000 rows/s through RLS. Each round imports the fixture (with its
// duplicates and bad rows) into a fresh business; sides alternate, best of rounds.
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import pg from 'pg';
import { openServerEngine } from '../src/db/server-engine.ts';
import { createDatabase } from '../src/db/request.ts';
import type { Claims, Database, Tx } from '../src/db/index.ts';
import { readCsvUpload } from '../src/crm/import/csv-reader.ts';
import { beginImportJob, createImportJob, getImportJob } from '../src/crm/import/import-jobs.ts';
import { createImportRunner } from '../src/crm/import/import-runner.ts';
import { contactsFixture } from '../test/fixtures/csv/contacts-fixture.ts';
import { figure, worldCopy, type Figure } from './lib.ts';
import { ADMIN_URL, BUSINESSES, CONTACTS as BACKGROUND, pathWorld } from './path-world.ts';

const ROWS = Number(process.env.BENCH_IMPORT_ROWS ?? 20_000);
const ROUNDS = Number(process.env.BENCH_IMPORT_ROUNDS ?? 4);

/** The request-transaction shape of src/db/request.ts, but as the bypass role: the baseline. */
function bypassDatabase(pool: pg.Pool): Database {
  return {
    async asUser<T>(claims: Claims, fn: (tx: Tx) => Promise<T>) {
      const client = await pool.connect();
      try {
        const json = pg.escapeLiteral(JSON.stringify({ sub: claims.sub, role: 'authenticated' }));
        await client.query(`BEGIN; SET LOCAL ROLE capto_owner; SELECT set_config('request.jwt.claims', ${json}, true)`);
        const out = await fn({
          query: async (text, params) => {
            const r = await client.query(text, params as unknown[]);
            return { rows: r.rows, rowCount: r.rowCount ?? 0 };
          },
        });
        await client.query('COMMIT');
        return out;
      } catch (e) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw e;
      } finally {
        client.release();
      }
    },
    asAnon: () => Promise.reject(new Error('not used')),
    asService: () => Promise.reject(new Error('not used')),
  };
}

async function newOwnedBusiness(admin: pg.Pool): Promise<{ userId: string; businessId: string }> {
  const userId = randomUUID();
  const businessId = randomUUID();
  await admin.query(`BEGIN; SET LOCAL ROLE capto_owner`);
  await admin.query('INSERT INTO auth.users (id, email) VALUES ($1, $2)', [
    userId,
    `importer-${userId.slice(0, 8)}@bench.test`,
  ]);
  await admin.query('INSERT INTO app.businesses (id, name, created_by) VALUES ($1, $2, $3)', [
    businessId,
    'Import bench',
    userId,
  ]);
  await admin.query(
    `INSERT INTO app.memberships (business_id, user_id, role) VALUES ($1, $2, 'owner') ON CONFLICT DO NOTHING`,
    [businessId, userId],
  );
  await admin.query('COMMIT');
  return { userId, businessId };
}

/** One import through `db`; returns [runner seconds, end-to-end seconds (parse + stage + run)]. */
async function importOnce(
  db: Database,
  admin: pg.Pool,
  csv: Buffer,
): Promise<{ run: number; total: number; created: number }> {
  const { userId, businessId } = await newOwnedBusiness(admin);
  const t0 = process.hrtime.bigint();
  const upload = await readCsvUpload(Readable.from([csv]));
  const job = await db.asUser({ sub: userId }, (tx) => createImportJob(tx, businessId, userId, 'bench.csv', upload));
  await db.asUser({ sub: userId }, (tx) => beginImportJob(tx, businessId, userId, job.id, { dedupe_mode: 'skip' }));
  const t1 = process.hrtime.bigint();
  const runner = createImportRunner({ db, inFlight: 2 }); // as the server engine runs it (src/crm/import/index.ts)
  runner.start({ id: job.id, businessId, userId });
  await runner.settled(job.id);
  const t2 = process.hrtime.bigint();
  const done = await db.asUser({ sub: userId }, (tx) => getImportJob(tx, businessId, job.id));
  if (done.status !== 'completed') throw new Error(`bench import ended ${done.status}: ${done.error}`);
  return { run: Number(t2 - t1) / 1e9, total: Number(t2 - t0) / 1e9, created: done.created_count };
}

export default async function run(): Promise<Figure[]> {
  const copy = await worldCopy(ADMIN_URL, await pathWorld(), 'capto_bench_import_copy');
  const engine = await openServerEngine({ databaseUrl: copy.url, poolSize: 10 }); // the server default (CAPTO_DB_POOL_SIZE)
  const admin = new pg.Pool({ connectionString: copy.url, max: 2 });
  admin.on('error', () => undefined); // DROP DATABASE … WITH (FORCE) ends idle connections
  try {
    const csv = Buffer.from(contactsFixture(ROWS).csv);
    const rls = createDatabase(engine.pool);
    const bypass = bypassDatabase(admin);
    await importOnce(rls, admin, Buffer.from(contactsFixture(2000).csv)); // warm up code paths and caches
    const best = { rls: { run: Infinity, total: Infinity }, bypass: { run: Infinity, total: Infinity } };
    let created = 0;
    for (let round = 0; round < ROUNDS; round++) {
      // ABBA order: load drift on a shared machine hits both sides alike.
      const [a, b] =
        round % 2 === 0
          ? [await importOnce(rls, admin, csv), await importOnce(bypass, admin, csv)]
          : await importOnce(bypass, admin, csv).then(async (y) => [await importOnce(rls, admin, csv), y] as const);
      created = a.created;
      best.rls = { run: Math.min(best.rls.run, a.run), total: Math.min(best.rls.total, a.total) };
      best.bypass = { run: Math.min(best.bypass.run, b.run), total: Math.min(best.bypass.total, b.total) };
      console.log(
        `  round ${round + 1}: RLS run ${a.run.toFixed(2)} s (total ${a.total.toFixed(2)} s), bypass run ${b.run.toFixed(2)} s (total ${b.total.toFixed(2)} s)`,
      );
    }
    const notes = `rows created per second (duplicates and bad rows are work, not throughput): ${ROWS.toLocaleString('en-US')}-row file, ${created.toLocaleString('en-US')} created, ${BACKGROUND.toLocaleString('en-US')} background contacts over ${BUSINESSES} businesses`;
    return [
      figure({
        name: 'CSV import rows/s through RLS (validate, dedupe, insert)',
        value: created / best.rls.run,
        baseline: created / best.bypass.run,
        unit: 'rows/s',
        goal: '>= 20000 rows/s',
        engine: 'server',
        notes,
      }),
      figure({
        name: 'CSV import rows/s end to end (parse, stage, run)',
        value: created / best.rls.total,
        baseline: created / best.bypass.total,
        unit: 'rows/s',
        goal: '>= 0.80',
        engine: 'server',
        notes,
      }),
    ];
  } finally {
    await engine.close().catch(() => undefined);
    await admin.end().catch(() => undefined);
    await copy.drop().catch(() => undefined);
  }
}
