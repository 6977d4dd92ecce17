// HTTP surface of CSV import and export, under /api/businesses/:bid/contacts. The
// upload route alone accepts a large body (20 MB of text/csv, streamed, never
// buffered whole); everywhere else the app's 1 MB JSON limit stands.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import { z } from 'zod';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Database } from '../../db/index.ts';
import type { RouteModule } from '../../server/app.ts';
import { BEARER_SECURITY, callerOf } from '../../server/authenticate.ts';
import { inBusiness, userTx } from '../../server/scope.ts';
import { AppError } from '../../shared/errors.ts';
import { assertCanExport, exportContactsCsv } from './contact-export.ts';
import { IMPORT_LIMITS, readCsvUpload } from './csv-reader.ts';
import { importErrorReportCsv } from './error-report.ts';
import { headerMappingSchema } from './header-mapping.ts';
import {
  beginImportJob,
  cleanFilename,
  createImportJob,
  deleteImportJob,
  getImportJob,
  listImportJobs,
  previewImport,
  updateImportJob,
  type ImportJob,
} from './import-jobs.ts';
import type { ImportRunner } from './import-runner.ts';

const CSV_TYPES = ['text/csv', 'application/csv', 'application/vnd.ms-excel'];

const params = z.object({ bid: z.uuid() });
const jobParams = z.object({ bid: z.uuid(), jobId: z.uuid() });
const settings = z
  .object({
    mapping: headerMappingSchema.optional(),
    dedupe_mode: z.enum(['skip', 'update']).optional(),
  })
  .strict();

const draftSchema = z.object({
  first_name: z.string().nullable(),
  last_name: z.string().nullable(),
  phone: z.string().nullable(),
  email: z.string().nullable(),
  source: z.string().nullable(),
  status: z.string().nullable(),
  notes: z.string().nullable(),
  custom: z
    .record(z.string(), z.union([z.string(), z.number(), z.boolean()]))
    .nullable()
    .describe('values of the mapped contact custom fields given in this row'),
});
const jobSchema = z.object({
  id: z.uuid(),
  filename: z.string(),
  status: z.enum(['uploaded', 'mapping', 'running', 'completed', 'failed']),
  dedupe_mode: z.enum(['skip', 'update']),
  headers: z.array(z.string()),
  mapping: z.record(z.string(), z.number().int()),
  total_rows: z.number().int(),
  rows_done: z.number().int(),
  progress: z.number().describe('rows_done / total_rows, 0 to 1'),
  counts: z.object({
    created: z.number().int(),
    updated: z.number().int(),
    skipped: z.number().int(),
    failed: z.number().int(),
  }),
  error: z.string().nullable(),
  created_by: z.uuid().nullable(),
  created_at: z.string(),
  started_at: z.string().nullable(),
  finished_at: z.string().nullable(),
});
const problemSchema = z.object({ column: z.string().nullable(), code: z.string(), message: z.string() });

export function jobView(j: ImportJob): z.infer<typeof jobSchema> {
  return {
    id: j.id,
    filename: j.filename,
    status: j.status,
    dedupe_mode: j.dedupe_mode,
    headers: j.headers,
    mapping: j.mapping as Record<string, number>,
    total_rows: j.total_rows,
    rows_done: j.rows_done,
    progress: j.total_rows > 0 ? j.rows_done / j.total_rows : 0,
    counts: { created: j.created_count, updated: j.updated_count, skipped: j.skipped_count, failed: j.failed_count },
    error: j.error,
    created_by: j.created_by,
    created_at: j.created_at,
    started_at: j.started_at,
    finished_at: j.finished_at,
  };
}

/** Read and discard what is left of a refused upload (bounded), so the client can read our answer. */
function drain(stream: Readable): void {
  let seen = 0;
  stream.on('data', (c: Buffer) => {
    seen += c.length;
    if (seen > IMPORT_LIMITS.maxBytes) stream.destroy();
  });
  stream.on('error', () => undefined);
  stream.resume();
}

export function importRoutes(deps: { db: Database; runner: ImportRunner }): RouteModule {
  const { db, runner } = deps;
  return async (root: FastifyInstance) => {
    const app = root.withTypeProvider<ZodTypeProvider>();
    // Encapsulated in this plugin: the CSV body stays a stream for the upload handler.
    root.addContentTypeParser(
      CSV_TYPES,
      (_request: FastifyRequest, payload: Readable, done: (e: Error | null, body?: unknown) => void) =>
        done(null, payload),
    );
    root.addHook('onClose', async () => runner.stop());

    const base = '/api/businesses/:bid/contacts';
    const tags = ['contacts import/export'];

    app.post(
      `${base}/import`,
      {
        bodyLimit: IMPORT_LIMITS.maxBytes,
        schema: {
          tags,
          security: BEARER_SECURITY,
          summary:
            'Upload a CSV file (text/csv body, UTF-8, up to 20 MB / 100,000 rows); returns the job with a guessed mapping',
          params,
          querystring: z.object({ filename: z.string().max(1000).optional() }),
          response: { 201: jobSchema },
        },
      },
      async (request, reply) => {
        const claims = callerOf(request);
        const body = request.body as Readable | undefined;
        if (!body || typeof (body as Readable).pipe !== 'function') {
          throw new AppError('unsupported_media_type', 'send the file as the request body with Content-Type: text/csv');
        }
        const { bid } = request.params;
        try {
          const declared = Number(request.headers['content-length'] ?? 0);
          if (declared > IMPORT_LIMITS.maxBytes)
            throw new AppError('import_too_large', 'the file is larger than 20 MB');
          await inBusiness(db, request, bid, async () => undefined);
          const upload = await readCsvUpload(body);
          const job = await userTx(db, request, (tx) =>
            createImportJob(tx, bid, claims.sub, cleanFilename(request.query.filename), upload),
          );
          return reply.status(201).send(jobView(job));
        } catch (e) {
          drain(body);
          throw e;
        }
      },
    );

    app.get(
      `${base}/import`,
      {
        schema: {
          tags,
          security: BEARER_SECURITY,
          summary: 'Recent import jobs (yours; all of them for admins and owners)',
          params,
          response: { 200: z.object({ jobs: z.array(jobSchema) }) },
        },
      },
      async (request) => {
        const { bid } = request.params;
        const jobs = await inBusiness(db, request, bid, ({ tx }) => listImportJobs(tx, bid));
        return { jobs: jobs.map(jobView) };
      },
    );

    app.get(
      `${base}/import/:jobId`,
      {
        schema: {
          tags,
          security: BEARER_SECURITY,
          summary: 'An import job with its progress (rows_done / total_rows) and counts',
          params: jobParams,
          response: { 200: jobSchema },
        },
      },
      async (request) => {
        const { bid, jobId } = request.params;
        return jobView(await userTx(db, request, (tx) => getImportJob(tx, bid, jobId)));
      },
    );

    app.patch(
      `${base}/import/:jobId`,
      {
        schema: {
          tags,
          security: BEARER_SECURITY,
          summary: 'Edit the header mapping or the dedupe mode before starting',
          params: jobParams,
          body: settings,
          response: { 200: jobSchema },
        },
      },
      async (request) => {
        const { bid, jobId } = request.params;
        const claims = callerOf(request);
        return jobView(await userTx(db, request, (tx) => updateImportJob(tx, bid, claims.sub, jobId, request.body)));
      },
    );

    app.delete(
      `${base}/import/:jobId`,
      {
        schema: {
          tags,
          security: BEARER_SECURITY,
          summary:
            'Delete a job that is not running, with its staged rows and error report (its uploader, admins and owners); the contacts it created stay',
          params: jobParams,
          response: { 204: z.null() },
        },
      },
      async (request, reply) => {
        const { bid, jobId } = request.params;
        await userTx(db, request, (tx) => deleteImportJob(tx, bid, jobId));
        return reply.status(204).send(null);
      },
    );

    app.get(
      `${base}/import/:jobId/preview`,
      {
        schema: {
          tags,
          security: BEARER_SECURITY,
          summary: 'The first rows as the import would treat them, with per-row validation',
          params: jobParams,
          querystring: z.object({ limit: z.coerce.number().int().min(1).max(100).default(20) }),
          response: {
            200: z.object({
              job: jobSchema,
              rows: z.array(
                z.object({
                  row: z.number().int(),
                  line: z.number().int(),
                  values: draftSchema.nullable(),
                  action: z.enum(['create', 'update', 'skip', 'fail']),
                  problems: z.array(problemSchema),
                }),
              ),
            }),
          },
        },
      },
      async (request) => {
        const { bid, jobId } = request.params;
        const claims = callerOf(request);
        const r = await userTx(db, request, (tx) => previewImport(tx, bid, claims.sub, jobId, request.query.limit));
        return { job: jobView(r.job), rows: r.rows };
      },
    );

    app.post(
      `${base}/import/:jobId/start`,
      {
        schema: {
          tags,
          security: BEARER_SECURITY,
          summary: 'Start the import (or resume an interrupted one); poll the job for progress',
          params: jobParams,
          body: settings.optional(),
          response: { 202: jobSchema },
        },
      },
      async (request, reply) => {
        const { bid, jobId } = request.params;
        const claims = callerOf(request);
        const { job } = await userTx(db, request, (tx) =>
          beginImportJob(tx, bid, claims.sub, jobId, request.body ?? {}),
        );
        runner.start({ id: job.id, businessId: bid, userId: claims.sub });
        return reply.status(202).send(jobView(job));
      },
    );

    app.get(
      `${base}/import/:jobId/errors.csv`,
      {
        schema: {
          tags,
          security: BEARER_SECURITY,
          summary: 'The per-row error report as CSV',
          params: jobParams,
          produces: ['text/csv'],
        },
      },
      async (request, reply) => {
        const { bid, jobId } = request.params;
        const claims = callerOf(request);
        const job = await userTx(db, request, (tx) => getImportJob(tx, bid, jobId));
        const name = `${
          job.filename
            .replace(/\.csv$/i, '')
            .replace(/[^A-Za-z0-9._-]+/g, '_')
            .slice(0, 80) || 'import'
        }-errors.csv`;
        reply
          .header('content-disposition', `attachment; filename="${name}"`)
          .header('cache-control', 'no-store')
          .type('text/csv; charset=utf-8');
        return reply.send(importErrorReportCsv(db, claims.sub, bid, job));
      },
    );

    app.get(
      `${base}/export.csv`,
      {
        schema: {
          tags,
          security: BEARER_SECURITY,
          summary: "Export the business's contacts as CSV (owners and admins)",
          params,
          produces: ['text/csv'],
        },
      },
      async (request, reply) => {
        const { bid } = request.params;
        const claims = callerOf(request);
        await inBusiness(db, request, bid, ({ tx }) => assertCanExport(tx, bid));
        reply
          .header('content-disposition', 'attachment; filename="contacts.csv"')
          .header('cache-control', 'no-store')
          .type('text/csv; charset=utf-8');
        return reply.send(exportContactsCsv(db, claims.sub, bid));
      },
    );
  };
}
