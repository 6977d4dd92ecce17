// Runs import jobs in-process after the start request has returned. Each batch of
// ~2500 rows is ONE transaction as the importing user (RLS applies): contacts,
// timeline events of updated contacts, error rows and the job's cursor commit together, so a crash
// leaves whole batches only and the job resumes from its cursor.
//
// Only one runner may work on a job at a time, across nodes: each batch takes a
// transaction-scoped advisory lock on the job (a runner that cannot get it stops,
// another node owns the job) and locks the job row, re-reading the cursor, so two
// runners can never process the same rows even if the lock were skipped.
import type { Claims, Database, Tx } from '../../db/index.ts';
import type { Logger } from '../../observability/logger.ts';
import { AppError } from '../../shared/errors.ts';
import { recordContactEvents } from '../contact-events.ts';
import { batchKeys, createRowPreparer, planBatch, type PreparedRow, type RowOutcome } from './batch-plan.ts';
import {
  findExistingContacts,
  insertContacts,
  insertImportErrors,
  updateContacts,
  type ImportErrorRow,
} from './contact-batch.ts';
import { mappedColumns } from './header-mapping.ts';
import { contactFields, getImportJob, loadStagedRows, type ImportJob } from './import-jobs.ts';

export interface JobRef {
  id: string;
  businessId: string;
  userId: string;
}

export interface ImportRunnerOptions {
  db: Database;
  logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
  batchSize?: number;
  /**
   * Batches in the database at once (default 1). With 2, batch N+1 does its inserts
   * while batch N is still in the database (two connections, two PostgreSQL backends),
   * but claims the job — lock, cursor check, counters — only once N has committed and
   * its progress was reported; if N did not commit, N+1 rolls back. Order and
   * whole-batch atomicity stay exactly as with 1. Only for an engine that runs
   * transactions concurrently (server PostgreSQL): on the embedded one, which runs one
   * at a time, it gains nothing, and a progress hook that queries would deadlock.
   */
  inFlight?: number;
  /** Fault injection for tests: runs inside each batch transaction, just before COMMIT. */
  beforeCommit?: (info: { jobId: string; cursor: number; size: number; rejected: boolean }) => Promise<void> | void;
  /** Called after each batch has committed (outside any transaction): progress hooks, tests. */
  onProgress?: (info: { jobId: string; rowsDone: number; total: number }) => Promise<void> | void;
}

export interface ImportRunner {
  /** Start (or resume) a running job in the background; a no-op if this node already runs it. */
  start(job: JobRef): void;
  /**
   * Resume every job left `running` (after a restart); returns how many were picked up.
   * With `idleSeconds`, only jobs without a committed batch for that long (their runner
   * stopped): the job engine's `import.resume` queue calls it so (src/jobs/import-resume.ts).
   */
  resumeInterrupted(options?: { idleSeconds?: number }): Promise<number>;
  /** Resolves when this node is no longer working on the job. */
  settled(jobId: string): Promise<void>;
  /** Finish the batch in flight, then stop; jobs stay `running` for the next start. */
  stop(): Promise<void>;
}

type BatchResult = { state: 'ok' } | { state: 'busy' | 'stopped' | 'abandoned' } | { state: 'moved'; cursor: number };

const OK: Promise<BatchResult> = Promise.resolve({ state: 'ok' });

/** Thrown inside a batch transaction to roll it back and report `result` instead. */
class RollBack extends Error {
  readonly result: BatchResult;
  constructor(result: BatchResult) {
    super(`batch rolled back: ${result.state}`);
    this.result = result;
  }
}

const LOST_ACCESS = 'the member who started this import no longer has access to the business';

/** A predecessor that failed outright counts as not committed. */
const settled = (p: Promise<BatchResult>): Promise<BatchResult> => p.catch((): BatchResult => ({ state: 'abandoned' }));

/** Errors a single bad row can cause; anything else concerns the whole job. */
const ROW_LEVEL = new Set(['conflict', 'validation_failed']);

export function createImportRunner(options: ImportRunnerOptions): ImportRunner {
  const { db, logger } = options;
  // 2500, not 1000: every batch pays a fixed round of statements (lookup, error rows,
  // advisory lock, job row, counters) and a commit; per row the work is the same
  // (docs/ARCHITECTURE.md §14, bench/README.md "CSV import end to end").
  const batchSize = options.batchSize ?? 2500;
  const inFlight = Math.max(1, options.inFlight ?? 1);
  const active = new Map<string, Promise<void>>();
  let stopping = false;

  async function run(job: JobRef): Promise<void> {
    const claims: Claims = { sub: job.userId };
    const loaded = await db.asUser(claims, async (tx) => {
      const j = await getImportJob(tx, job.businessId, job.id).catch((e: unknown) => {
        // The service found it running, but its uploader can no longer see it (she left
        // the business): nobody may continue it in her name.
        if (e instanceof AppError && e.code === 'not_found') throw new AppError('forbidden', LOST_ACCESS);
        throw e;
      });
      if (j.status !== 'running') return undefined;
      return {
        job: j,
        staged: await loadStagedRows(tx, job.businessId, job.id),
        // Read once: a field deleted meanwhile makes the database refuse its values
        // (the custom-values trigger), and those rows fail as `rejected`.
        fields: await contactFields(tx, job.businessId),
      };
    });
    if (!loaded) return;
    const { job: state, staged, fields } = loaded;
    if (staged.length !== state.total_rows || staged.some((r, i) => r.rowNumber !== i + 1)) {
      throw new Error(`staged rows of import ${job.id} are incomplete (${staged.length} of ${state.total_rows})`);
    }
    const total = staged.length;
    let preparer = createRowPreparer(state.mapping, state.headers, fields);
    const prepareRange = (from: number, to: number) => preparer.prepareAsync(staged.slice(from, to));
    const resync = async (at: number) => {
      // Replay rows already committed to rebuild the in-file duplicate state.
      preparer = createRowPreparer(state.mapping, state.headers, fields);
      await prepareRange(0, at);
      return at < total ? prepareRange(at, Math.min(at + batchSize, total)) : [];
    };

    // A sliding window of batches: each claims the job only after the one before it
    // committed and its progress was reported.
    const window: { done: Promise<BatchResult>; end: number }[] = [];
    let previous = OK;
    let at = state.rows_done;
    let rows = await resync(at);
    try {
      for (;;) {
        while (window.length < inFlight && at < total && !stopping) {
          const end = at + rows.length;
          const committed = commitRange(job, claims, state, rows, at, end === total, previous);
          previous = committed.then(async (r) => {
            if (r.state === 'ok') await options.onProgress?.({ jobId: job.id, rowsDone: end, total });
            return r;
          });
          previous.catch(() => undefined); // awaited through the window
          window.push({ done: previous, end });
          at = end;
          // Validate the next batch while these are in the database.
          rows = at < total ? await prepareRange(at, Math.min(at + batchSize, total)) : [];
        }
        const head = window.shift();
        if (!head) return; // done, or stopping
        const result = await head.done;
        if (result.state === 'ok') continue;
        // Every later batch of the window rolls back on its own (its predecessor did not commit).
        await Promise.allSettled(window.splice(0).map((w) => w.done));
        if (result.state !== 'moved') return; // busy (another node has it), stopped, or stopping
        // Another runner committed batches meanwhile: continue from its cursor.
        previous = OK;
        at = result.cursor;
        rows = await resync(at);
      }
    } finally {
      // On an error, let the batches still in flight roll back before the job is marked failed.
      await Promise.allSettled(window.map((w) => w.done));
    }
  }

  /**
   * Commit one batch once `previous` (the batch before it) has committed; when the
   * database refuses it (a constraint race), bisect to isolate the bad row.
   */
  async function commitRange(
    job: JobRef,
    claims: Claims,
    state: ImportJob,
    rows: PreparedRow[],
    cursor: number,
    last: boolean,
    previous: Promise<BatchResult>,
    rejected = false,
  ): Promise<BatchResult> {
    try {
      return await db.asUser(claims, (tx) => commitBatch(tx, job, state, rows, cursor, last, previous, rejected));
    } catch (e) {
      if (e instanceof RollBack) return e.result;
      // Any member may import, so a refusal by the policies means she is no longer one.
      if (e instanceof AppError && e.code === 'forbidden') throw new AppError('forbidden', LOST_ACCESS, { cause: e });
      if (!(e instanceof AppError) || !ROW_LEVEL.has(e.code) || rejected) throw e;
      const before = await settled(previous);
      if (before.state !== 'ok') return { state: 'abandoned' };
      if (rows.length === 1) return commitRange(job, claims, state, rows, cursor, last, OK, true);
      const mid = Math.floor(rows.length / 2);
      const first = await commitRange(job, claims, state, rows.slice(0, mid), cursor, false, OK);
      if (first.state !== 'ok') return first;
      return commitRange(job, claims, state, rows.slice(mid), cursor + mid, last, OK);
    }
  }

  async function commitBatch(
    tx: Tx,
    job: JobRef,
    state: ImportJob,
    rows: PreparedRow[],
    cursor: number,
    last: boolean,
    previous: Promise<BatchResult>,
    rejected: boolean,
  ): Promise<BatchResult> {
    let outcomes: RowOutcome[];
    if (rejected) {
      outcomes = rows.map((r) => ({
        kind: 'fail',
        row: r,
        problems: [{ column: null, code: 'rejected', message: 'the database refused this row' }],
      }));
    } else {
      // Rows of the batch before this one are not visible yet, but no row here can match
      // them: the preparer already set aside every in-file duplicate.
      const keys = batchKeys(rows);
      outcomes = planBatch(
        rows,
        await findExistingContacts(tx, job.businessId, keys.emails, keys.phones),
        state.dedupe_mode,
      );
    }
    const creates = outcomes.filter((o) => o.kind === 'create');
    const updates = outcomes.filter((o) => o.kind === 'update');
    // A created contact carries its job (import_job_id); the timeline derives its 'imported' entry from that.
    const created = await insertContacts(
      tx,
      job.businessId,
      job.userId,
      job.id,
      creates.map((o) => o.draft),
    );

    const errors: ImportErrorRow[] = [];
    const kept = mappedColumns(state.mapping);
    let failed = 0;
    for (const o of outcomes) {
      const problems = o.kind === 'fail' ? o.problems : o.kind === 'skip' && o.problem ? [o.problem] : [];
      if (o.kind === 'fail') failed++;
      for (const p of problems) {
        errors.push({
          rowNumber: o.row.rowNumber,
          line: o.row.line,
          column: p.column,
          code: p.code,
          message: p.message,
          raw: kept.map((i) => o.row.cells[i] ?? ''),
        });
      }
    }
    await insertImportErrors(tx, job.businessId, job.id, errors);

    // Everything below waits for the batch before this one: updates of existing contacts
    // (which that batch may also update: taking those row locks first could deadlock
    // against it), then the claim on the job.
    const before = await settled(previous);
    if (before.state !== 'ok' || stopping) throw new RollBack({ state: 'abandoned' });
    const updated = await updateContacts(
      tx,
      job.businessId,
      updates.map((o) => ({ contactId: o.contactId, draft: o.draft })),
    );
    await recordContactEvents(tx, job.businessId, updated, 'imported', { job_id: job.id, action: 'updated' });

    // One runner per job across nodes; the row lock and cursor check make it exact.
    // NO KEY UPDATE: the next batch's error rows hold KEY SHARE on the job row (their
    // foreign key) while that batch waits for this one; FOR UPDATE would deadlock with it.
    const lock = await tx.query<{ ok: boolean }>(`SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0)) AS ok`, [
      `capto.import:${job.id}`,
    ]);
    if (lock.rows[0]?.ok !== true) throw new RollBack({ state: 'busy' });
    const current = await tx.query<{ status: string; rows_done: number }>(
      'SELECT status, rows_done FROM app.import_jobs WHERE business_id = $1 AND id = $2 FOR NO KEY UPDATE',
      [job.businessId, job.id],
    );
    const row = current.rows[0];
    if (!row) throw new AppError('forbidden', LOST_ACCESS);
    if (row.status !== 'running') throw new RollBack({ state: 'stopped' });
    if (row.rows_done !== cursor) throw new RollBack({ state: 'moved', cursor: row.rows_done });

    // Rows whose update lost a race with a concurrent writer (the contact was deleted) count as skipped.
    const skipped = rows.length - created - updated.length - failed;
    await tx.query(
      `UPDATE app.import_jobs SET rows_done = rows_done + $3, created_count = created_count + $4,
              updated_count = updated_count + $5, skipped_count = skipped_count + $6, failed_count = failed_count + $7,
              status = CASE WHEN $8 THEN 'completed' ELSE status END,
              finished_at = CASE WHEN $8 THEN now() ELSE finished_at END
        WHERE business_id = $1 AND id = $2`,
      [job.businessId, job.id, rows.length, created, updated.length, skipped, failed, last],
    );
    // The staged file may hold columns nobody imported: it goes as soon as the job ends.
    if (last)
      await tx.query('DELETE FROM app.import_rows WHERE business_id = $1 AND job_id = $2', [job.businessId, job.id]);
    await options.beforeCommit?.({ jobId: job.id, cursor, size: rows.length, rejected });
    return { state: 'ok' };
  }

  async function fail(job: JobRef, e: unknown): Promise<void> {
    const message =
      e instanceof AppError && e.status < 500
        ? e.message
        : 'the import stopped because of an internal error; it was logged';
    logger?.error({ err: e, jobId: job.id, businessId: job.businessId }, 'import job failed');
    try {
      await db.asUser({ sub: job.userId }, async (tx) => {
        const r = await tx.query(
          `UPDATE app.import_jobs SET status = 'failed', error = $3, finished_at = now() WHERE business_id = $1 AND id = $2 AND status = 'running'`,
          [job.businessId, job.id, message],
        );
        // RLS hides the job from a user who lost access: zero rows is not "done".
        if (r.rowCount === 0) throw new Error('the job is not visible to its uploader');
        await tx.query('DELETE FROM app.import_rows WHERE business_id = $1 AND job_id = $2', [job.businessId, job.id]);
      });
    } catch {
      // The user may have lost access (the very reason of the failure): the service role
      // closes the job and discards its staged file (its policies allow only that).
      await db
        .asService('import.fail', async (tx) => {
          await tx.query(
            `UPDATE app.import_jobs SET status = 'failed', error = $2, finished_at = now() WHERE id = $1 AND status = 'running'`,
            [job.id, message],
          );
          await tx.query('DELETE FROM app.import_rows WHERE job_id = $1', [job.id]);
        })
        .catch((err: unknown) => logger?.error({ err, jobId: job.id }, 'could not mark the import job failed'));
    }
  }

  function start(job: JobRef): void {
    if (stopping || active.has(job.id)) return;
    const task = (async () => {
      await new Promise((r) => setImmediate(r)); // after the start request's response
      try {
        await run(job);
      } catch (e) {
        if (stopping && e instanceof AppError && e.code === 'database_unavailable') return; // shutting down: resume later
        await fail(job, e);
      }
    })().finally(() => active.delete(job.id));
    active.set(job.id, task);
  }

  return {
    start,
    async resumeInterrupted({ idleSeconds = 0 } = {}) {
      const jobs = await db.asService('import.resume', (tx) =>
        tx.query<{ id: string; business_id: string; created_by: string | null }>(
          `SELECT id, business_id, created_by FROM app.import_jobs
            WHERE status = 'running' AND updated_at <= now() - make_interval(secs => $1) ORDER BY created_at`,
          [idleSeconds],
        ),
      );
      for (const j of jobs.rows) {
        if (active.has(j.id)) continue;
        if (j.created_by) start({ id: j.id, businessId: j.business_id, userId: j.created_by });
        else
          await fail(
            { id: j.id, businessId: j.business_id, userId: '00000000-0000-0000-0000-000000000000' },
            new AppError('forbidden', 'the member who started this import no longer exists'),
          );
      }
      return jobs.rows.length;
    },
    async settled(jobId) {
      await active.get(jobId);
    },
    async stop() {
      stopping = true;
      await Promise.allSettled([...active.values()]);
    },
  };
}
