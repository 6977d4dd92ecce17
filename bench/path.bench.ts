// The request path's database transaction against PostgREST's, in pgbench (docs/ARCHITECTURE.md §7):
// one list page — 50 contacts of the caller's business sorted by name — in a world of
// BENCH_PATH_CONTACTS (200k) contacts over BENCH_PATH_BUSINESSES (1,000) businesses, one
// owner each, a random business per transaction.
// - PostgREST v12's transaction (`BEGIN … READ ONLY`; one `set_config` statement for role,
//   claims and request.*; the page as `json_agg` over a CTE; COMMIT), statement by statement,
//   `-M prepared` as PostgREST runs it, under a Supabase-style policy (memberships readable
//   by their own user, `business_id IN (SELECT … WHERE user_id = (SELECT uid()))`). It checks
//   neither that the token's session is live nor, separately, that the caller is a member.
// - Capto's transaction as the server engine sends it (src/db/request.ts): BEGIN READ ONLY,
//   role and claims, the session's liveness and the membership check, the listing SQL of
//   `listContacts` (sort=name), COMMIT — in one pipelined write (pgbench `\startpipeline`).
//   `BENCH_PATH_CAPTO=two-trips` adds the authentication step's own liveness transaction
//   in front (the shape before it was folded into the request's set-up).
// Interleaved A/B pairs (order alternating), BENCH_PATH_ROUNDS (5) per client count, each
// BENCH_PATH_SECONDS (10) s; the figure is the median pair's ratio, min/max beside it.
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { listContacts } from '../src/crm/contact-list.ts';
import { cachedWorld, figure, type Figure } from './lib.ts';

const ADMIN_URL =
  process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const CONTACTS = Number(process.env.BENCH_PATH_CONTACTS ?? 200_000);
const BUSINESSES = Number(process.env.BENCH_PATH_BUSINESSES ?? 1000);
const SECONDS = Number(process.env.BENCH_PATH_SECONDS ?? 10);
const ROUNDS = Number(process.env.BENCH_PATH_ROUNDS ?? 5);
const CLIENTS = (process.env.BENCH_PATH_CLIENTS ?? '10,50').split(',').map(Number);
const CAPTO_SHAPE = process.env.BENCH_PATH_CAPTO ?? 'one-trip';
const WORLD_VERSION = 1;
const PGRST_ROLE = 'capto_bench_pgrst_authenticated';
const run = promisify(execFile);

// Ids are a function of the business's number (1…BUSINESSES), so a pgbench script can
// name a random caller without a look-up: user …8000-n, business …9000-n, session …a000-n.
const idOf = (prefix: string, i: string) => `('00000000-0000-4000-${prefix}-' || lpad(${i}, 12, '0'))`;

async function seed(client: pg.Client): Promise<void> {
  const per = Math.ceil(CONTACTS / BUSINESSES);
  await client.query(`BEGIN; SET LOCAL ROLE capto_owner; SET LOCAL search_path = pg_catalog, extensions, public`);
  await client.query(
    `INSERT INTO auth.users (id, email) SELECT ${idOf('8000', 'g::text')}::uuid, 'path' || g || '@bench.test'
       FROM generate_series(1, $1) g`,
    [BUSINESSES],
  );
  await client.query(
    `INSERT INTO auth.sessions (id, user_id, not_after, idle_timeout)
     SELECT ${idOf('a000', 'g::text')}::uuid, ${idOf('8000', 'g::text')}::uuid, now() + interval '10 years', interval '10 years'
       FROM generate_series(1, $1) g`,
    [BUSINESSES],
  );
  await client.query(
    `INSERT INTO app.businesses (id, name, created_by)
     SELECT ${idOf('9000', 'g::text')}::uuid, 'Path ' || g, ${idOf('8000', 'g::text')}::uuid FROM generate_series(1, $1) g`,
    [BUSINESSES],
  );
  await client.query(`INSERT INTO app.memberships (business_id, user_id, role)
    SELECT b.id, b.created_by, 'owner' FROM app.businesses b ON CONFLICT DO NOTHING`);
  await client.query(
    `INSERT INTO app.contacts (business_id, first_name, last_name, email, phone, status, source, created_at)
     SELECT b.id,
            (ARRAY['James','Mary','Robert','Patricia','John','Jennifer','Michael','Linda','David','Elizabeth'])[1 + (g % 10)],
            (ARRAY['Smith','Johnson','Williams','Brown','Jones','Garcia','Miller','Davis','Rodriguez','Martinez','Hernandez','Lopez'])[1 + ((g / 10) % 12)],
            'c' || g || '.' || substr(b.id::text, 25, 12) || '@example.test',
            '+1555' || lpad((g % 10000000)::text, 7, '0'),
            (ARRAY['lead','prospect','application','client','past_client']::app.contact_status[])[1 + (g % 5)],
            'manual', now() - (g || ' minutes')::interval
       FROM app.businesses b CROSS JOIN generate_series(1, $1) g`,
    [per],
  );
  await client.query('COMMIT');
  // PostgREST's world: the same rows in schema pgrst, the policy Supabase's guides
  // recommend, an index that serves its ORDER BY (it cannot order by lower()).
  await client.query(`
    DO $$ BEGIN
      IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${PGRST_ROLE}') THEN
        CREATE ROLE ${PGRST_ROLE} NOLOGIN;
      END IF;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END $$;
    CREATE SCHEMA pgrst;
    CREATE TABLE pgrst.memberships AS SELECT business_id, user_id, role::text AS role FROM app.memberships;
    ALTER TABLE pgrst.memberships ADD PRIMARY KEY (business_id, user_id);
    CREATE INDEX ON pgrst.memberships (user_id);
    CREATE TABLE pgrst.contacts AS SELECT * FROM app.contacts;
    ALTER TABLE pgrst.contacts ADD PRIMARY KEY (id);
    CREATE INDEX ON pgrst.contacts (business_id, last_name, first_name, id) WHERE deleted_at IS NULL;
    CREATE FUNCTION pgrst.uid() RETURNS uuid LANGUAGE sql STABLE AS
      $f$ SELECT (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')::uuid $f$;
    ALTER TABLE pgrst.memberships ENABLE ROW LEVEL SECURITY;
    ALTER TABLE pgrst.contacts ENABLE ROW LEVEL SECURITY;
    CREATE POLICY own ON pgrst.memberships FOR SELECT TO ${PGRST_ROLE} USING (user_id = (SELECT pgrst.uid()));
    CREATE POLICY member ON pgrst.contacts FOR SELECT TO ${PGRST_ROLE}
      USING (business_id IN (SELECT m.business_id FROM pgrst.memberships m WHERE m.user_id = (SELECT pgrst.uid())));
    GRANT USAGE ON SCHEMA pgrst TO ${PGRST_ROLE};
    GRANT SELECT ON pgrst.memberships, pgrst.contacts TO ${PGRST_ROLE};
    GRANT EXECUTE ON FUNCTION pgrst.uid() TO ${PGRST_ROLE};
  `);
  await client.query(`CREATE TABLE public.bench_path_world (version int, contacts int, businesses int)`);
  await client.query(`INSERT INTO public.bench_path_world VALUES ($1, $2, $3)`, [WORLD_VERSION, CONTACTS, BUSINESSES]);
  await client.query('VACUUM ANALYZE');
}

/** The cached world (seeded once into capto_bench_path_<contacts>_<businesses>). */
async function pathWorld(): Promise<string> {
  const name = `capto_bench_path_${CONTACTS}_${BUSINESSES}`;
  const { url, fresh } = await cachedWorld({
    adminUrl: ADMIN_URL,
    name,
    versionTable: 'public.bench_path_world',
    version: WORLD_VERSION,
    reseed: process.env.BENCH_PATH_RESEED === '1',
  });
  if (fresh) {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const t0 = Date.now();
    await seed(client).finally(() => client.end());
    console.log(
      `  seeded ${CONTACTS.toLocaleString()} contacts into ${name} in ${((Date.now() - t0) / 1000).toFixed(0)} s`,
    );
  } else console.log(`  reusing ${name} (BENCH_PATH_RESEED=1 seeds it again)`);
  return url;
}

/** The SQL listContacts runs for a page sorted by name ($1 the business, $2 the limit + 1). */
async function captoListSql(): Promise<string> {
  let text = '';
  await listContacts(
    {
      query: async (t) => {
        text = t;
        return { rows: [], rowCount: 0 };
      },
    },
    '00000000-0000-4000-9000-000000000001',
    { limit: 50, sort: 'name' },
  );
  return text.replace(/\s+/g, ' ');
}

const N = `cast(:i as text)`;
const claims = (sid: boolean) =>
  `'{"sub":"' || ${idOf('8000', N)} || '"${sid ? `,"sid":"' || ${idOf('a000', N)} || '"` : ''},"role":"authenticated"}'`;

function postgrestScript(): string {
  const cols = `"pgrst"."contacts"."id", "pgrst"."contacts"."business_id", "pgrst"."contacts"."first_name", "pgrst"."contacts"."last_name", "pgrst"."contacts"."phone", "pgrst"."contacts"."email", "pgrst"."contacts"."source", "pgrst"."contacts"."status", "pgrst"."contacts"."kind", "pgrst"."contacts"."notes", "pgrst"."contacts"."owner_id", "pgrst"."contacts"."custom", "pgrst"."contacts"."created_at", "pgrst"."contacts"."updated_at", "pgrst"."contacts"."deleted_at"`;
  return [
    `\\set i random(1, ${BUSINESSES})`,
    `BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY;`,
    `select set_config('search_path', '"pgrst", "public"', true), set_config('role', '${PGRST_ROLE}', true), set_config('request.jwt.claims', ${claims(false)}, true), set_config('request.method', 'GET', true), set_config('request.path', '/contacts', true), set_config('request.headers', '{"accept":"application/json"}', true), set_config('request.cookies', '{}', true);`,
    `WITH pgrst_source AS ( SELECT ${cols} FROM "pgrst"."contacts" WHERE "pgrst"."contacts"."business_id" = cast(${idOf('9000', N)} as uuid) AND "pgrst"."contacts"."deleted_at" IS NULL ORDER BY "pgrst"."contacts"."last_name" ASC, "pgrst"."contacts"."first_name" ASC, "pgrst"."contacts"."id" ASC LIMIT 50 OFFSET 0 ) SELECT null::bigint AS total_result_set, pg_catalog.count(_postgrest_t) AS page_total, coalesce(json_agg(_postgrest_t), '[]') AS body, nullif(current_setting('response.headers', true), '') AS response_headers, nullif(current_setting('response.status', true), '') AS response_status, '' AS response_inserted FROM ( SELECT * FROM pgrst_source ) _postgrest_t;`,
    `COMMIT;`,
    '',
  ].join('\n');
}

function captoScript(listSql: string): string {
  const setup = `SELECT set_config('role', 'capto_authenticated', true), set_config('request.jwt.claims', ${claims(true)}, true);`;
  const list = listSql.replace('$1', `cast(${idOf('9000', N)} as uuid)`).replace('$2', '51') + ';';
  const step =
    CAPTO_SHAPE === 'two-trips'
      ? [
          '\\startpipeline',
          'BEGIN READ ONLY;',
          setup,
          'SELECT app.session_is_live() AS live;',
          'COMMIT;',
          '\\endpipeline',
        ]
      : [];
  return [
    `\\set i random(1, ${BUSINESSES})`,
    ...step,
    '\\startpipeline',
    'BEGIN READ ONLY;',
    setup,
    `SELECT app.session_is_live() AS live, app.is_member(cast(${idOf('9000', N)} as uuid)) AS member;`,
    list,
    'COMMIT;',
    '\\endpipeline',
    '',
  ].join('\n');
}

async function pgbench(url: string, script: string, mode: string, clients: number): Promise<number> {
  const { stdout } = await run(
    'pgbench',
    ['-n', '-M', mode, '-c', String(clients), '-j', '2', '-T', String(SECONDS), '-f', script, url],
    { maxBuffer: 1 << 24 },
  );
  const m = /tps = ([\d.]+) \(without initial connection time\)/.exec(stdout);
  if (!m) throw new Error(`pgbench printed no tps:\n${stdout}`);
  return Number(m[1]);
}

export default async function bench(): Promise<Figure[]> {
  const url = await pathWorld();
  const dir = mkdtempSync(join(tmpdir(), 'capto-path-'));
  const pgrst = join(dir, 'postgrest.sql');
  const capto = join(dir, 'capto.sql');
  writeFileSync(pgrst, postgrestScript());
  writeFileSync(capto, captoScript(await captoListSql()));
  // Capto's list query is a named prepared statement on the server engine; its set-up is a
  // literal simple query (parsed each time) — -M prepared over-credits only that.
  const captoMode = process.env.BENCH_PATH_CAPTO_MODE ?? 'prepared';
  const figures: Figure[] = [];
  for (const c of CLIENTS) {
    await pgbench(url, pgrst, 'prepared', c); // warm-up
    await pgbench(url, capto, captoMode, c);
    const pairs: [number, number][] = [];
    for (let r = 0; r < ROUNDS; r++) {
      if (r % 2 === 0) {
        const a = await pgbench(url, capto, captoMode, c);
        pairs.push([a, await pgbench(url, pgrst, 'prepared', c)]);
      } else {
        const b = await pgbench(url, pgrst, 'prepared', c);
        pairs.push([await pgbench(url, capto, captoMode, c), b]);
      }
    }
    const ratios = pairs.map(([a, b]) => a / b).sort((x, y) => x - y);
    const median = pairs.slice().sort((p, q) => p[0] / p[1] - q[0] / q[1])[Math.floor(pairs.length / 2)]!;
    figures.push(
      figure({
        name: `Capto list-page transaction vs PostgREST's, pgbench c=${c}`,
        value: median[0],
        baseline: median[1],
        unit: 'tps',
        goal: '>= 1.00',
        engine: 'server',
        notes: `ratios min/median/max ${ratios[0]!.toFixed(3)}/${ratios[Math.floor(ratios.length / 2)]!.toFixed(3)}/${ratios[ratios.length - 1]!.toFixed(3)}; capto ${CAPTO_SHAPE} -M ${captoMode}; ${CONTACTS / 1000}k/${BUSINESSES}`,
      }),
    );
  }
  return figures;
}
