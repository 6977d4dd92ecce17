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
// Interleaved A/B pairs (order alternating), BENCH_PATH_ROUNDS (3) per client count, each
// BENCH_PATH_SECONDS (6) s; the figure is the median pair's ratio, min/max beside it.
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { listContacts } from '../src/crm/contact-list.ts';
import { figure, ratioRange, type Figure } from './lib.ts';
import { BUSINESSES, CONTACTS, PGRST_ROLE, idOf, pathWorld } from './path-world.ts';

const SECONDS = Number(process.env.BENCH_PATH_SECONDS ?? 6);
const ROUNDS = Number(process.env.BENCH_PATH_ROUNDS ?? 3);
const CLIENTS = (process.env.BENCH_PATH_CLIENTS ?? '10,50').split(',').map(Number);
const CAPTO_SHAPE = process.env.BENCH_PATH_CAPTO ?? 'one-trip';
const run = promisify(execFile);

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
  // pgbench reads every `:name` as a variable, even inside a literal: the timestamps' to_char
  // format (`HH24:MI:SS`) spells its colons as chr(58), which the planner folds to the same constant.
  const list =
    listSql
      .replace('$1', `cast(${idOf('9000', N)} as uuid)`)
      .replace('$2', '51')
      .replaceAll(':MI:SS', "' || chr(58) || 'MI' || chr(58) || 'SS") + ';';
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
    const { median, notes } = ratioRange(pairs);
    figures.push(
      figure({
        name: `Capto list-page transaction vs PostgREST's, pgbench c=${c}`,
        value: median[0],
        baseline: median[1],
        unit: 'tps',
        goal: '>= 1.00',
        engine: 'server',
        notes: `${notes}; capto ${CAPTO_SHAPE} -M ${captoMode}; ${CONTACTS / 1000}k/${BUSINESSES}`,
      }),
    );
  }
  return figures;
}
