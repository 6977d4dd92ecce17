// Scheduler lag (docs/ARCHITECTURE.md §25), server PostgreSQL: BENCH_LAG_ENROLLMENTS (default
// 10,000) active enrollments, due evenly over BENCH_LAG_WINDOW_SECONDS (default 60: the same
// rate as the full size, 100,000 over 600 s, which `npm run bench` cannot afford in a run), run by the real `automations.run` job on a pg-boss engine in this
// process (`CAPTO_JOBS_POLL_SECONDS` 2 and concurrency 4, the defaults). Lag = when the step
// ran (its `step_done` event, written with clock_timestamp() inside the step's transaction)
// − when it was due (the enrollment's next_run_at, copied to enrolled_at at seeding). Figures:
// lag p50 and p99, beside the step's own transaction time (p50/p99, measured around each step
// transaction) as the baseline.
// The full size: BENCH_LAG_ENROLLMENTS=100000 BENCH_LAG_WINDOW_SECONDS=600
// BENCH_LAG_DRAIN_SECONDS=600 (about 12 minutes on its own).
import { randomBytes, randomUUID } from 'node:crypto';
import os from 'node:os';
import pg from 'pg';
import { createAutomation, setAutomationStatus } from '../src/automations/automations.ts';
import type { SchedulerDeps } from '../src/automations/scheduler.ts';
import type { Database } from '../src/db/index.ts';
import { openJobDatabase } from '../src/db/job-database.ts';
import { migrate } from '../src/db/migrator.ts';
import { createDatabase } from '../src/db/request.ts';
import { openServerEngine } from '../src/db/server-engine.ts';
import { automationsRunHandler, automationsRunQueue } from '../src/jobs/automations-run.ts';
import { createJobEngine } from '../src/jobs/engine.ts';
import { figure, percentile, type Figure } from './lib.ts';

const ADMIN_URL =
  process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const N = Number(process.env.BENCH_LAG_ENROLLMENTS ?? 10_000);
const WINDOW_S = Number(process.env.BENCH_LAG_WINDOW_SECONDS ?? 60);
const CONCURRENCY = Number(process.env.BENCH_LAG_CONCURRENCY ?? 4);
/** How long after the window's end the bench waits for the last steps. */
const DRAIN_S = Number(process.env.BENCH_LAG_DRAIN_SECONDS ?? 120);
/** Seconds from the contacts' insert to the first due step: the enrollments' insert and the job engine's start. */
const LEAD_S = 30 + N / 5000;
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** `db` with the time of every step transaction recorded (the baseline). */
function timedSteps(db: Database, into: number[]): Database {
  return {
    ...db,
    asService: async (reason, fn) => {
      if (reason !== 'automations.step') return db.asService(reason, fn);
      const t0 = performance.now();
      try {
        return await db.asService(reason, fn);
      } finally {
        into.push(performance.now() - t0);
      }
    },
  };
}

export default async function run(): Promise<Figure[]> {
  const name = `capto_bench_lag_${randomBytes(3).toString('hex')}`;
  const root = new pg.Client({ connectionString: ADMIN_URL });
  await root.connect();
  await root.query(`CREATE DATABASE ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const engine = await openServerEngine({ databaseUrl: url.toString(), poolSize: 10 });
  const admin = new pg.Pool({ connectionString: url.toString(), max: 2 });
  admin.on('error', () => undefined);
  let jobs: ReturnType<typeof createJobEngine> | undefined;
  try {
    await engine.withMaintenanceClient((c) => migrate(c));
    const db = createDatabase(engine.pool);
    const userId = randomUUID();
    const businessId = randomUUID();
    await admin.query(`BEGIN; SET LOCAL ROLE capto_owner`);
    await admin.query('INSERT INTO auth.users (id, email) VALUES ($1, $2)', [userId, `lag-${userId}@bench.test`]);
    await admin.query('INSERT INTO app.businesses (id, name, created_by) VALUES ($1, $2, $3)', [
      businessId,
      'Lag bench',
      userId,
    ]);
    await admin.query(
      `INSERT INTO app.memberships (business_id, user_id, role) VALUES ($1, $2, 'owner') ON CONFLICT DO NOTHING`,
      [businessId, userId],
    );
    await admin.query('COMMIT');
    // One step that writes (a list membership and the contact's event) and sends nothing; a
    // trigger nobody fires, so the only work is the seeded enrollments.
    const listId = randomUUID();
    await admin.query(`BEGIN; SET LOCAL ROLE capto_owner`);
    await admin.query('INSERT INTO app.lists (id, business_id, name) VALUES ($1, $2, $3)', [listId, businessId, 'Lag']);
    await admin.query('COMMIT');
    const automationId = await db.asUser({ sub: userId }, async (tx) => {
      const a = await createAutomation(tx, { userId }, businessId, {
        name: 'Lag',
        trigger: { type: 'inbound_sms_keyword', keyword: 'LAGBENCH' },
        steps: [{ type: 'add_to_list', list_id: listId }],
      });
      await setAutomationStatus(tx, businessId, a.id, 'active');
      return a.id;
    });
    const seeded = Date.now();
    await admin.query(`BEGIN; SET LOCAL ROLE capto_owner`);
    await admin.query(
      `INSERT INTO app.contacts (business_id, first_name, phone)
       SELECT $1, 'L' || i, '+1777' || lpad(i::text, 7, '0') FROM generate_series(1, $2) AS i`,
      [businessId, N],
    );
    const first = new Date(Date.now() + LEAD_S * 1000);
    // Due evenly over the window; enrolled_at = the due time, so the lag is in the rows.
    await admin.query(
      `INSERT INTO app.automation_enrollments
         (business_id, automation_id, version, contact_id, trigger_event_id, next_run_at, enrolled_at)
       SELECT $1, $2, 1, c.id, 'lag:' || c.id, d.at, d.at
         FROM (SELECT id, row_number() OVER (ORDER BY id) - 1 AS i FROM app.contacts WHERE business_id = $1) c,
              LATERAL (SELECT $3::timestamptz + (c.i * $4::float8 / $5) * interval '1 second' AS at) d`,
      [businessId, automationId, first, WINDOW_S, N],
    );
    await admin.query('COMMIT');
    await admin.query('ANALYZE app.automation_enrollments; ANALYZE app.contacts');
    console.log(`  seeded ${N.toLocaleString('en-US')} enrollments in ${((Date.now() - seeded) / 1000).toFixed(1)} s`);
    if (Date.now() > first.getTime()) console.log('  (seeding ran past the first due time: early lags include it)');

    const stepMs: number[] = [];
    const deps: SchedulerDeps = {
      db: timedSteps(db, stepMs),
      logger: quiet,
      smsWindow: null,
      notifyOutbox: async () => undefined,
    };
    jobs = createJobEngine({
      database: openJobDatabase(engine),
      logger: quiet,
      workers: true,
      concurrency: CONCURRENCY,
    });
    jobs.register(automationsRunQueue, automationsRunHandler(deps, jobs, { workers: CONCURRENCY }));
    await jobs.start();
    await jobs.send(automationsRunQueue, {});

    const deadline = first.getTime() + (WINDOW_S + DRAIN_S) * 1000;
    let left = N;
    for (;;) {
      await new Promise((r) => setTimeout(r, 5000));
      left = (
        await admin.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM app.automation_enrollments WHERE business_id = $1 AND state = 'active'`,
          [businessId],
        )
      ).rows[0]!.n;
      console.log(`  ${Math.round((Date.now() - first.getTime()) / 1000)} s: ${left.toLocaleString('en-US')} left`);
      if (left === 0 || Date.now() > deadline) break;
    }
    const stoppedAt = new Date();
    await jobs.stop();
    jobs = undefined;

    // A step still waiting at the deadline counts with its lag so far (a lower bound).
    const lags = (
      await admin.query<{ ms: number }>(
        `SELECT extract(epoch FROM coalesce(ev.created_at, $2) - e.enrolled_at)::float8 * 1000 AS ms
           FROM app.automation_enrollments e LEFT JOIN app.automation_enrollment_events ev
             ON ev.business_id = e.business_id AND ev.enrollment_id = e.id AND ev.kind = 'step_done'
          WHERE e.business_id = $1`,
        [businessId, stoppedAt],
      )
    ).rows
      .map((r) => r.ms)
      .sort((a, b) => a - b);
    if (lags.length !== N) throw new Error(`expected ${N} enrollments, found ${lags.length}`);
    const steps = stepMs.sort((a, b) => a - b);
    const ranPerSecond = (N - left) / ((stoppedAt.getTime() - first.getTime()) / 1000);
    const notes =
      `${N.toLocaleString('en-US')} enrollments due over ${WINDOW_S} s (${(N / WINDOW_S).toFixed(0)}/s), ` +
      `concurrency ${CONCURRENCY}; max lag ${lags.at(-1)!.toFixed(0)} ms; ${(N - left).toLocaleString('en-US')} steps ` +
      `ran in ${Math.round((stoppedAt.getTime() - first.getTime()) / 1000)} s (${ranPerSecond.toFixed(0)}/s)` +
      (left > 0
        ? `; ${left.toLocaleString('en-US')} not run ${DRAIN_S} s after the window, counted with their lag so far (lower bound)`
        : '') +
      `; load average ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`;
    console.log(
      `  lag p50 ${percentile(lags, 50).toFixed(1)} ms, p90 ${percentile(lags, 90).toFixed(1)}, p99 ${percentile(lags, 99).toFixed(1)}, max ${lags.at(-1)!.toFixed(1)}; ` +
        `step tx p50 ${percentile(steps, 50).toFixed(1)} ms, p99 ${percentile(steps, 99).toFixed(1)} (${steps.length} step transactions)`,
    );
    return [
      figure({
        name: `automation scheduler lag p50 (due → step ran), ${N / 1000}k over ${WINDOW_S} s`,
        value: percentile(lags, 50),
        baseline: percentile(steps, 50),
        unit: 'ms',
        goal: '<= 1000 ms',
        engine: 'server',
        notes: `${notes}; baseline: the step transactions' own p50`,
      }),
      figure({
        name: `automation scheduler lag p99 (due → step ran), ${N / 1000}k over ${WINDOW_S} s`,
        value: percentile(lags, 99),
        baseline: percentile(steps, 99),
        unit: 'ms',
        goal: '<= 5000 ms',
        engine: 'server',
        notes: `${notes}; baseline: the step transactions' own p99`,
      }),
    ];
  } finally {
    await jobs?.stop().catch(() => undefined);
    await engine.close().catch(() => undefined);
    await admin.end().catch(() => undefined);
    await root.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
    await root.end();
  }
}
