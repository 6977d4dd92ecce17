// Import jobs against a real database (both engines), through the services and the
// runner as the importing user: exact counts on a 10k-row file in both dedupe modes,
// observable progress, the error report, crash atomicity and resume, tenant isolation.
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asOwner } from '../src/db/engine.ts';
import { readCsvUpload } from '../src/crm/import/csv-reader.ts';
import { importErrorReportCsv } from '../src/crm/import/error-report.ts';
import { contactTimeline } from '../src/crm/timeline.ts';
import {
  beginImportJob,
  createImportJob,
  getImportJob,
  previewImport,
  updateImportJob,
} from '../src/crm/import/import-jobs.ts';
import { createImportRunner, type ImportRunnerOptions } from '../src/crm/import/import-runner.ts';
import { AppError } from '../src/shared/errors.ts';
import { createTestDatabase, ENGINE, type TestDatabase } from './support/engine.ts';
import { addMember, newBusiness, newUser, twoBusinesses } from './support/factories.ts';
import { contactsFixture, existingSeed, seedExisting } from './fixtures/csv/contacts-fixture.ts';

let t: TestDatabase;
// As the composition root runs it: batches overlap on server PostgreSQL only.
const inFlight = ENGINE === 'server' ? 2 : 1;
let w: Awaited<ReturnType<typeof twoBusinesses>>;

beforeAll(async () => {
  t = await createTestDatabase({ poolSize: 4 });
  w = await twoBusinesses(t.engine);
});
afterAll(async () => t?.close());

async function upload(userId: string, businessId: string, csv: string, filename = 'contacts.csv') {
  const parsed = await readCsvUpload(Readable.from([Buffer.from(csv)]));
  return t.db.asUser({ sub: userId }, (tx) => createImportJob(tx, businessId, userId, filename, parsed));
}

async function runJob(
  userId: string,
  businessId: string,
  jobId: string,
  mode: 'skip' | 'update',
  opts: Partial<ImportRunnerOptions> = {},
) {
  const runner = createImportRunner({ db: t.db, inFlight, ...opts });
  await t.db.asUser({ sub: userId }, (tx) => beginImportJob(tx, businessId, userId, jobId, { dedupe_mode: mode }));
  runner.start({ id: jobId, businessId, userId });
  await runner.settled(jobId);
  return t.db.asUser({ sub: userId }, (tx) => getImportJob(tx, businessId, jobId));
}

/** A fresh business of B's owner with the fixture's existing contacts seeded, and the fixture uploaded. */
async function seededUpload(rows: number) {
  const fixture = contactsFixture(rows);
  const owner = w.b.owner.id;
  const bid = (await newBusiness(t.engine, owner)).id;
  const seed = existingSeed(fixture.rows);
  await asOwner(t.engine, (c) => seedExisting(c, bid, seed));
  const job = await upload(owner, bid, fixture.csv);
  return { fixture, owner, bid, seed, job };
}

const countContacts = (businessId: string) =>
  asOwner(t.engine, (c) =>
    c.query<{ n: number }>('SELECT count(*)::int AS n FROM app.contacts WHERE business_id = $1', [businessId]),
  ).then((r) => r.rows[0]!.n);

const readAll = async (stream: Readable) => {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks).toString('utf8');
};

describe(`10k-row import (${ENGINE})`, () => {
  const fixture = contactsFixture(10_000);

  it('skip mode: exact created/updated/skipped/failed counts, progress observable, staged rows removed', async () => {
    const owner = w.a.owner.id;
    const bid = w.a.business.id;
    await asOwner(t.engine, (c) => seedExisting(c, bid, existingSeed(fixture.rows)));
    const before = await countContacts(bid);
    const job = await upload(owner, bid, fixture.csv);
    expect(job).toMatchObject({
      status: 'uploaded',
      total_rows: 10_000,
      mapping: { first_name: 0, last_name: 1, email: 2, mobile: 3, source: 4, status: 5, notes: 6 },
    });

    const seen: number[] = [];
    const done = await runJob(owner, bid, job.id, 'skip', {
      // What GET job shows between batches: committed progress, from another transaction.
      onProgress: async ({ rowsDone }) => {
        const j = await t.db.asUser({ sub: w.a.admin.id }, (tx) => getImportJob(tx, bid, job.id));
        seen.push(j.rows_done);
        expect(j.rows_done).toBe(rowsDone);
      },
    });
    // The runner's default batch: 2,500 rows.
    expect(seen).toEqual([2500, 5000, 7500, 10_000]);
    expect(done).toMatchObject({ status: 'completed', rows_done: 10_000, error: null });
    const counts = {
      created: done.created_count,
      updated: done.updated_count,
      skipped: done.skipped_count,
      failed: done.failed_count,
    };
    expect(counts).toEqual(fixture.expected.skip);
    expect(counts).toEqual({ created: 9000, updated: 0, skipped: 600, failed: 400 });
    expect(await countContacts(bid)).toBe(before + 9000);

    const side = await asOwner(t.engine, async (c) => ({
      staged: (
        await c.query<{ n: number }>('SELECT count(*)::int AS n FROM app.import_rows WHERE job_id = $1', [job.id])
      ).rows[0]!.n,
      fromJob: (
        await c.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM app.contacts WHERE business_id = $1 AND import_job_id = $2',
          [bid, job.id],
        )
      ).rows[0]!.n,
      storedEvents: (
        await c.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM app.contact_events WHERE business_id = $1 AND kind = 'imported'`,
          [bid],
        )
      ).rows[0]!.n,
      sample: (
        await c.query(
          `SELECT id, first_name, phone, email, source::text, status::text, owner_id FROM app.contacts WHERE business_id = $1 AND email = 'p10@import.test'`,
          [bid],
        )
      ).rows[0],
    }));
    expect(side.staged).toBe(0);
    // Created contacts carry their job instead of a stored event each (0008)…
    expect(side.fromJob).toBe(9000);
    expect(side.storedEvents).toBe(0);
    const { id: sampleId, ...sample } = side.sample as { id: string };
    expect(sample).toEqual({
      first_name: 'First10',
      phone: '+12123000010',
      email: 'p10@import.test',
      source: 'web',
      status: 'past_client',
      owner_id: owner,
    });
    // …and the timeline still shows who imported it, when, from which job.
    const timeline = await t.db.asUser({ sub: owner }, (tx) => contactTimeline(tx, bid, sampleId, { limit: 10 }));
    expect(timeline.items).toEqual([
      expect.objectContaining({
        id: sampleId,
        kind: 'imported',
        actor_id: owner,
        data: { job_id: job.id, action: 'created' },
      }),
    ]);

    // The error report: one line per problem, the raw cells after, formulas neutralised.
    const report = await readAll(importErrorReportCsv(t.db, owner, bid, done));
    const lines = report
      .replace(/^\uFEFF/, '')
      .trimEnd()
      .split('\r\n');
    expect(lines[0]).toBe(
      '"row","line","column","code","message","First Name","Last Name","Email","Mobile Phone","Lead Source","Status","Notes"',
    );
    expect(lines).toHaveLength(1 + 100 * 7);
    const codes = new Map(
      lines.slice(1).map((l) => {
        const cells = l.split('","');
        return [Number(cells[0]!.slice(1)), cells[3]!];
      }),
    );
    expect(codes).toEqual(fixture.errorCodes);
    expect(report).toContain(
      `"8","9","Email","invalid_email","""p7-at-import.test"" is not a valid email address","First7","Last7","p7-at-import.test"`,
    );
    expect(report).toContain(`"'=cmd|' /C calc'!A21"`);
    expect(report).not.toMatch(/(^|,)"=/m);
  }, 240_000);

  it('update mode: matches update the existing contacts instead', async () => {
    const owner = w.b.owner.id;
    const bid = (await newBusiness(t.engine, owner)).id;
    await asOwner(t.engine, (c) => seedExisting(c, bid, existingSeed(fixture.rows)));
    const job = await upload(owner, bid, fixture.csv);
    const done = await runJob(owner, bid, job.id, 'update');
    expect({
      created: done.created_count,
      updated: done.updated_count,
      skipped: done.skipped_count,
      failed: done.failed_count,
    }).toEqual({ created: 9000, updated: 300, skipped: 300, failed: 400 });
    const updated = await asOwner(t.engine, (c) =>
      c.query(
        `SELECT first_name, last_name, source::text, email::text FROM app.contacts WHERE business_id = $1 AND email = 'e0@existing.test'`,
        [bid],
      ),
    );
    expect(updated.rows).toEqual([
      { first_name: 'First3', last_name: 'Last3', source: 'zillow', email: 'e0@existing.test' },
    ]);
    // An updated contact was not created by the job: it gets a stored event instead.
    const events = await asOwner(t.engine, (c) =>
      c.query<{ action: string; n: number }>(
        `SELECT details->>'action' AS action, count(*)::int AS n FROM app.contact_events
        WHERE business_id = $1 AND kind = 'imported' AND details->>'job_id' = $2 GROUP BY 1`,
        [bid, job.id],
      ),
    );
    expect(events.rows).toEqual([{ action: 'updated', n: 300 }]);
  }, 240_000);
});

describe(`the derived 'imported' timeline entry (${ENGINE})`, () => {
  it('every member sees it; the actor only where the reader may see the job (its creator, admins)', async () => {
    const owner = await newUser(t.engine);
    const importer = await newUser(t.engine);
    const member = await newUser(t.engine);
    const bid = (await newBusiness(t.engine, owner.id)).id;
    await addMember(t.engine, bid, importer.id, 'member');
    await addMember(t.engine, bid, member.id, 'member');
    const job = await upload(importer.id, bid, 'First Name,Email\r\nZed,zed@import.test\r\n');
    const done = await runJob(importer.id, bid, job.id, 'skip');
    expect(done.created_count).toBe(1);
    const id = (
      await asOwner(t.engine, (c) =>
        c.query<{ id: string }>('SELECT id FROM app.contacts WHERE business_id = $1', [bid]),
      )
    ).rows[0]!.id;
    const seenBy = async (userId: string) =>
      (await t.db.asUser({ sub: userId }, (tx) => contactTimeline(tx, bid, id, { limit: 10 }))).items.map((i) => ({
        kind: i.kind,
        actor_id: i.actor_id,
        data: i.data,
      }));
    const entry = (actor: string | null) => [
      { kind: 'imported', actor_id: actor, data: { job_id: job.id, action: 'created' } },
    ];
    expect(await seenBy(importer.id)).toEqual(entry(importer.id));
    expect(await seenBy(owner.id)).toEqual(entry(importer.id));
    expect(await seenBy(member.id)).toEqual(entry(null));
    // An outsider sees no timeline at all.
    await expect(
      t.db.asUser({ sub: w.a.owner.id }, (tx) => contactTimeline(tx, bid, id, { limit: 10 })),
    ).rejects.toMatchObject({ code: 'not_found' });
  });
});

describe(`crash atomicity and resume (${ENGINE})`, () => {
  const fixture = contactsFixture(2_000);

  it('a batch that dies before COMMIT leaves none of its rows; the job is failed with whole batches only', async () => {
    const owner = w.b.owner.id;
    const bid = (await newBusiness(t.engine, owner)).id;
    const job = await upload(owner, bid, fixture.csv);
    const done = await runJob(owner, bid, job.id, 'skip', {
      batchSize: 500,
      beforeCommit: ({ cursor }) => {
        if (cursor === 1000) throw new Error('simulated crash inside batch 3');
      },
    });
    expect(done).toMatchObject({ status: 'failed', rows_done: 1000 });
    expect(done.error).toMatch(/internal error/);
    expect(await countContacts(bid)).toBe(done.created_count);
    const rows = await asOwner(t.engine, (c) =>
      c.query(`SELECT 1 FROM app.contacts WHERE business_id = $1 AND email = 'p1000@import.test'`, [bid]),
    );
    expect(rows.rowCount).toBe(0);
  }, 120_000);

  it('a runner stopped mid-job leaves it running; the next start resumes from the last committed batch with the same final counts', async () => {
    const owner = w.b.owner.id;
    const bid = (await newBusiness(t.engine, owner)).id;
    await asOwner(t.engine, (c) => seedExisting(c, bid, existingSeed(fixture.rows)));
    const job = await upload(owner, bid, fixture.csv);
    const first = createImportRunner({
      db: t.db,
      inFlight,
      batchSize: 500,
      onProgress: ({ rowsDone }) => {
        if (rowsDone === 1000) void first.stop();
      },
    });
    await t.db.asUser({ sub: owner }, (tx) => beginImportJob(tx, bid, owner, job.id, { dedupe_mode: 'skip' }));
    first.start({ id: job.id, businessId: bid, userId: owner });
    await first.settled(job.id);
    const halfway = await t.db.asUser({ sub: owner }, (tx) => getImportJob(tx, bid, job.id));
    expect(halfway).toMatchObject({ status: 'running', rows_done: 1000 });

    const second = createImportRunner({ db: t.db, inFlight, batchSize: 500 });
    expect(await second.resumeInterrupted()).toBeGreaterThanOrEqual(1);
    await second.settled(job.id);
    const done = await t.db.asUser({ sub: owner }, (tx) => getImportJob(tx, bid, job.id));
    expect(done.status).toBe('completed');
    expect({
      created: done.created_count,
      updated: done.updated_count,
      skipped: done.skipped_count,
      failed: done.failed_count,
    }).toEqual(fixture.expected.skip);
    expect(await countContacts(bid)).toBe(
      existingSeed(fixture.rows).emails.length + existingSeed(fixture.rows).phones.length + done.created_count,
    );
  }, 120_000);
});

describe(`the staged file (${ENGINE})`, () => {
  it('is staged as runs of rows; a job staged one row per data row (before 0131) still runs to the same counts', async () => {
    const chunked = await seededUpload(2_500);
    const staged = (jobId: string) =>
      asOwner(t.engine, (c) =>
        c.query<{ row_number: number; n: number | null }>(
          'SELECT row_number, cardinality(lines) AS n FROM app.import_rows WHERE job_id = $1 ORDER BY row_number',
          [jobId],
        ),
      ).then((r) => r.rows);
    expect(await staged(chunked.job.id)).toEqual([
      { row_number: 1, n: 1000 },
      { row_number: 1001, n: 1000 },
      { row_number: 2001, n: 500 },
    ]);

    // The same file as an older node staged it: one row per data row, `lines` NULL.
    const { fixture, owner, bid, job } = await seededUpload(2_500);
    await asOwner(t.engine, async (c) => {
      const runs = await c.query<{ business_id: string; row_number: number; lines: number[]; cells: string[][] }>(
        'DELETE FROM app.import_rows WHERE job_id = $1 RETURNING business_id, row_number, lines, cells',
        [job.id],
      );
      const rows = runs.rows.flatMap((r) =>
        r.lines.map((line, i) => ({ n: r.row_number + i, line, cells: r.cells[i] })),
      );
      await c.query(
        `INSERT INTO app.import_rows (business_id, job_id, row_number, line, cells)
         SELECT $1, $2, n, l, c FROM unnest($3::int[], $4::int[], $5::jsonb[]) AS u(n, l, c)`,
        [bid, job.id, rows.map((r) => r.n), rows.map((r) => r.line), rows.map((r) => JSON.stringify(r.cells))],
      );
    });
    expect((await staged(job.id)).length).toBe(2_500);
    const preview = await t.db.asUser({ sub: owner }, (tx) => previewImport(tx, bid, owner, job.id, 5));
    expect(preview.rows.map((r) => [r.row, r.line])).toEqual([
      [1, 2],
      [2, 3],
      [3, 4],
      [4, 5],
      [5, 6],
    ]);
    const done = await runJob(owner, bid, job.id, 'skip', { batchSize: 700 });
    expect(done.status).toBe('completed');
    expect({
      created: done.created_count,
      updated: done.updated_count,
      skipped: done.skipped_count,
      failed: done.failed_count,
    }).toEqual(fixture.expected.skip);
    expect(await staged(job.id)).toEqual([]);
  }, 120_000);
});

describe(`a row the database refuses (${ENGINE})`, () => {
  it('bisects the batch down to that row, fails it as rejected, and commits every other row', async () => {
    const { fixture, owner, bid, seed, job } = await seededUpload(2_000);
    const sizes: number[] = [];
    const poisoned = 1233; // 0-based index of row 1234, an ordinary "create" row
    const done = await runJob(owner, bid, job.id, 'skip', {
      batchSize: 500,
      // Stands in for a constraint the application did not foresee (e.g. a unique race).
      beforeCommit: ({ cursor, size, rejected }) => {
        if (cursor <= poisoned && poisoned < cursor + size) {
          sizes.push(size);
          if (!rejected) throw new AppError('conflict', 'simulated unique violation');
        }
      },
    });
    expect(sizes).toEqual([500, 250, 125, 63, 32, 16, 8, 4, 2, 1, 1]);
    expect(done.status).toBe('completed');
    expect({
      created: done.created_count,
      updated: done.updated_count,
      skipped: done.skipped_count,
      failed: done.failed_count,
    }).toEqual({
      ...fixture.expected.skip,
      created: fixture.expected.skip.created - 1,
      failed: fixture.expected.skip.failed + 1,
    });
    expect(await countContacts(bid)).toBe(seed.emails.length + seed.phones.length + done.created_count);
    const rejected = await asOwner(t.engine, (c) =>
      c.query(`SELECT row_number, code FROM app.import_errors WHERE job_id = $1 AND code = 'rejected'`, [job.id]),
    );
    expect(rejected.rows).toEqual([{ row_number: poisoned + 1, code: 'rejected' }]);
  }, 120_000);
});

describe(`a concurrent writer takes a row's email between lookup and insert (${ENGINE})`, () => {
  // Needs two transactions at once: the embedded engine runs one at a time.
  it.skipIf(ENGINE !== 'server')(
    'the batch is re-planned against a fresh lookup: that row is skipped as existing, nothing is rejected',
    async () => {
      const { fixture, owner, bid, seed, job } = await seededUpload(2_000);
      const raced = 'p1234@import.test'; // row 1235, an ordinary "create" row

      // The writer inserts the contact and holds its transaction open: the import's lookup
      // cannot see it, and its INSERT waits on that row until the writer commits.
      let inserted!: () => void;
      let commit!: () => void;
      const insertedYet = new Promise<void>((r) => {
        inserted = r;
      });
      const released = new Promise<void>((r) => {
        commit = r;
      });
      const writer = asOwner(t.engine, async (c) => {
        await c.query(
          `INSERT INTO app.contacts (business_id, first_name, email, source) VALUES ($1, 'Raced', $2, 'manual')`,
          [bid, raced],
        );
        inserted();
        await released;
      });
      await insertedYet;
      const runner = createImportRunner({ db: t.db, inFlight, batchSize: 500 });
      await t.db.asUser({ sub: owner }, (tx) => beginImportJob(tx, bid, owner, job.id, { dedupe_mode: 'skip' }));
      runner.start({ id: job.id, businessId: bid, userId: owner });
      // Wait until the import's INSERT is blocked on the writer's row.
      for (let waited = 0; ; waited += 20) {
        const r = await asOwner(t.engine, (c) =>
          c.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted AND locktype = 'transactionid'`,
          ),
        );
        if (r.rows[0]!.n > 0) break;
        if (waited > 30_000) throw new Error('the import never waited on the concurrent writer');
        await new Promise((r) => setTimeout(r, 20));
      }
      commit();
      await writer;
      await runner.settled(job.id);

      const done = await t.db.asUser({ sub: owner }, (tx) => getImportJob(tx, bid, job.id));
      expect(done.status).toBe('completed');
      expect({
        created: done.created_count,
        updated: done.updated_count,
        skipped: done.skipped_count,
        failed: done.failed_count,
      }).toEqual({
        ...fixture.expected.skip,
        created: fixture.expected.skip.created - 1,
        skipped: fixture.expected.skip.skipped + 1,
      });
      const rows = await asOwner(t.engine, (c) =>
        c.query<{ first_name: string }>('SELECT first_name FROM app.contacts WHERE business_id = $1 AND email = $2', [
          bid,
          raced,
        ]),
      );
      expect(rows.rows).toEqual([{ first_name: 'Raced' }]);
      const rejected = await asOwner(t.engine, (c) =>
        c.query(`SELECT 1 FROM app.import_errors WHERE job_id = $1 AND code = 'rejected'`, [job.id]),
      );
      expect(rejected.rowCount).toBe(0);
      expect(await countContacts(bid)).toBe(seed.emails.length + seed.phones.length + done.created_count + 1);
    },
    120_000,
  );
});

describe(`the uploader loses access mid-import (${ENGINE})`, () => {
  it('the next batch is refused by RLS and the job ends failed (through the service role), keeping whole batches only', async () => {
    const fixture = contactsFixture(2_000);
    const bid = (await newBusiness(t.engine, w.b.owner.id)).id;
    const member = await newUser(t.engine);
    await addMember(t.engine, bid, member.id, 'member');
    const job = await upload(member.id, bid, fixture.csv);
    const done = await runJob(member.id, bid, job.id, 'skip', {
      // One batch at a time: the removal runs between two batches. (With two in flight the
      // next batch already holds KEY SHARE on her membership through the contacts' owner
      // foreign key, so a removal awaited inside this hook would wait for a batch that
      // waits for the hook; the test below covers that case.)
      inFlight: 1,
      batchSize: 500,
      onProgress: async ({ rowsDone }) => {
        if (rowsDone === 1000)
          await asOwner(t.engine, (c) =>
            c.query('DELETE FROM app.memberships WHERE business_id = $1 AND user_id = $2', [bid, member.id]),
          );
      },
    }).catch(() => undefined);
    expect(done).toBeUndefined(); // she can no longer read her job either
    const j = await t.db.asUser({ sub: w.b.owner.id }, (tx) => getImportJob(tx, bid, job.id));
    expect(j).toMatchObject({ status: 'failed', rows_done: 1000 });
    expect(j.error).toMatch(/no longer has access/);
    expect(await countContacts(bid)).toBe(j.created_count);
    const staged = await asOwner(t.engine, (c) => c.query('SELECT 1 FROM app.import_rows WHERE job_id = $1', [job.id]));
    expect(staged.rowCount).toBe(0);
  }, 120_000);
});

describe(`the uploader is removed while two batches are in flight (${ENGINE})`, () => {
  // The removal waits for the batches that hold KEY SHARE on her membership (the contacts'
  // owner foreign key); once it commits, the next batch is refused. Never a hang, never a
  // half batch, and the counts match the contacts.
  // A new batch takes its KEY SHARE lock without queueing behind the waiting removal, so
  // the removal gets in at the first gap between batches: within a few (750–2000 rows
  // of 250-row batches in trials), hence a file of forty batches.
  it.skipIf(ENGINE !== 'server')(
    'the removal waits for the batches in flight, then the job fails with whole batches only',
    async () => {
      const fixture = contactsFixture(10_000);
      const bid = (await newBusiness(t.engine, w.b.owner.id)).id;
      const member = await newUser(t.engine);
      await addMember(t.engine, bid, member.id, 'member');
      const job = await upload(member.id, bid, fixture.csv);
      let removal: Promise<unknown> = Promise.resolve();
      const done = await runJob(member.id, bid, job.id, 'skip', {
        inFlight: 2,
        batchSize: 250,
        onProgress: ({ rowsDone }) => {
          // Not awaited: the hook is part of the batch chain, the removal must not be.
          if (rowsDone === 500)
            removal = asOwner(t.engine, (c) =>
              c.query('DELETE FROM app.memberships WHERE business_id = $1 AND user_id = $2', [bid, member.id]),
            );
        },
      }).catch(() => undefined);
      expect(await removal).toMatchObject({ rowCount: 1 });
      expect(done).toBeUndefined(); // she can no longer read her job
      const j = await t.db.asUser({ sub: w.b.owner.id }, (tx) => getImportJob(tx, bid, job.id));
      expect(j.status).toBe('failed');
      expect(j.error).toMatch(/no longer has access/);
      expect(j.rows_done % 250).toBe(0);
      expect(j.rows_done).toBeGreaterThanOrEqual(500);
      expect(j.rows_done).toBeLessThan(10_000);
      expect(await countContacts(bid)).toBe(j.created_count);
      const staged = await asOwner(t.engine, (c) =>
        c.query('SELECT 1 FROM app.import_rows WHERE job_id = $1', [job.id]),
      );
      expect(staged.rowCount).toBe(0);
    },
    120_000,
  );
});

describe(`two nodes on one job (${ENGINE})`, () => {
  it('two runners started on the same job never process a row twice: counts stay exact', async () => {
    const fixture = contactsFixture(2_000);
    const owner = w.b.owner.id;
    const bid = (await newBusiness(t.engine, owner)).id;
    const seed = existingSeed(fixture.rows);
    await asOwner(t.engine, (c) => seedExisting(c, bid, seed));
    const job = await upload(owner, bid, fixture.csv);
    await t.db.asUser({ sub: owner }, (tx) => beginImportJob(tx, bid, owner, job.id, { dedupe_mode: 'skip' }));
    const nodes = [
      createImportRunner({ db: t.db, inFlight, batchSize: 250 }),
      createImportRunner({ db: t.db, inFlight, batchSize: 250 }),
    ];
    for (const n of nodes) n.start({ id: job.id, businessId: bid, userId: owner });
    await Promise.all(nodes.map((n) => n.settled(job.id)));
    let done = await t.db.asUser({ sub: owner }, (tx) => getImportJob(tx, bid, job.id));
    // Both may have stepped aside at the same moment (each saw the other's lock): a
    // later start picks the job up again from its cursor.
    if (done.status === 'running') {
      const again = createImportRunner({ db: t.db, inFlight, batchSize: 250 });
      again.start({ id: job.id, businessId: bid, userId: owner });
      await again.settled(job.id);
      done = await t.db.asUser({ sub: owner }, (tx) => getImportJob(tx, bid, job.id));
    }
    expect(done.status).toBe('completed');
    expect({
      created: done.created_count,
      updated: done.updated_count,
      skipped: done.skipped_count,
      failed: done.failed_count,
    }).toEqual(fixture.expected.skip);
    expect(await countContacts(bid)).toBe(seed.emails.length + seed.phones.length + done.created_count);
    const errors = await asOwner(t.engine, (c) =>
      c.query<{ n: number }>('SELECT count(*)::int AS n FROM app.import_errors WHERE job_id = $1', [job.id]),
    );
    expect(errors.rows[0]!.n).toBe(fixture.errorCodes.size);
  }, 120_000);
});

describe(`jobs across the business boundary (${ENGINE})`, () => {
  const small = 'first_name,email\nAda,ada@example.test\nBob,not-an-email\n';
  const refusal = (p: Promise<unknown>) =>
    p.then(
      () => undefined,
      (e: unknown) => (e instanceof AppError ? e.code : String(e)),
    );

  it('another business cannot see, preview, edit or start a job; its members cannot import into A', async () => {
    const job = await upload(w.a.owner.id, w.a.business.id, small);
    // positive controls: the uploader and A's admin see it
    expect((await t.db.asUser({ sub: w.a.owner.id }, (tx) => getImportJob(tx, w.a.business.id, job.id))).id).toBe(
      job.id,
    );
    expect((await t.db.asUser({ sub: w.a.admin.id }, (tx) => getImportJob(tx, w.a.business.id, job.id))).id).toBe(
      job.id,
    );
    for (const user of [w.b.owner.id, w.b.admin.id, w.b.member.id, w.outsider.id]) {
      expect(await refusal(t.db.asUser({ sub: user }, (tx) => getImportJob(tx, w.a.business.id, job.id)))).toBe(
        'not_found',
      );
      expect(await refusal(t.db.asUser({ sub: user }, (tx) => getImportJob(tx, w.b.business.id, job.id)))).toBe(
        'not_found',
      );
      expect(
        await refusal(t.db.asUser({ sub: user }, (tx) => previewImport(tx, w.a.business.id, user, job.id, 5))),
      ).toBe('not_found');
      expect(
        await refusal(t.db.asUser({ sub: user }, (tx) => beginImportJob(tx, w.a.business.id, user, job.id, {}))),
      ).toBe('not_found');
    }
    // a member of A sees neither the owner's job nor its staged rows (raw file data)
    expect(await refusal(t.db.asUser({ sub: w.a.member.id }, (tx) => getImportJob(tx, w.a.business.id, job.id)))).toBe(
      'not_found',
    );
    const staged = await t.db.asUser({ sub: w.a.admin.id }, (tx) =>
      tx.query('SELECT 1 FROM app.import_rows WHERE job_id = $1', [job.id]),
    );
    expect(staged.rowCount).toBe(0);
    // Her two data rows, staged as one run (0131).
    const own = await t.db.asUser({ sub: w.a.owner.id }, (tx) =>
      tx.query<{ n: number }>(
        'SELECT sum(coalesce(cardinality(lines), 1))::int AS n FROM app.import_rows WHERE job_id = $1',
        [job.id],
      ),
    );
    expect(own.rows[0]!.n).toBe(2);
    // B's owner cannot create a job in A, even calling the service directly
    expect(await refusal(upload(w.b.owner.id, w.a.business.id, small))).toBe('forbidden');
    // nor write A's contacts through a job row pointing at A
    expect(
      await refusal(
        t.db.asUser({ sub: w.b.owner.id }, (tx) =>
          tx.query(`UPDATE app.import_jobs SET status = 'running' WHERE id = $1 RETURNING id`, [job.id]).then((r) => {
            if (r.rowCount === 0) throw new AppError('not_found', 'x');
          }),
        ),
      ),
    ).toBe('not_found');
  });

  it('preview shows per-row validation; mapping edits are checked; a finished job is frozen', async () => {
    const owner = w.a.owner.id;
    const bid = w.a.business.id;
    const job = await upload(owner, bid, small);
    const preview = await t.db.asUser({ sub: owner }, (tx) => previewImport(tx, bid, owner, job.id, 10));
    expect(preview.rows.map((r) => [r.row, r.action, r.problems.map((p) => p.code)])).toEqual([
      [1, 'create', []],
      [2, 'fail', ['invalid_email']],
    ]);
    expect(
      await refusal(
        t.db.asUser({ sub: owner }, (tx) => updateImportJob(tx, bid, owner, job.id, { mapping: { email: 9 } })),
      ),
    ).toBe('validation_failed');
    const edited = await t.db.asUser({ sub: owner }, (tx) =>
      updateImportJob(tx, bid, owner, job.id, { mapping: { first_name: 1, notes: 0 }, dedupe_mode: 'update' }),
    );
    expect(edited).toMatchObject({ status: 'mapping', dedupe_mode: 'update', mapping: { first_name: 1, notes: 0 } });
    const done = await runJob(owner, bid, job.id, 'skip');
    expect(done).toMatchObject({ status: 'completed', created_count: 2, failed_count: 0 });
    expect(await refusal(t.db.asUser({ sub: owner }, (tx) => beginImportJob(tx, bid, owner, job.id, {})))).toBe(
      'conflict',
    );
    expect(await refusal(t.db.asUser({ sub: owner }, (tx) => updateImportJob(tx, bid, owner, job.id, {})))).toBe(
      'conflict',
    );
  });
});
