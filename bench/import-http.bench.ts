// CSV import end to end over HTTP, as a user meets it: a real Capto server (TLS, auth,
// the request transaction), `POST …/contacts/import` with the file, `POST …/import/:id/start`,
// then polling `GET …/import/:id` until the job is done. The clock runs from the first byte
// of the upload to the poll that sees `completed`, and only rows created or updated count
// (the fixture's duplicates and bad rows are work, not throughput).
//
// Both engines run side by side in one world of 200k background contacts over 1,000
// businesses: on server PostgreSQL a throw-away copy of the cached path world
// (bench/path-world.ts, copied in seconds), on the embedded engine the same shape
// (BENCH_PATH_CONTACTS over BENCH_PATH_BUSINESSES) seeded into PGlite; then rounds
// interleaved server, embedded, server, embedded… (≥ 3 each), every import into a fresh
// business. Figures (docs in bench/README.md):
// - server PostgreSQL rows/s over HTTP: goal ≥ 20,000 rows/s; its baseline is the same
//   file imported in-process (parse, stage, run through RLS, no HTTP), so the ratio is
//   what the HTTP path and the job hand-off cost;
// - the embedded engine against server PostgreSQL, same file over HTTP: goal ≥ 0.50;
// - server PostgreSQL over HTTP against the floor: a bare `INSERT … SELECT` of the rows
//   that round's in-process import wrote, into another fresh business of the same world
//   (the contacts table with all its indexes and triggers, as the table owner: no RLS,
//   no parsing, staging, validation or duplicate check), timed and rolled back. It says
//   how close the import comes to what the table itself allows on this machine.
// Each figure's min / median / max over the rounds is in its notes; the median is the value.
import { Readable } from 'node:stream';
import { readCsvUpload } from '../src/crm/import/csv-reader.ts';
import { beginImportJob, createImportJob, getImportJob } from '../src/crm/import/import-jobs.ts';
import { createImportRunner } from '../src/crm/import/import-runner.ts';
import { asOwner } from '../src/db/engine.ts';
import { OWNER_TX } from '../src/db/migrator.ts';
import { contactsFixture } from '../test/fixtures/csv/contacts-fixture.ts';
import { signUp, type SignedUpUser } from '../test/support/auth.ts';
import { newBusiness } from '../test/support/factories.ts';
import { request } from '../test/support/http.ts';
import { startTestServer, type TestServer } from '../test/support/server.ts';
import { cachedWorldServerEnv, figure, worldCopy, type Figure } from './lib.ts';
import { ADMIN_URL, BUSINESSES, CONTACTS as BACKGROUND, pathWorld } from './path-world.ts';

const ROWS = Number(process.env.BENCH_IMPORT_HTTP_ROWS ?? 20_000);
const ROUNDS = Math.max(3, Number(process.env.BENCH_IMPORT_HTTP_ROUNDS ?? 3));

interface Side {
  label: 'server' | 'embedded';
  server: TestServer;
  user: SignedUpUser;
}

/** A server on one engine: the engine is chosen by TEST_DATABASE_URL when it starts. */
async function startOn(label: Side['label'], world?: string): Promise<Side> {
  const saved = process.env.TEST_DATABASE_URL;
  if (label === 'server') process.env.TEST_DATABASE_URL = ADMIN_URL;
  else delete process.env.TEST_DATABASE_URL;
  try {
    // The server's own pool size (CAPTO_DB_POOL_SIZE's default), not the tests' small one.
    const server = await startTestServer({
      CAPTO_DB_POOL_SIZE: '10',
      CAPTO_SCAN_ON_START: 'off',
      ...(world ? { DATABASE_URL: world, ...(await cachedWorldServerEnv(world)) } : {}),
    });
    const user = await signUp(server, { verified: true });
    if (world) return { label, server, user }; // the copy holds the background already
    await asOwner(server.engine, (c) =>
      c.query(`BEGIN; SET LOCAL ROLE capto_owner;
        INSERT INTO auth.users (id, email) SELECT gen_random_uuid(), 'bg' || g || '@bench.test' FROM generate_series(1, ${BUSINESSES}) g;
        INSERT INTO app.businesses (id, name, created_by) SELECT gen_random_uuid(), 'Background', id FROM auth.users WHERE email LIKE 'bg%@bench.test';
        INSERT INTO app.memberships (business_id, user_id, role) SELECT id, created_by, 'owner' FROM app.businesses ON CONFLICT DO NOTHING;
        INSERT INTO app.contacts (business_id, first_name, last_name, email, phone)
          SELECT b.id, 'Bg', 'Contact' || g, 'bg' || g || '.' || substr(b.id::text, 1, 8) || '@example.test', '+1555' || lpad(g::text, 7, '0')
          FROM app.businesses b CROSS JOIN generate_series(1, ${Math.ceil(BACKGROUND / BUSINESSES)}) g
          WHERE b.name = 'Background';
        COMMIT; ANALYZE;`),
    );
    return { label, server, user };
  } finally {
    if (saved === undefined) delete process.env.TEST_DATABASE_URL;
    else process.env.TEST_DATABASE_URL = saved;
  }
}

/** One import over HTTP into a fresh business: seconds from upload to `completed`, rows written. */
interface Phases {
  upload: number;
  start: number;
  run: number;
  tail: number;
}

async function overHttp(side: Side, csv: Buffer): Promise<{ seconds: number; written: number; phases: Phases }> {
  const { server, user } = side;
  const bid = (await newBusiness(server.engine, user.userId)).id;
  const base = `${server.url}/api/businesses/${bid}/contacts/import`;
  const t0 = process.hrtime.bigint();
  const up = await request<{ id: string }>(`${base}?filename=bench.csv`, {
    method: 'POST',
    raw: csv,
    headers: { 'content-type': 'text/csv' },
    token: user.accessToken,
  });
  if (up.status !== 201) throw new Error(`upload: ${up.status} ${up.text}`);
  const t1 = process.hrtime.bigint();
  const started = await request(`${base}/${up.json.id}/start`, {
    method: 'POST',
    body: { dedupe_mode: 'skip' },
    token: user.accessToken,
  });
  if (started.status !== 202) throw new Error(`start: ${started.status} ${started.text}`);
  const t2 = process.hrtime.bigint();
  for (;;) {
    const job = await request<{
      status: string;
      error: string | null;
      counts: { created: number; updated: number };
      started_at: string | null;
      finished_at: string | null;
    }>(`${base}/${up.json.id}`, { token: user.accessToken });
    if (job.json.status === 'completed') {
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      // Where the time went: the upload request, the start request, the runner (the
      // job's own started_at → finished_at, same host clock), and the rest (the runner's
      // hand-off and the poll that sees the end).
      const ms = (a: bigint, b: bigint) => Number(b - a) / 1e6;
      const run = Date.parse(job.json.finished_at!) - Date.parse(job.json.started_at!);
      const phases = { upload: ms(t0, t1), start: ms(t1, t2), run, tail: seconds * 1000 - ms(t0, t2) - run };
      return { seconds, written: job.json.counts.created + job.json.counts.updated, phases };
    }
    if (job.json.status !== 'running') throw new Error(`import ended ${job.json.status}: ${job.json.error ?? ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The same file in-process through the server's own database (RLS), no HTTP: the baseline. */
async function inProcess(side: Side, csv: Buffer): Promise<{ seconds: number; written: number; businessId: string }> {
  const { server, user } = side;
  const businessId = (await newBusiness(server.engine, user.userId)).id;
  const as = { sub: user.userId };
  const t0 = process.hrtime.bigint();
  const upload = await readCsvUpload(Readable.from([csv]));
  const job = await server.db.asUser(as, (tx) => createImportJob(tx, businessId, user.userId, 'bench.csv', upload));
  await server.db.asUser(as, (tx) => beginImportJob(tx, businessId, user.userId, job.id, { dedupe_mode: 'skip' }));
  const runner = createImportRunner({ db: server.db, inFlight: 2 }); // as src/crm/import/index.ts runs it
  runner.start({ id: job.id, businessId, userId: user.userId });
  await runner.settled(job.id);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const done = await server.db.asUser(as, (tx) => getImportJob(tx, businessId, job.id));
  if (done.status !== 'completed') throw new Error(`in-process import ended ${done.status}`);
  return { seconds, written: done.created_count + done.updated_count, businessId };
}

/**
 * The floor: seconds for one bare INSERT of the contacts the in-process import wrote into
 * `from`, copied into a fresh business (same names, emails, phones, custom values), rolled
 * back so the world stays as it was.
 */
async function bareInsert(side: Side, from: string): Promise<{ seconds: number; rows: number }> {
  const to = (await newBusiness(side.server.engine, side.user.userId)).id;
  return side.server.engine.withMaintenanceClient(async (c) => {
    await c.query(`BEGIN; ${OWNER_TX}`);
    try {
      const t0 = process.hrtime.bigint();
      const r = await c.query(
        `INSERT INTO app.contacts (business_id, first_name, last_name, phone, email, source, status, notes, kind, custom)
         SELECT $2, first_name, last_name, phone, email, source, status, notes, kind, custom
           FROM app.contacts WHERE business_id = $1`,
        [from, to],
      );
      return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, rows: r.rowCount ?? 0 };
    } finally {
      await c.query('ROLLBACK');
    }
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const range = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const f = (n: number) => Math.round(n).toLocaleString('en-US');
  return `min ${f(s[0]!)} / median ${f(median(s))} / max ${f(s.at(-1)!)}`;
};

export default async function run(): Promise<Figure[]> {
  const fixture = contactsFixture(ROWS);
  const csv = Buffer.from(fixture.csv);
  const sides: Side[] = [];
  const copy = await worldCopy(ADMIN_URL, await pathWorld(), 'capto_bench_import_http_copy');
  try {
    sides.push(await startOn('server', copy.url), await startOn('embedded'));
    const [server, embedded] = sides as [Side, Side];
    const warm = Buffer.from(contactsFixture(1000).csv);
    for (const s of sides) await overHttp(s, warm); // code paths, caches, the runner's first job
    const rate = { http: [] as number[], inProcess: [] as number[], embedded: [] as number[], floor: [] as number[] };
    let written = 0;
    for (let round = 0; round < ROUNDS; round++) {
      // A B A B…, and the in-process baseline beside each server round.
      const a = await overHttp(server, csv);
      const b = await overHttp(embedded, csv);
      const c = await inProcess(server, csv);
      const d = await bareInsert(server, c.businessId);
      if (d.rows !== c.written) throw new Error(`the bare INSERT wrote ${d.rows} rows, the import ${c.written}`);
      written = a.written;
      rate.http.push(a.written / a.seconds);
      rate.embedded.push(b.written / b.seconds);
      rate.inProcess.push(c.written / c.seconds);
      rate.floor.push(d.rows / d.seconds);
      const p = (x: Phases) =>
        `upload ${x.upload.toFixed(0)} ms, start ${x.start.toFixed(0)} ms, runner ${x.run.toFixed(0)} ms, rest ${x.tail.toFixed(0)} ms`;
      console.log(`    server: ${p(a.phases)}; embedded: ${p(b.phases)}`);
      console.log(
        `  round ${round + 1}: server HTTP ${a.seconds.toFixed(2)} s, embedded HTTP ${b.seconds.toFixed(2)} s, server in-process ${c.seconds.toFixed(2)} s, bare INSERT ${d.seconds.toFixed(2)} s (${a.written.toLocaleString('en-US')} rows written)`,
      );
    }
    const world = `${ROWS.toLocaleString('en-US')}-row file, ${written.toLocaleString('en-US')} rows created or updated (the rest duplicates and bad rows), ${BACKGROUND.toLocaleString('en-US')} background contacts over ${BUSINESSES} businesses, ${ROUNDS} interleaved rounds`;
    const ratios = rate.embedded.map((e, i) => e / rate.http[i]!);
    const ofFloor = rate.http.map((h, i) => h / rate.floor[i]!);
    return [
      figure({
        name: 'CSV import end to end over HTTP, rows written/s',
        value: median(rate.http),
        baseline: median(rate.inProcess),
        unit: 'rows/s',
        goal: '>= 20000 rows/s',
        engine: 'server',
        notes: `${world}; HTTP ${range(rate.http)}; baseline: the same file in-process, ${range(rate.inProcess)}`,
      }),
      figure({
        name: 'CSV import over HTTP, embedded vs server PostgreSQL',
        value: median(rate.embedded),
        baseline: median(rate.http),
        ratio: median(ratios),
        unit: 'rows/s',
        goal: '>= 0.50',
        engine: 'embedded',
        notes: `${world}; embedded ${range(rate.embedded)} rows/s; ratio per round min ${Math.min(...ratios).toFixed(2)} / median ${median(ratios).toFixed(2)} / max ${Math.max(...ratios).toFixed(2)}`,
      }),
      figure({
        name: 'CSV import over HTTP vs a bare INSERT of its rows',
        value: median(rate.http),
        baseline: median(rate.floor),
        ratio: median(ofFloor),
        unit: 'rows/s',
        goal: '>= 0.67',
        engine: 'server',
        notes: `${world}; floor: one INSERT … SELECT of the same rows as the table owner (all indexes and triggers, no RLS, parsing, staging or duplicate check), rolled back; floor ${range(rate.floor)} rows/s; ratio per round min ${Math.min(...ofFloor).toFixed(2)} / median ${median(ofFloor).toFixed(2)} / max ${Math.max(...ofFloor).toFixed(2)}`,
      }),
    ];
  } finally {
    for (const s of sides) await s.server.stop().catch(() => undefined);
    await copy.drop().catch(() => undefined);
  }
}
