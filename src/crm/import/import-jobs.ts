// Import jobs as the user sees them: upload (job + staged rows in ONE transaction, so
// a refused upload leaves nothing behind), mapping edits, preview, start. Functions
// take the caller's transaction first (already scoped by asUser, so RLS applies).
import type { Tx } from '../../db/index.ts';
import { AppError } from '../../shared/errors.ts';
import { isoSql } from '../cursor.ts';
import { listCustomFields } from '../custom-fields.ts';
import { batchKeys, planBatch, prepareRows, type DedupeMode, type StagedRow } from './batch-plan.ts';
import { findExistingContacts } from './contact-batch.ts';
import type { CsvUpload } from './csv-reader.ts';
import { checkMapping, guessMapping, type HeaderMapping } from './header-mapping.ts';
import type { ContactDraft, RowProblem } from './row-validation.ts';

export type ImportStatus = 'uploaded' | 'mapping' | 'running' | 'completed' | 'failed';

export interface ImportJob {
  id: string;
  business_id: string;
  created_by: string | null;
  filename: string;
  status: ImportStatus;
  dedupe_mode: DedupeMode;
  headers: string[];
  mapping: HeaderMapping;
  total_rows: number;
  rows_done: number;
  created_count: number;
  updated_count: number;
  skipped_count: number;
  failed_count: number;
  error: string | null;
  created_at: string;
  updated_at: string;
  started_at: string | null;
  finished_at: string | null;
}

/** The job's columns; the database writes the timestamps (`isoSql`, docs/ARCHITECTURE.md §3). */
export const JOB_COLUMNS = `id, business_id, created_by, filename, status, dedupe_mode, headers, mapping, total_rows,
  rows_done, created_count, updated_count, skipped_count, failed_count, error, ${isoSql('created_at')} AS created_at,
  ${isoSql('updated_at')} AS updated_at, ${isoSql('started_at')} AS started_at, ${isoSql('finished_at')} AS finished_at`;

/** Data rows per staged row (0131): one tuple, key and policy check per run of rows. */
const STAGE_CHUNK = 1000;

export function cleanFilename(raw: string | undefined): string {
  // Shown back in the UI and the report's name: no paths, no control characters.
  const base = (raw ?? '').split(/[\\/]/).pop() ?? '';
  const clean = base
    .replace(/[\u0000-\u001f\u007f"]/g, '')
    .trim()
    .slice(0, 255);
  return clean || 'contacts.csv';
}

/** The business's contact custom fields: the import's extra targets (docs/ARCHITECTURE.md §14). */
export const contactFields = (tx: Tx, businessId: string) => listCustomFields(tx, businessId, 'contact');

export async function createImportJob(
  tx: Tx,
  businessId: string,
  userId: string,
  filename: string,
  upload: CsvUpload,
): Promise<ImportJob> {
  const job = await tx.query<ImportJob>(
    `INSERT INTO app.import_jobs (business_id, created_by, filename, headers, mapping, total_rows)
     VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6) RETURNING ${JOB_COLUMNS}`,
    [
      businessId,
      userId,
      filename,
      JSON.stringify(upload.headers),
      JSON.stringify(guessMapping(upload.headers, await contactFields(tx, businessId))),
      upload.rows.length,
    ],
  );
  const created = job.rows[0]!;
  for (let start = 0; start < upload.rows.length; start += STAGE_CHUNK) {
    await tx.query(
      `INSERT INTO app.import_rows (business_id, job_id, row_number, line, lines, cells)
       VALUES ($1, $2, $3, $4, $5::int[], $6::jsonb)`,
      [
        businessId,
        created.id,
        start + 1,
        upload.lines[start],
        upload.lines.slice(start, start + STAGE_CHUNK),
        JSON.stringify(upload.rows.slice(start, start + STAGE_CHUNK)),
      ],
    );
  }
  return created;
}

export async function getImportJob(tx: Tx, businessId: string, jobId: string, forUpdate = false): Promise<ImportJob> {
  const r = await tx.query<ImportJob>(
    `SELECT ${JOB_COLUMNS} FROM app.import_jobs WHERE business_id = $1 AND id = $2${forUpdate ? ' FOR UPDATE' : ''}`,
    [businessId, jobId],
  );
  if (!r.rows[0]) throw new AppError('not_found', 'import job not found');
  return r.rows[0];
}

export async function listImportJobs(tx: Tx, businessId: string, limit = 50): Promise<ImportJob[]> {
  const r = await tx.query<ImportJob>(
    `SELECT ${JOB_COLUMNS} FROM app.import_jobs j WHERE business_id = $1 ORDER BY j.created_at DESC, j.id DESC LIMIT $2`,
    [businessId, limit],
  );
  return r.rows;
}

/**
 * Deletes a job with its staged rows and error rows (by cascade). Whoever may see the
 * job may delete it — its uploader, admins and owners (the policy says so too) — but
 * not while it runs (409 `conflict`). Contacts it created stay.
 */
export async function deleteImportJob(tx: Tx, businessId: string, jobId: string): Promise<void> {
  const r = await tx.query(`DELETE FROM app.import_jobs WHERE business_id = $1 AND id = $2 AND status <> 'running'`, [
    businessId,
    jobId,
  ]);
  if (r.rowCount > 0) return;
  const job = await getImportJob(tx, businessId, jobId); // 404 when it is not hers to see
  if (job.status === 'running') throw new AppError('conflict', 'the import is running; delete it once it has finished');
  throw new AppError('not_found', 'import job not found');
}

export interface JobSettings {
  mapping?: Record<string, number | null | undefined>;
  dedupe_mode?: DedupeMode;
}

/** Only the uploader edits or starts her job (the policy says so too); others get 404. */
async function ownJobForChange(tx: Tx, businessId: string, userId: string, jobId: string): Promise<ImportJob> {
  const job = await getImportJob(tx, businessId, jobId, true);
  if (job.created_by !== userId) throw new AppError('not_found', 'import job not found');
  return job;
}

export async function updateImportJob(
  tx: Tx,
  businessId: string,
  userId: string,
  jobId: string,
  settings: JobSettings,
): Promise<ImportJob> {
  const job = await ownJobForChange(tx, businessId, userId, jobId);
  if (job.status !== 'uploaded' && job.status !== 'mapping') {
    throw new AppError('conflict', `the import is ${job.status}; its mapping can no longer change`);
  }
  const mapping = settings.mapping
    ? checkMapping(settings.mapping, job.headers.length, await contactFields(tx, businessId))
    : job.mapping;
  const r = await tx.query<ImportJob>(
    `UPDATE app.import_jobs SET mapping = $3::jsonb, dedupe_mode = $4, status = 'mapping'
      WHERE business_id = $1 AND id = $2 RETURNING ${JOB_COLUMNS}`,
    [businessId, jobId, JSON.stringify(mapping), settings.dedupe_mode ?? job.dedupe_mode],
  );
  return r.rows[0]!;
}

/** Marks the job running; `resume` is true when it already was (a restart after a crash). */
export async function beginImportJob(
  tx: Tx,
  businessId: string,
  userId: string,
  jobId: string,
  settings: JobSettings,
): Promise<{ job: ImportJob; resume: boolean }> {
  const job = await ownJobForChange(tx, businessId, userId, jobId);
  if (job.status === 'running') return { job, resume: true };
  if (job.status !== 'uploaded' && job.status !== 'mapping')
    throw new AppError('conflict', `the import has already ${job.status}`);
  const mapping = checkMapping(
    settings.mapping ?? job.mapping,
    job.headers.length,
    await contactFields(tx, businessId),
  );
  const r = await tx.query<ImportJob>(
    `UPDATE app.import_jobs SET mapping = $3::jsonb, dedupe_mode = $4, status = 'running', started_at = now()
      WHERE business_id = $1 AND id = $2 RETURNING ${JOB_COLUMNS}`,
    [businessId, jobId, JSON.stringify(mapping), settings.dedupe_mode ?? job.dedupe_mode],
  );
  return { job: r.rows[0]!, resume: false };
}

/** The staged data rows in file order (the first `limit` of them when given). */
export async function loadStagedRows(tx: Tx, businessId: string, jobId: string, limit?: number): Promise<StagedRow[]> {
  // A staged row holds a run of data rows (`lines` set, 0131) or one (`lines` NULL).
  const r = await tx.query<{ row_number: number; line: number; lines: number[] | null; cells: unknown[] }>(
    `SELECT row_number, line, lines, cells FROM app.import_rows WHERE business_id = $1 AND job_id = $2
      ${limit ? 'AND row_number <= $3' : ''} ORDER BY row_number`,
    limit ? [businessId, jobId, limit] : [businessId, jobId],
  );
  const rows: StagedRow[] = [];
  for (const x of r.rows) {
    if (!x.lines) {
      rows.push({ rowNumber: x.row_number, line: x.line, cells: (x.cells as unknown[]).map(String) });
      continue;
    }
    const cells = x.cells as unknown[][];
    for (let i = 0; i < x.lines.length; i++) {
      rows.push({ rowNumber: x.row_number + i, line: x.lines[i]!, cells: cells[i]!.map(String) });
    }
  }
  return limit ? rows.slice(0, limit) : rows;
}

export interface PreviewRow {
  row: number;
  line: number;
  values: ContactDraft | null;
  action: 'create' | 'update' | 'skip' | 'fail';
  problems: RowProblem[];
}

/** The first rows as the import would treat them now (mapping and mode may still change). */
export async function previewImport(
  tx: Tx,
  businessId: string,
  userId: string,
  jobId: string,
  limit: number,
  override: JobSettings = {},
): Promise<{ job: ImportJob; rows: PreviewRow[] }> {
  const job = await getImportJob(tx, businessId, jobId);
  if (job.created_by !== userId) throw new AppError('not_found', 'import job not found');
  if (job.status === 'completed' || job.status === 'failed') {
    throw new AppError('conflict', 'the import has finished; download its error report instead');
  }
  const fields = await contactFields(tx, businessId);
  const mapping = override.mapping ? checkMapping(override.mapping, job.headers.length, fields) : job.mapping;
  const prepared = prepareRows(await loadStagedRows(tx, businessId, jobId, limit), mapping, job.headers, fields);
  const keys = batchKeys(prepared);
  const existing = await findExistingContacts(tx, businessId, keys.emails, keys.phones);
  const rows = planBatch(prepared, existing, override.dedupe_mode ?? job.dedupe_mode).map((o): PreviewRow => ({
    row: o.row.rowNumber,
    line: o.row.line,
    values: o.row.result.ok ? o.row.result.draft : null,
    action: o.kind,
    problems: o.kind === 'fail' ? o.problems : o.kind === 'skip' && o.problem ? [o.problem] : [],
  }));
  return { job, rows };
}

export interface ImportErrorView {
  id: number;
  row_number: number;
  line: number;
  column_name: string | null;
  code: string;
  message: string;
  raw: string[];
}

export async function importErrorPage(
  tx: Tx,
  businessId: string,
  jobId: string,
  afterId: number,
  limit: number,
): Promise<ImportErrorView[]> {
  const r = await tx.query<ImportErrorView & { id: string }>(
    `SELECT id, row_number, line, column_name, code, message, raw FROM app.import_errors
      WHERE business_id = $1 AND job_id = $2 AND id > $3 ORDER BY id LIMIT $4`,
    [businessId, jobId, afterId, limit],
  );
  return r.rows.map((x) => ({ ...x, id: Number(x.id) }));
}
