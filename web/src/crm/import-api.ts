// The CSV import API (src/crm/import): upload → job with headers and a guessed mapping
// (target field → column index) → start with the edited mapping → poll progress →
// download the error report.
import { api, apiResponse, bpath, qs } from '../api/client.ts';

export const IMPORT_TARGETS = ['first_name', 'last_name', 'full_name', 'phone', 'mobile', 'email', 'source', 'status', 'notes'] as const;
export type ImportTarget = (typeof IMPORT_TARGETS)[number];
export type HeaderMapping = Partial<Record<ImportTarget, number | null>>;

export interface ImportJob {
  id: string;
  filename: string;
  status: 'uploaded' | 'mapping' | 'running' | 'completed' | 'failed';
  dedupe_mode: 'skip' | 'update';
  headers: string[];
  mapping: HeaderMapping;
  total_rows: number;
  rows_done: number;
  created_count: number;
  updated_count: number;
  skipped_count: number;
  failed_count: number;
  error: string | null;
  preview?: string[][];
}

function unwrap(raw: ImportJob & { job?: ImportJob }): ImportJob {
  return raw.job ?? raw;
}

export async function uploadCsv(bid: string, file: File): Promise<ImportJob> {
  const text = await file.text();
  return unwrap(await api(bpath(bid, 'contacts', 'import') + qs({ filename: file.name }), { raw: { data: text, contentType: 'text/csv' } }));
}

export async function startImport(bid: string, id: string, mapping: HeaderMapping, dedupe: 'skip' | 'update'): Promise<ImportJob> {
  return unwrap(await api(bpath(bid, 'contacts', 'import', id, 'start'), { body: { mapping, dedupe_mode: dedupe } }));
}

export async function getImport(bid: string, id: string): Promise<ImportJob> {
  return unwrap(await api(bpath(bid, 'contacts', 'import', id)));
}

/** The error report is a CSV of the rejected rows with a reason column. */
export async function downloadErrors(bid: string, id: string): Promise<{ text: string; filename: string }> {
  const res = await apiResponse(bpath(bid, 'contacts', 'import', id, 'errors'));
  return { text: await res.text(), filename: `import-errors-${id.slice(0, 8)}.csv` };
}
