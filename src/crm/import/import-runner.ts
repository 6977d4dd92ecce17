// Runs import jobs in-process after the start request has returned. Each batch of
// ~1000 rows is ONE transaction as the importing user (RLS applies): contacts,
// timeline events, error rows and the job's cursor commit together, so a crash
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
import { findExistingContacts, insertContacts, insertImportErrors, updateContacts, type ImportErrorRow } from './contact-batch.ts';
import { mappedColumns } from './header-mapping.ts';
import { getImportJob, loadStagedRows, type ImportJob } from './import-jobs.ts';

export interface JobRef {
  id: string;
  businessId: string;
  userId: string;
}

export interface ImportRunnerOptions {
  db: Database;
  logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
  batchSize?: number;
  /** Fault injection for tests: runs inside each batch transaction, just before COMMIT. */
  beforeCommit?: (info: { jobId: string; cursor: number; size: number; rejected: boolean }) => Promise<void> | void;
  /** Called after each batch has committed (outside any transaction): progress hooks, tests. */
  onProgress?: (info: { jobId: string; rowsDone: number; total: number }) => Promise<void> | void;
}

export interface ImportRunner {
  /** Start (or resume) a running job in the background; a no-op if this node already runs it. */
  start(job: JobRef): void;
  /** Resume every job left `running` (after a restart); returns how many were picked up. */
  resumeInterrupted(): Promise<number>;
  /** Resolves when this node is no longer working on the job. */
  settled(jobId: string): Promise<void>;
  /** Finish the batch in flight, then stop; jobs stay `running` for the next start. */
  stop(): Promise<void>;
}

type BatchResult = { state: 'ok' } | { state: 'busy' | 'stopped' } | { state: 'moved'; cursor: number };

/** Errors a single bad row can cause; anything else concerns the whole job. */
const ROW_LEVEL = new Set(['conflict', 'validation_failed']);

export function createImportRunner(options: ImportRunnerOptions): ImportRunner {
  const { db, logger } = options;
  const batchSize = options.batchSize ?? 1000;
  const active = new Map<string, Promise<void>>();
  let stopping = false;

  async function run(job: JobRef): Promise<void> {
    const claims: Claims = { sub: job.userId };
    const loaded = await db.asUser(claims, async (tx) => {
      const j = await getImportJob(tx, job.businessId, job.id).catch((e: unknown) => {
        // The service found it running, but its uploader can no longer see it (she left
        // the business): nobody may continue it in her name.
        if (e instanceof AppError && e.code === 'not_found') throw new AppError('forbidden', 'the member who started this import no longer has access to the business');
        throw e;
      });
      if (j.status !== 'running') return undefined;
      return { job: j, staged: await loadStagedRows(tx, job.businessId, job.id) };
    });
    if (!loaded) return;
    const { job: state, staged } = loaded;
    if (staged.length !== state.total_rows || staged.some((r, i) => r.rowNumber !== i + 1)) {
      throw new Error(`staged rows of import ${job.id} are incomplete (${staged.length} of ${state.total_rows})`);
    }
    const total = staged.length;
    let preparer = createRowPreparer(state.mapping, state.headers);
    const prepareRange = (from: number, to: number) => preparer.prepareAsync(staged.slice(from, to));
    const resync = async (at: number) => {
      // Replay rows already committed to rebuild the in-file duplicate state.
      preparer = createRowPreparer(state.mapping, state.headers);
      await prepareRange(0, at);
      return at < total ? prepareRange(at, Math.min(at + batchSize, total)) : [];
    };
    let cursor = state.rows_done;
    let batch = await resync(cursor);
    while (cursor < total && !stopping) {
      const end = cursor + batch.length;
      const committing = commitRange(job, claims, state, batch, cursor, end === total);
      // Validate the next batch while this one is in the database.
      const upcoming = end < total ? prepareRange(end, Math.min(end + batchSize, total)) : Promise.resolve([]);
      const [result, next] = await Promise.all([committing, upcoming]);
      if (result.state === 'moved') {
        // Another runner committed batches meanwhile: continue from its cursor.
        cursor = result.cursor;
        batch = await resync(cursor);
        continue;
      }
      if (result.state !== 'ok') return;
      cursor = end;
      batch = next;
      await options.onProgress?.({ jobId: job.id, rowsDone: cursor, total });
    }
  }

  /** Commit one batch; when the database refuses it (a constraint race), bisect to isolate the bad row. */
  async function commitRange(job: JobRef, claims: Claims, state: ImportJob, rows: PreparedRow[], cursor: number, last: boolean, rejected = false): Promise<BatchResult> {
    try {
      return await db.asUser(claims, (tx) => commitBatch(tx, job, state, rows, cursor, last, rejected));
    } catch (e) {
      if (!(e instanceof AppError) || !ROW_LEVEL.has(e.code) || rejected) throw e;
      if (rows.length === 1) return commitRange(job, claims, state, rows, cursor, last, true);
      const mid = Math.floor(rows.length / 2);
      const first = await commitRange(job, claims, state, rows.slice(0, mid), cursor, false);
      if (first.state !== 'ok') return first;
      return commitRange(job, claims, state, rows.slice(mid), cursor + mid, last);
    }
  }

  async function commitBatch(tx: Tx, job: JobRef, state: ImportJob, rows: PreparedRow[], cursor: number, last: boolean, rejected: boolean): Promise<BatchResult> {
    const lock = await tx.query<{ ok: boolean }>(`SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0)) AS ok`, [`capto.import:${job.id}`]);
    if (lock.rows[0]?.ok !== true) return { state: 'busy' };
    const current = await tx.query<{ status: string; rows_done: number }>(
      'SELECT status, rows_done FROM app.import_jobs WHERE business_id = $1 AND id = $2 FOR UPDATE', [job.businessId, job.id],
    );
    const row = current.rows[0];
    if (!row) throw new AppError('forbidden', 'the member who started this import no longer has access to the business');
    if (row.status !== 'running') return { state: 'stopped' };
    if (row.rows_done !== cursor) return { state: 'moved', cursor: row.rows_done };

    let outcomes: RowOutcome[];
    if (rejected) {
      outcomes = rows.map((r) => ({ kind: 'fail', row: r, problems: [{ column: null, code: 'rejected', message: 'the database refused this row' }] }));
    } else {
      const keys = batchKeys(rows);
      outcomes = planBatch(rows, await findExistingContacts(tx, job.businessId, keys.emails, keys.phones), state.dedupe_mode);
    }
    const creates = outcomes.filter((o) => o.kind === 'create');
    const updates = outcomes.filter((o) => o.kind === 'update');
    const inserted = await insertContacts(tx, job.businessId, job.userId, creates.map((o) => o.draft));
    const updated = await updateContacts(tx, job.businessId, updates.map((o) => ({ contactId: o.contactId, draft: o.draft })));
    await recordContactEvents(tx, job.businessId, inserted.map((c) => c.id), 'imported', { job_id: job.id, action: 'created' });
    await recordContactEvents(tx, job.businessId, updated, 'imported', { job_id: job.id, action: 'updated' });

    const errors: ImportErrorRow[] = [];
    const kept = mappedColumns(state.mapping);
    let failed = 0;
    for (const o of outcomes) {
      const problems = o.kind === 'fail' ? o.problems : o.kind === 'skip' && o.problem ? [o.problem] : [];
      if (o.kind === 'fail') failed++;
      for (const p of problems) {
        errors.push({ rowNumber: o.row.rowNumber, line: o.row.line, column: p.column, code: p.code, message: p.message, raw: kept.map((i) => o.row.cells[i] ?? '') });
      }
    }
    await insertImportErrors(tx, job.businessId, job.id, errors);
    // Rows whose insert or update lost a race with a concurrent writer count as skipped.
    const skipped = rows.length - inserted.length - updated.length - failed;
    await tx.query(
      `UPDATE app.import_jobs SET rows_done = rows_done + $3, created_count = created_count + $4,
              updated_count = updated_count + $5, skipped_count = skipped_count + $6, failed_count = failed_count + $7,
              status = CASE WHEN $8 THEN 'completed' ELSE status END,
              finished_at = CASE WHEN $8 THEN now() ELSE finished_at END
        WHERE business_id = $1 AND id = $2`,
      [job.businessId, job.id, rows.length, inserted.length, updated.length, skipped, failed, last],
    );
    // The staged file may hold columns nobody imported: it goes as soon as the job ends.
    if (last) await tx.query('DELETE FROM app.import_rows WHERE business_id = $1 AND job_id = $2', [job.businessId, job.id]);
    await options.beforeCommit?.({ jobId: job.id, cursor, size: rows.length, rejected });
    return { state: 'ok' };
  }

  async function fail(job: JobRef, e: unknown): Promise<void> {
    const message = e instanceof AppError && e.status < 500 ? e.message : 'the import stopped because of an internal error; it was logged';
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
      await db.asService('import.fail', async (tx) => {
        await tx.query(`UPDATE app.import_jobs SET status = 'failed', error = $2, finished_at = now() WHERE id = $1 AND status = 'running'`, [job.id, message]);
        await tx.query('DELETE FROM app.import_rows WHERE job_id = $1', [job.id]);
      }).catch((err: unknown) => logger?.error({ err, jobId: job.id }, 'could not mark the import job failed'));
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
    async resumeInterrupted() {
      const jobs = await db.asService('import.resume', (tx) =>
        tx.query<{ id: string; business_id: string; created_by: string | null }>(
          `SELECT id, business_id, created_by FROM app.import_jobs WHERE status = 'running' ORDER BY created_at`,
        ),
      );
      for (const j of jobs.rows) {
        if (j.created_by) start({ id: j.id, businessId: j.business_id, userId: j.created_by });
        else await fail({ id: j.id, businessId: j.business_id, userId: '00000000-0000-0000-0000-000000000000' }, new AppError('forbidden', 'the member who started this import no longer exists'));
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
