// The job engine (docs/ARCHITECTURE.md §22) on the engine under test: pg-boss
// through capto_app's own pool — over the embedded worker's socket on PGlite — with
// the job schema closed to every request role, failures stored as codes only, a
// crashed node's job retried by another, polling measured, and `capto jobs`.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { loadConfig } from '../src/config/index.ts';
import { asOwner } from '../src/db/engine.ts';
import { AppError } from '../src/shared/errors.ts';
import { defineQueue, id } from '../src/jobs/queue.ts';
import { jobsFailedCommand, jobsListCommand, jobsRetryCommand } from '../src/jobs/cli-commands.ts';
import { trashPurgeHandler, trashPurgeQueue } from '../src/jobs/trash-purge.ts';
import { registry } from '../src/observability/metrics.ts';
import { observeJobs } from '../src/observability/metrics.ts';
import { createTestDatabase, ENGINE, type TestDatabase } from './support/engine.ts';
import { newBusiness, newUser } from './support/factories.ts';
import { testJobEngine } from './support/jobs.ts';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
}, 300_000);
afterAll(async () => t?.close());

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const jobState = async (queue: string, jobId: string) =>
  (
    await asOwner(t.engine, (c) =>
      c.query<{ state: string; output: unknown; retry_count: number }>(
        'SELECT state::text, output, retry_count FROM pgboss.job WHERE name = $1 AND id = $2',
        [queue, jobId],
      ),
    )
  ).rows[0];

describe(`job schema privileges (${ENGINE})`, () => {
  it('request roles have no privilege on the job schema; capto_app has DML but cannot change it', async () => {
    const r = await asOwner(t.engine, (c) =>
      c.query<{ role: string; usage: boolean; job_select: boolean; job_insert: boolean; fn: boolean; create: boolean }>(
        `SELECT r AS role, has_schema_privilege(r, 'pgboss', 'USAGE') AS usage,
                has_table_privilege(r, 'pgboss.job', 'SELECT') AS job_select,
                has_table_privilege(r, 'pgboss.job', 'INSERT') AS job_insert,
                has_function_privilege(r, 'pgboss.create_queue(text, jsonb)', 'EXECUTE') AS fn,
                has_schema_privilege(r, 'pgboss', 'CREATE') AS create
           FROM unnest(ARRAY['capto_authenticated', 'capto_anon', 'capto_service', 'capto_app']) AS r ORDER BY r`,
      ),
    );
    const by = Object.fromEntries(r.rows.map((x) => [x.role, x]));
    for (const role of ['capto_authenticated', 'capto_anon', 'capto_service'])
      expect(by[role], role).toMatchObject({ usage: false, job_select: false, job_insert: false, fn: false });
    // Positive case: the server's login reaches its job rows, and nothing more there.
    expect(by.capto_app).toMatchObject({ usage: true, job_select: true, job_insert: true, fn: true, create: false });
  });

  it('a request transaction cannot read the job table', async () => {
    const user = await newUser(t.engine);
    await expect(t.db.asUser({ sub: user.id }, (tx) => tx.query('SELECT count(*) FROM pgboss.job'))).rejects.toThrow();
    await expect(t.db.asService('test.jobs', (tx) => tx.query('SELECT count(*) FROM pgboss.job'))).rejects.toThrow();
  });
});

describe(`job engine (${ENGINE})`, () => {
  it('runs a job with its validated payload and refuses a payload outside the schema', async () => {
    const q = defineQueue({ name: 'test.echo', payload: z.object({ contact_id: id() }).strict(), policy: {} });
    const seen: string[] = [];
    const jobs = testJobEngine(t);
    jobs.register(q, async (p) => void seen.push(p.contact_id));
    await jobs.start();
    try {
      const contactId = randomUUID();
      await jobs.send(q, { contact_id: contactId });
      // Ids only: a payload with anything else never reaches the job table.
      await expect(jobs.send(q, { contact_id: 'Ann Smith <ann@example.com>' })).rejects.toThrow();
      await expect(jobs.send(q, { contact_id: contactId, email: 'ann@example.com' } as never)).rejects.toThrow();
      await vi.waitFor(() => expect(seen).toEqual([contactId]), { timeout: 15_000, interval: 50 });
    } finally {
      await jobs.stop();
    }
  });

  it('stores a failure as its code only, lists it, and retries it on request', async () => {
    const q = defineQueue({
      name: 'test.flaky',
      payload: z.object({ business_id: id() }).strict(),
      policy: { retryLimit: 0 },
    });
    let fail = true;
    let runs = 0;
    const jobs = testJobEngine(t);
    jobs.register(q, async () => {
      runs++;
      if (fail)
        throw new AppError('twilio_unreachable', 'could not reach +15551234567 for Ann Smith', {
          cause: new Error('secret detail'),
        });
    });
    await jobs.start();
    try {
      const jobId = (await jobs.send(q, { business_id: randomUUID() }))!;
      await vi.waitFor(async () => expect((await jobState(q.name, jobId))?.state).toBe('failed'), {
        timeout: 15_000,
        interval: 100,
      });
      const stored = JSON.stringify((await jobState(q.name, jobId))!.output);
      expect(stored).toContain('twilio_unreachable');
      expect(stored).not.toMatch(/555|Ann|secret|at .*\.ts/); // no data, no stack
      const failed = await jobs.failedJobs({ queue: q.name });
      expect(failed).toEqual([expect.objectContaining({ id: jobId, queue: q.name, error: 'twilio_unreachable' })]);
      const stats = (await jobs.stats()).find((s) => s.queue === q.name);
      expect(stats).toMatchObject({ failed: 1, queued: 0 });

      expect(await jobs.retry(q.name, randomUUID())).toBe(false);
      fail = false;
      expect(await jobs.retry(q.name, jobId)).toBe(true);
      await vi.waitFor(async () => expect((await jobState(q.name, jobId))?.state).toBe('completed'), {
        timeout: 15_000,
        interval: 100,
      });
      expect(runs).toBe(2);
    } finally {
      await jobs.stop();
    }
  });

  it('a job whose node died while running it is retried by another node once its claim expires', async () => {
    const q = defineQueue({
      name: 'test.crash',
      payload: z.object({ business_id: id() }).strict(),
      policy: { expireInSeconds: 2, retryLimit: 3, retryDelay: 0, retryBackoff: false },
    });
    // The first node takes the job and never finishes it: as dead as a killed process
    // for the job (the kill -9 case is test/outbox-crash.test.ts).
    const crashed = testJobEngine(t, { concurrency: 1 });
    let started = false;
    crashed.register(q, () => {
      started = true;
      return new Promise<void>(() => undefined);
    });
    await crashed.start();
    const jobId = (await crashed.send(q, { business_id: randomUUID() }))!;
    await vi.waitFor(() => expect(started).toBe(true), { timeout: 15_000, interval: 50 });
    expect((await jobState(q.name, jobId))?.state).toBe('active');

    const survivor = testJobEngine(t);
    let done = 0;
    survivor.register(q, async () => void done++);
    await survivor.start();
    try {
      await vi.waitFor(async () => expect((await jobState(q.name, jobId))?.state).toBe('completed'), {
        timeout: 30_000,
        interval: 200,
      });
      expect(done).toBe(1);
      expect((await jobState(q.name, jobId))?.retry_count).toBeGreaterThanOrEqual(1);
    } finally {
      await survivor.stop();
      await crashed.stop();
    }
  }, 60_000);

  it('polls promptly, also while request transactions keep the database busy (measured)', async () => {
    const q = defineQueue({ name: 'test.latency', payload: z.object({ n: z.number().int() }).strict(), policy: {} });
    const sent = new Map<number, number>();
    const waits: number[] = [];
    const jobs = testJobEngine(t, { concurrency: 4 });
    jobs.register(q, async (p) => void waits.push(performance.now() - sent.get(p.n)!));
    await jobs.start();
    // Busy database: a stream of short request transactions (on PGlite they run one at
    // a time with the job engine's statements, the socket serialising transactions).
    const user = await newUser(t.engine);
    let busy = true;
    const load = (async () => {
      while (busy) await t.db.asUser({ sub: user.id }, (tx) => tx.query('SELECT pg_sleep(0.02)'));
    })();
    try {
      for (let n = 0; n < 10; n++) {
        sent.set(n, performance.now());
        await jobs.send(q, { n });
        await sleep(150);
      }
      await vi.waitFor(() => expect(waits).toHaveLength(10), { timeout: 30_000, interval: 50 });
    } finally {
      busy = false;
      await load;
      await jobs.stop();
    }
    const sorted = [...waits].sort((a, b) => a - b);
    console.info(
      `job latency send→handler (${ENGINE}, poll 0.5 s, busy db): p50 ${sorted[5]!.toFixed(0)} ms, max ${sorted[9]!.toFixed(0)} ms`,
    );
    // One polling interval plus a few transactions of queueing; never stuck.
    expect(sorted[9]!).toBeLessThan(3_000);
  });

  it('the trash purge job deletes contacts trashed more than 30 days ago, in batches, and only those', async () => {
    const owner = await newUser(t.engine);
    const b = await newBusiness(t.engine, owner.id);
    const ids = await asOwner(t.engine, async (c) => {
      const r = await c.query<{ id: string; old: boolean }>(
        `INSERT INTO app.contacts (business_id, first_name, deleted_at)
         SELECT $1, 'P' || g, CASE WHEN g <= 5 THEN now() - interval '31 days' ELSE now() - interval '1 day' END
           FROM generate_series(1, 7) g RETURNING id, deleted_at < now() - interval '30 days' AS old`,
        [b.id],
      );
      return r.rows;
    });
    const jobs = testJobEngine(t);
    jobs.register(trashPurgeQueue, trashPurgeHandler(t.db, quiet, 2));
    await jobs.start();
    try {
      await jobs.send(trashPurgeQueue, {});
      const left = async () =>
        (
          await asOwner(t.engine, (c) =>
            c.query<{ id: string }>('SELECT id FROM app.contacts WHERE business_id = $1', [b.id]),
          )
        ).rows.map((r) => r.id);
      await vi.waitFor(async () => expect((await left()).length).toBe(2), { timeout: 15_000, interval: 100 });
      expect((await left()).sort()).toEqual(
        ids
          .filter((x) => !x.old)
          .map((x) => x.id)
          .sort(),
      );
    } finally {
      await jobs.stop();
    }
  });

  it('/metrics shows depth, oldest wait and failures per queue', async () => {
    const q = defineQueue({ name: 'test.depth', payload: z.object({ n: z.number().int() }).strict(), policy: {} });
    const jobs = testJobEngine(t);
    jobs.register(q); // declared, no handler on this node: jobs wait
    await jobs.start();
    const stop = observeJobs(() => jobs.stats());
    try {
      for (let n = 0; n < 3; n++) await jobs.send(q, { n });
      await sleep(1100);
      const text = await registry.metrics();
      expect(text).toMatch(/capto_job_queue_jobs\{queue="test\.depth",state="queued"\} 3/);
      expect(text).toMatch(/capto_job_queue_oldest_seconds\{queue="test\.depth"\} [1-9]/);
      expect(text).toMatch(/capto_job_queue_jobs\{queue="test\.flaky",state="failed"\} 0/); // retried above
      expect(text).toMatch(/capto_job_runs_total\{queue="test\.flaky",outcome="failed"\} 1/);
    } finally {
      stop();
      await jobs.stop();
    }
  });
});

describe.runIf(ENGINE === 'server')('capto jobs (server)', () => {
  it('lists queues, lists a failed job and retries it', async () => {
    const q = defineQueue({
      name: 'test.cli',
      payload: z.object({ business_id: id() }).strict(),
      policy: { retryLimit: 0 },
    });
    const jobs = testJobEngine(t);
    jobs.register(q, async () => {
      throw new AppError('twilio_error', 'refused');
    });
    await jobs.start();
    const jobId = (await jobs.send(q, { business_id: randomUUID() }))!;
    await vi.waitFor(async () => expect((await jobState(q.name, jobId))?.state).toBe('failed'), {
      timeout: 15_000,
      interval: 100,
    });
    await jobs.stop();
    const config = loadConfig({ DATABASE_URL: t.env.DATABASE_URL, LOG_LEVEL: 'silent' });
    const out: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((s: string) => void out.push(s));
    try {
      expect(await jobsListCommand.run({}, config)).toBe(0);
      expect(out.join('\n')).toMatch(/test\.cli\s+0\s+0\s+1/);
      out.length = 0;
      expect(await jobsFailedCommand.run({ queue: 'test.cli' }, config)).toBe(0);
      expect(out.join('\n')).toContain(`${jobId}  test.cli`);
      expect(out.join('\n')).toContain('twilio_error');
      expect(await jobsRetryCommand.run({ queue: 'test.cli', id: jobId }, config)).toBe(0);
      expect(await jobsRetryCommand.run({ queue: 'test.cli', id: jobId }, config)).toBe(1); // no longer failed
      expect(await jobsRetryCommand.run({ queue: 'test.cli', id: 'nope' }, config)).toBe(2);
    } finally {
      log.mockRestore();
    }
    expect((await jobState(q.name, jobId))?.state).toBe('retry');
  });
});
