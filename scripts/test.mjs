#!/usr/bin/env node
// `npm test`: the whole suite on the embedded engine (PGlite), then again on server
// PostgreSQL when TEST_DATABASE_URL is set or PostgreSQL answers on 127.0.0.1:5432.
// Each server-mode test file creates its own database (capto_t_<run>_…) and drops it;
// leftovers of this run are dropped at the end. Exits non-zero on any failure.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { ensureChromium, needsBrowser } from './ensure-chromium.mjs';

const extra = process.argv.slice(2);
console.log(`node ${process.version} (${process.execPath})`);
if (Number(process.versions.node.split('.')[0]) < 24) {
  console.error('npm test needs the pinned Node.js 24 (run it through npm after "npm install")');
  process.exit(1);
}
// Before any test: the browser tests need Debian's Chromium (installed here when we may).
if (needsBrowser(extra) && !ensureChromium()) process.exit(1);
const run = randomBytes(3).toString('hex');
const results = [];

// Each engine's results also go to a JSON report, so that the failures can be named again
// in the last lines of the output: CI keeps only the tail of a long log.
const reports = mkdtempSync(path.join(os.tmpdir(), 'capto-test-report-'));

function vitest(label, env) {
  console.log(`\n=== ${label} ===`);
  const report = path.join(reports, `${results.length}.json`);
  // A V8 fatal error in any test process (out of memory, a failed CHECK) leaves a diagnostic
  // report here; nothing is written otherwise.
  const fatal = path.join(reports, `fatal-${results.length}`);
  const childEnv = {
    ...process.env,
    CAPTO_TEST_RUN: run,
    ...env,
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --report-on-fatalerror --report-directory=${fatal}`.trim(),
  };
  const runFiles = (files, out) =>
    spawnSync('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${out}`, ...files], {
      stdio: 'inherit',
      env: childEnv,
    });
  let r = runFiles(extra, report);
  let failures = r.status === 0 ? [] : failuresIn(report);
  let rerun = '';
  // A test process that dies (vitest: "Worker exited unexpectedly") fails the run with no
  // failed test: its file has no result, or one with no test in it. Seen twice in many runs,
  // on the embedded engine, in files that close and reopen PGlite in one process; never
  // reproduced alone (docs/ARCHITECTURE.md §4). When that is the only failure, those files —
  // and only those — run once more: a real failure fails again, and the log says what happened.
  const dead = r.status === 0 ? { files: [], only: false } : deadFiles(report, childEnv);
  if (dead.files.length > 0 && dead.only) {
    const fatalReports = existsSync(fatal) ? readdirSync(fatal).map((f) => path.join(fatal, f)) : [];
    console.log(
      `\nA test process exited unexpectedly: no result for ${dead.files.join(', ')}` +
        `${fatalReports.length ? ` (V8 fatal-error report: ${fatalReports.join(', ')})` : ' (no V8 fatal-error report)'}; ` +
        `running ${dead.files.length === 1 ? 'that file' : 'those files'} once more.`,
    );
    const again = path.join(reports, `${results.length}-rerun.json`);
    r = runFiles(dead.files, again);
    failures = r.status === 0 ? [] : failuresIn(again);
    rerun = ` (${dead.files.join(', ')} ran twice: a test process exited unexpectedly the first time)`;
  }
  results.push({ label: `${label}${rerun}`, ok: r.status === 0, failures });
}

/**
 * Test files vitest was to run (with this run's filters) whose process died before it reported
 * them. `only`: no test of any other file failed.
 */
function deadFiles(report, env) {
  let json;
  try {
    json = JSON.parse(readFileSync(report, 'utf8'));
  } catch {
    return { files: [], only: false };
  }
  const results = new Map((json.testResults ?? []).map((f) => [path.resolve(f.name), f]));
  // One path per line (`--json` would take the first file filter for its output path).
  const listed = spawnSync('npx', ['vitest', 'list', '--filesOnly', ...extra], { env, encoding: 'utf8' });
  if (listed.status !== 0) return { files: [], only: false };
  const files = listed.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /\.test\.ts$/.test(l))
    .map((l) => path.resolve(l));
  // Its tests were never reported: the file is missing, failed with no test in it, or has a
  // test still `pending` (vitest's state for one that never finished; a skipped one is `skipped`).
  const died = (f) => {
    const x = results.get(f);
    const tests = x?.assertionResults ?? [];
    return !x || (x.status === 'failed' && tests.length === 0) || tests.some((t) => t.status === 'pending');
  };
  const dead = files.filter(died);
  const otherFailure = [...results.entries()].some(
    ([f, x]) =>
      !dead.includes(f) && (x.status === 'failed' || (x.assertionResults ?? []).some((t) => t.status === 'failed')),
  );
  return { files: dead.map((f) => path.relative(process.cwd(), f)), only: !otherFailure };
}

/** "file > test: first line of the error" for every failed test of a JSON report. */
function failuresIn(report) {
  let json;
  try {
    json = JSON.parse(readFileSync(report, 'utf8'));
  } catch {
    return ['(no report: vitest stopped before writing it; see its output above)'];
  }
  const lines = [];
  for (const file of json.testResults ?? []) {
    const name = path.relative(process.cwd(), file.name);
    const failed = (file.assertionResults ?? []).filter((t) => t.status === 'failed');
    for (const t of failed) lines.push(`${name} > ${t.fullName}: ${firstLine(t.failureMessages?.[0])}`);
    if (failed.length === 0 && file.status === 'failed') lines.push(`${name}: ${firstLine(file.message)}`);
  }
  if (lines.length === 0) lines.push('no failed test: an unhandled error or a timeout outside a test (see above)');
  return lines;
}

const firstLine = (text) =>
  (text ?? '')
    .split('\n')
    .find((l) => l.trim())
    ?.trim()
    .slice(0, 300) ?? '';

async function serverUrl() {
  if (process.env.TEST_DATABASE_URL) return process.env.TEST_DATABASE_URL;
  const candidate = 'postgres://postgres@127.0.0.1:5432/postgres';
  const client = new pg.Client({ connectionString: candidate, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.end();
    return candidate;
  } catch {
    return undefined;
  }
}

async function dropLeftovers(url) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const r = await client.query(`SELECT datname FROM pg_database WHERE datname LIKE $1`, [`capto_t_${run}_%`]);
  for (const { datname } of r.rows) await client.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
  await client.end();
}

const engines = (process.env.CAPTO_TEST_ENGINES ?? 'embedded,server').split(',');
if (engines.includes('embedded')) vitest('engine: embedded (PGlite)', { TEST_DATABASE_URL: '' });
if (engines.includes('server')) {
  const url = await serverUrl();
  if (url) {
    vitest('engine: server PostgreSQL', { TEST_DATABASE_URL: url });
    await dropLeftovers(url).catch((e) => console.error(`could not drop leftover test databases: ${e.message}`));
  } else {
    console.log('\n(no PostgreSQL on 127.0.0.1:5432 and no TEST_DATABASE_URL: server engine skipped)');
  }
}

rmSync(reports, { recursive: true, force: true });
const passed = results.filter((r) => r.ok).length;
for (const r of results.filter((x) => !x.ok)) {
  console.log(`\nFailed on ${r.label}:`);
  for (const line of r.failures) console.log(`  ${line}`);
}
console.log(`\n${results.map((r) => `${r.ok ? 'PASS' : 'FAIL'}  ${r.label}`).join('\n')}`);
console.log(`engines: ${passed} passed, ${results.length - passed} failed`);
process.exit(results.length > 0 && passed === results.length ? 0 : 1);
