#!/usr/bin/env node
// `npm test`: the whole suite on the embedded engine (PGlite), then again on server
// PostgreSQL when TEST_DATABASE_URL is set or PostgreSQL answers on 127.0.0.1:5432.
// Each server-mode test file creates its own database (capto_t_<run>_…) and drops it;
// leftovers of this run are dropped at the end. Exits non-zero on any failure.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
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

function vitest(label, env) {
  console.log(`\n=== ${label} ===`);
  const r = spawnSync('npx', ['vitest', 'run', ...extra], {
    stdio: 'inherit',
    env: { ...process.env, CAPTO_TEST_RUN: run, ...env },
  });
  results.push({ label, ok: r.status === 0 });
}

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

const passed = results.filter((r) => r.ok).length;
console.log(`\n${results.map((r) => `${r.ok ? 'PASS' : 'FAIL'}  ${r.label}`).join('\n')}`);
console.log(`engines: ${passed} passed, ${results.length - passed} failed`);
process.exit(results.length > 0 && passed === results.length ? 0 : 1);
