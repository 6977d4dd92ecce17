// CSV import wizard: choose a file → check the column mapping against a preview → run,
// with a progress bar → results and the error report (rejected rows with the reason).
import { useEffect, useRef, useState } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { Link } from 'react-router';
import { errorMessage } from '../api/client.ts';
import { useBusiness } from '../app/me.ts';
import { ConfirmDialog } from '../components/confirm.tsx';
import { Alert, ErrorState } from '../components/states.tsx';
import { parseCsvPreview } from './csv-preview.ts';
import { displayValue, useCustomFields } from './custom-fields.tsx';
import {
  deleteImport,
  downloadErrors,
  getImport,
  IMPORT_TARGETS,
  previewImport,
  saveSettings,
  startImport,
  uploadCsv,
  type CustomTarget,
  type HeaderMapping,
  type ImportJob,
  type ImportTarget,
} from './import-api.ts';
import { humanize } from './types.ts';

const STEPS = ['Choose file', 'Map columns', 'Import', 'Results'] as const;
// The server's upload limit (docs/ARCHITECTURE.md §14): refused here first, before any byte is sent.
const MAX_BYTES = 20 * 1024 * 1024;

function Steps({ current }: { current: number }) {
  return (
    <ol className="steps" aria-label="Import steps">
      {STEPS.map((s, i) => (
        <li key={s} className={i === current ? 'current' : undefined} aria-current={i === current ? 'step' : undefined}>
          {i + 1}. {s}
        </li>
      ))}
    </ol>
  );
}

function ErrorReport({ bid, job }: { bid: string; job: ImportJob }) {
  const [rows, setRows] = useState<string[][] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [href, setHref] = useState<string | null>(null);
  useEffect(() => {
    if (job.counts.failed === 0) return;
    let url: string | null = null;
    downloadErrors(bid, job.id)
      .then((text) => {
        setRows(parseCsvPreview(text, 51));
        url = URL.createObjectURL(new Blob([text], { type: 'text/csv' }));
        setHref(url);
      })
      .catch((e: unknown) => setError(errorMessage(e)));
    return () => {
      if (url) URL.revokeObjectURL(url);
    };
  }, [bid, job.id, job.counts.failed]);
  if (job.counts.failed === 0) return null;
  return (
    <section className="card" aria-labelledby="errors-h">
      <h2 id="errors-h">Rows that were not imported ({job.counts.failed})</h2>
      {error && <Alert kind="error">{error}</Alert>}
      {rows && rows.length > 0 && (
        <div className="table-wrap">
          <table data-testid="import-errors">
            <thead>
              <tr>
                {rows[0]!.map((h, i) => (
                  <th key={i} scope="col">
                    {h}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {rows.slice(1).map((r, i) => (
                <tr key={i}>
                  {r.map((c, j) => (
                    <td key={j}>{c}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {href && (
        <p>
          <a className="button" href={href} download={`import-errors-${job.id.slice(0, 8)}.csv`}>
            Download the error report (CSV)
          </a>
        </p>
      )}
    </section>
  );
}

export function ImportWizard() {
  const { bid } = useBusiness();
  const queryClient = useQueryClient();
  const fileInput = useRef<HTMLInputElement>(null);
  const [file, setFile] = useState<File | null>(null);
  const [preview, setPreview] = useState<string[][]>([]);
  const [job, setJob] = useState<ImportJob | null>(null);
  const [mapping, setMapping] = useState<HeaderMapping>({});
  const [dedupe, setDedupe] = useState<'skip' | 'update'>('skip');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [started, setStarted] = useState(false);
  // The business's contact custom fields are targets too: custom.<key>.
  const customFields = useCustomFields(bid, 'contact').data ?? [];
  const targets: { target: ImportTarget | CustomTarget; label: string }[] = [
    ...IMPORT_TARGETS.map((t) => ({ target: t, label: humanize(t) })),
    ...customFields.map((f) => ({ target: `custom.${f.key}` as CustomTarget, label: f.label })),
  ];

  // The server's preview applies the mapping and the validation rules the import will use.
  const serverPreview = useQuery({
    queryKey: ['import-preview', bid, job?.id, mapping, dedupe],
    queryFn: async () => {
      await saveSettings(bid, job!.id, mapping, dedupe);
      return previewImport(bid, job!.id);
    },
    enabled: !!job && !started,
  });
  const progress = useQuery({
    queryKey: ['import', bid, job?.id],
    queryFn: () => getImport(bid, job!.id),
    enabled: started && !!job,
    refetchInterval: (q) =>
      q.state.data && (q.state.data.status === 'completed' || q.state.data.status === 'failed') ? false : 700,
  });
  const live = progress.data ?? job;
  const finished = live?.status === 'completed' || live?.status === 'failed';
  useEffect(() => {
    if (finished) void queryClient.invalidateQueries({ queryKey: ['contacts', bid] });
  }, [finished, bid, queryClient]);

  async function upload() {
    if (!file) return;
    if (file.size > MAX_BYTES) {
      setError('This file is larger than 20 MB. Split it into smaller files.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      setPreview(parseCsvPreview(await file.text(), 6));
      const created = await uploadCsv(bid, file);
      setJob(created);
      setMapping(created.mapping ?? {});
      setDedupe(created.dedupe_mode ?? 'skip');
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  }

  async function run() {
    if (!job) return;
    setBusy(true);
    setError(null);
    try {
      setJob(await startImport(bid, job.id, mapping, dedupe));
      setStarted(true);
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  }

  const [confirmDelete, setConfirmDelete] = useState(false);
  const [deleted, setDeleted] = useState(false);
  async function removeJob(id: string) {
    setBusy(true);
    setError(null);
    try {
      await deleteImport(bid, id);
      setConfirmDelete(false);
      reset();
      setDeleted(true);
    } catch (e) {
      setConfirmDelete(false);
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  }

  function reset() {
    setDeleted(false);
    setFile(null);
    setJob(null);
    setPreview([]);
    setMapping({});
    setStarted(false);
    setError(null);
    if (fileInput.current) fileInput.current.value = '';
  }

  const step = !job ? 0 : !started ? 1 : finished ? 3 : 2;
  const headers = job?.headers ?? preview[0] ?? [];
  const rows = preview.slice(1);
  const mappedTargets = targets.filter(({ target }) => mapping[target] !== undefined && mapping[target] !== null);
  const mappedCustom = customFields.filter(
    (f) => mapping[`custom.${f.key}`] !== undefined && mapping[`custom.${f.key}`] !== null,
  );

  return (
    <>
      <h1>Import contacts from CSV</h1>
      <Steps current={step} />
      {error && <Alert kind="error">{error}</Alert>}
      {deleted && <Alert kind="ok">The import's record and error report were deleted; its contacts stay.</Alert>}

      {step === 0 && (
        <section className="card">
          <p>
            Upload a CSV exported from a spreadsheet, Google Contacts, Outlook or your previous CRM. The first row must
            hold the column names. Up to 100,000 rows.
          </p>
          <div className="field">
            <label htmlFor="csv-file">CSV file</label>
            <input
              id="csv-file"
              ref={fileInput}
              type="file"
              accept=".csv,text/csv"
              onChange={(e) => {
                setDeleted(false);
                setFile(e.target.files?.[0] ?? null);
              }}
            />
          </div>
          <button type="button" className="primary" disabled={!file || busy} onClick={() => void upload()}>
            {busy ? 'Uploading…' : 'Upload and continue'}
          </button>
        </section>
      )}

      {step === 1 && job && (
        <section className="card">
          <h2>Match your columns</h2>
          <p className="muted">
            {job.total_rows} rows found in {job.filename}. We guessed the matches below; change any that are wrong.
          </p>
          <div className="grid-3">
            {targets.map(({ target, label }) => (
              <div className="field" key={target}>
                <label htmlFor={`map-${target}`}>{label}</label>
                <select
                  id={`map-${target}`}
                  value={mapping[target] ?? ''}
                  onChange={(e) =>
                    setMapping((m) => ({ ...m, [target]: e.target.value === '' ? null : Number(e.target.value) }))
                  }
                >
                  <option value="">— not imported —</option>
                  {headers.map((h, i) => (
                    <option key={i} value={i}>
                      {h || `Column ${i + 1}`}
                    </option>
                  ))}
                </select>
              </div>
            ))}
          </div>
          <fieldset className="field">
            <legend>When a contact with the same email or phone already exists</legend>
            <label className="checkbox">
              <input type="radio" name="dedupe" checked={dedupe === 'skip'} onChange={() => setDedupe('skip')} /> Skip
              the row
            </label>
            <label className="checkbox">
              <input type="radio" name="dedupe" checked={dedupe === 'update'} onChange={() => setDedupe('update')} />{' '}
              Update the existing contact
            </label>
          </fieldset>
          <h3>Preview</h3>
          {mappedTargets.length === 0 ? (
            <p className="muted">Map at least one column to see a preview.</p>
          ) : serverPreview.isError ? (
            <ErrorState error={serverPreview.error} retry={() => void serverPreview.refetch()} />
          ) : serverPreview.data ? (
            <div className="table-wrap">
              <table data-testid="import-preview">
                <thead>
                  <tr>
                    <th scope="col">Line</th>
                    <th scope="col">First name</th>
                    <th scope="col">Last name</th>
                    <th scope="col">Email</th>
                    <th scope="col">Phone</th>
                    {mappedCustom.map((f) => (
                      <th key={f.key} scope="col">
                        {f.label}
                      </th>
                    ))}
                    <th scope="col">Result</th>
                  </tr>
                </thead>
                <tbody>
                  {serverPreview.data.map((r) => (
                    <tr key={r.row}>
                      <td>{r.line}</td>
                      <td>{r.values?.first_name ?? ''}</td>
                      <td>{r.values?.last_name ?? ''}</td>
                      <td>{r.values?.email ?? ''}</td>
                      <td>{r.values?.phone ?? ''}</td>
                      {mappedCustom.map((f) => (
                        <td key={f.key}>
                          {r.values?.custom?.[f.key] === undefined ? '' : displayValue(f, r.values.custom[f.key])}
                        </td>
                      ))}
                      <td>
                        {r.action === 'fail' ? (
                          <span className="badge badge-danger">Will fail</span>
                        ) : (
                          <span className={r.action === 'create' ? 'badge badge-ok' : 'badge'}>
                            {humanize(r.action)}
                          </span>
                        )}
                        {r.problems.map((p, i) => (
                          <div key={i} className="small">
                            {p.message}
                          </div>
                        ))}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          ) : (
            <div className="table-wrap">
              <table data-testid="import-preview">
                <thead>
                  <tr>
                    {mappedTargets.map((t) => (
                      <th key={t.target} scope="col">
                        {t.label}
                      </th>
                    ))}
                  </tr>
                </thead>
                <tbody>
                  {rows.map((r, i) => (
                    <tr key={i}>
                      {mappedTargets.map((t) => (
                        <td key={t.target}>{r[mapping[t.target] as number] ?? ''}</td>
                      ))}
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <div className="row">
            <button
              type="button"
              className="primary"
              disabled={busy || mappedTargets.length === 0}
              onClick={() => void run()}
            >
              {busy ? 'Starting…' : `Import ${job.total_rows} rows`}
            </button>
            <button type="button" onClick={reset}>
              Choose another file
            </button>
          </div>
        </section>
      )}

      {step >= 2 && live && (
        <section className="card" aria-labelledby="progress-h">
          <h2 id="progress-h">
            {finished ? (live.status === 'failed' ? 'Import failed' : 'Import complete') : 'Importing…'}
          </h2>
          <label htmlFor="import-progress" className="sr-only">
            Import progress
          </label>
          <progress id="import-progress" max={live.total_rows || 1} value={live.rows_done} />
          <p role="status" data-testid="import-progress">
            {live.rows_done} of {live.total_rows} rows processed
          </p>
          {progress.isError && <ErrorState error={progress.error} retry={() => void progress.refetch()} />}
          {finished && (
            <ul>
              <li>
                Created: <strong data-testid="import-created">{live.counts.created}</strong>
              </li>
              <li>Updated: {live.counts.updated}</li>
              <li>Skipped (duplicates): {live.counts.skipped}</li>
              <li>
                Not imported (errors): <strong data-testid="import-failed">{live.counts.failed}</strong>
              </li>
            </ul>
          )}
          {live.error && <Alert kind="error">{live.error}</Alert>}
          {finished && (
            <div className="row">
              <Link className="button primary" to={`/b/${bid}/contacts?import=${live.id}`}>
                See imported contacts
              </Link>
              <button type="button" onClick={reset}>
                Import another file
              </button>
              <button type="button" className="danger" onClick={() => setConfirmDelete(true)}>
                Delete this import's record
              </button>
            </div>
          )}
          <ConfirmDialog
            open={confirmDelete}
            title="Delete this import's record?"
            confirmLabel="Delete record"
            busy={busy}
            onConfirm={() => void removeJob(live.id)}
            onCancel={() => setConfirmDelete(false)}
          >
            <p>
              Its progress, counts and error report (the rejected rows as they were in the file) are deleted. The
              contacts it created stay.
            </p>
          </ConfirmDialog>
        </section>
      )}
      {step === 3 && live && <ErrorReport bid={bid} job={live} />}
    </>
  );
}
