// The CSV import API (src/crm/import/routes.ts): upload the file as text/csv → a job with
// its headers and a guessed mapping (target field → column index) → PATCH the mapping →
// preview rows as the import will treat them → start → poll → errors.csv.
import { api, apiResponse, bpath, qs } from '../api/client.ts';

export const IMPORT_TARGETS = [
  'first_name',
  'last_name',
  'full_name',
  'phone',
  'mobile',
  'email',
  'source',
  'status',
  'notes',
] as const;
export type ImportTarget = (typeof IMPORT_TARGETS)[number];
/** A contact custom field as an import target (docs/ARCHITECTURE.md §14). */
export type CustomTarget = `custom.${string}`;
export type HeaderMapping = Partial<Record<ImportTarget | CustomTarget, number | null>>;

export interface ImportJob {
  id: string;
  filename: string;
  status: 'uploaded' | 'mapping' | 'running' | 'completed' | 'failed';
  dedupe_mode: 'skip' | 'update';
  headers: string[];
  mapping: HeaderMapping;
  total_rows: number;
  rows_done: number;
  progress: number;
  counts: { created: number; updated: number; skipped: number; failed: number };
  error: string | null;
}

export interface PreviewRow {
  row: number;
  line: number;
  values: (Record<string, string | null> & { custom?: Record<string, string | number | boolean> | null }) | null;
  action: 'create' | 'update' | 'skip' | 'fail';
  problems: { column: string | null; code: string; message: string }[];
}

const jobPath = (bid: string, id: string, ...rest: string[]) => bpath(bid, 'contacts', 'import', id, ...rest);

export async function uploadCsv(bid: string, file: File): Promise<ImportJob> {
  return api<ImportJob>(bpath(bid, 'contacts', 'import') + qs({ filename: file.name }), {
    raw: { data: await file.text(), contentType: 'text/csv' },
  });
}

export function saveSettings(
  bid: string,
  id: string,
  mapping: HeaderMapping,
  dedupe: 'skip' | 'update',
): Promise<ImportJob> {
  return api<ImportJob>(jobPath(bid, id), { method: 'PATCH', body: { mapping, dedupe_mode: dedupe } });
}

export async function previewImport(bid: string, id: string): Promise<PreviewRow[]> {
  return (await api<{ rows: PreviewRow[] }>(jobPath(bid, id, 'preview') + qs({ limit: 10 }))).rows;
}

export function startImport(
  bid: string,
  id: string,
  mapping: HeaderMapping,
  dedupe: 'skip' | 'update',
): Promise<ImportJob> {
  return api<ImportJob>(jobPath(bid, id, 'start'), { body: { mapping, dedupe_mode: dedupe } });
}

export function getImport(bid: string, id: string): Promise<ImportJob> {
  return api<ImportJob>(jobPath(bid, id));
}

/** Deletes a finished job with its error report (the contacts it created stay). */
export async function deleteImport(bid: string, id: string): Promise<void> {
  await api(jobPath(bid, id), { method: 'DELETE' });
}

/** The error report: the rejected rows as they were, plus the reason. */
export async function downloadErrors(bid: string, id: string): Promise<string> {
  return (await apiResponse(jobPath(bid, id, 'errors.csv'))).text();
}
