// The downloadable per-row error report of an import: one line per problem, followed
// by the row's original cells of the MAPPED columns under the file's own headers, so
// the user can fix the rows in a spreadsheet and import the report's right-hand part
// again (unmapped columns are never kept). The raw cells came from an uploaded file
// and go back out through the formula-injection guard.
import { Readable } from 'node:stream';
import type { Database } from '../../db/index.ts';
import { csvLine, UTF8_BOM } from './csv-writer.ts';
import { mappedColumns } from './header-mapping.ts';
import { getImportJob, importErrorPage, type ImportJob } from './import-jobs.ts';

export const REPORT_COLUMNS = ['row', 'line', 'column', 'code', 'message'] as const;

export function importErrorReportCsv(
  db: Database,
  userId: string,
  businessId: string,
  job: Pick<ImportJob, 'id' | 'headers' | 'mapping'>,
  pageSize = 2000,
): Readable {
  const jobId = job.id;
  const headers = mappedColumns(job.mapping).map((i) => job.headers[i] ?? `Column ${i + 1}`);
  let afterId = 0;
  let started = false;
  return new Readable({
    async read() {
      try {
        if (!started) {
          started = true;
          this.push(UTF8_BOM + csvLine([...REPORT_COLUMNS, ...headers]));
          return;
        }
        const rows = await db.asUser({ sub: userId }, async (tx) => {
          await getImportJob(tx, businessId, jobId); // 404 if access was lost between pages
          return importErrorPage(tx, businessId, jobId, afterId, pageSize);
        });
        const last = rows[rows.length - 1];
        if (last) afterId = last.id;
        const text = rows
          .map((e) =>
            csvLine([
              e.row_number,
              e.line,
              e.column_name ?? '',
              e.code,
              e.message,
              ...headers.map((_, i) => e.raw[i] ?? ''),
            ]),
          )
          .join('');
        if (text) this.push(text);
        if (rows.length < pageSize) this.push(null);
      } catch (e) {
        this.destroy(e instanceof Error ? e : new Error(String(e)));
      }
    },
  });
}
