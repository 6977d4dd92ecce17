// Search at a million contacts in one business (docs/ARCHITECTURE.md §11, Search), on
// server PostgreSQL, in the world of bench/search-world.ts (seeded once, then cached):
// - p50 and p99 of `GET …/contacts?q=` through a real Capto server (TLS, JWT, session
//   check, RLS, serialisation) for each kind of query — common prefixes ("smit", "jo"),
//   full names (common and rare), emails (whole and prefix), phone digits (typed with
//   punctuation, and the last four) — and of the global `GET …/search?q=`; goal p50 ≤
//   50 ms and p99 ≤ 150 ms. Baseline: `GET …/contacts?limit=50` (no search), same run.
// - RLS cost: the same search transactions (the real `listContacts`) as
//   capto_authenticated vs capto_owner (BYPASSRLS), interleaved pair by pair; goal ≤ 1.20.
// Every figure is measured in BENCH_SEARCH_ROUNDS (3) rounds, each round interleaving all
// the kinds (A B C … A B C …); the figure is the median round, min and max beside it.
import os from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { loadConfig } from '../src/config/index.ts';
import { startCapto } from '../src/main.ts';
import { listContacts } from '../src/crm/contact-list.ts';
import type { Tx } from '../src/db/index.ts';
import { sharedFakeHibp } from '../test/fakes/hibp.ts';
import { signUp } from '../test/support/auth.ts';
import { freePort, type TestServer } from '../test/support/server.ts';
import { cachedWorldServerEnv, figure, percentile, timedGet, type Figure } from './lib.ts';
import { SEARCH_CONTACTS, searchWorld } from './search-world.ts';

const ADMIN_URL =
  process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const ROUNDS = Math.max(3, Number(process.env.BENCH_SEARCH_ROUNDS ?? 3));
const PER_ROUND = Number(process.env.BENCH_SEARCH_REQUESTS ?? 30);

interface Kind {
  name: string;
  route: 'contacts' | 'search';
  /** the query texts, used in turn */
  queries: string[];
}

/** Real values from the world: emails, phones and a rare full name to look for. */
async function kinds(url: string, business: string): Promise<Kind[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const sample = await c.query<{ email: string; phone: string; first_name: string; last_name: string }>(
      `SELECT email, phone, first_name, last_name FROM app.contacts
        WHERE business_id = $1 AND email IS NOT NULL AND phone IS NOT NULL AND deleted_at IS NULL
        ORDER BY id LIMIT 20`,
      [business],
    );
    const rows = sample.rows;
    const local = (e164: string) => `(${e164.slice(2, 5)}) ${e164.slice(5, 8)}-${e164.slice(8)}`;
    return [
      { name: 'prefix "smit"', route: 'contacts', queries: ['smit'] },
      { name: 'prefix "jo"', route: 'contacts', queries: ['jo'] },
      { name: 'full name, common', route: 'contacts', queries: ['john smith', 'mary johnson', 'Garcia, Maria'] },
      { name: 'full name, rare', route: 'contacts', queries: rows.map((r) => `${r.first_name} ${r.last_name}`) },
      { name: 'email, whole', route: 'contacts', queries: rows.map((r) => r.email) },
      { name: 'email, prefix', route: 'contacts', queries: rows.map((r) => r.email.split('@')[0]!.slice(0, 8)) },
      { name: 'phone, as typed', route: 'contacts', queries: rows.map((r) => local(r.phone)) },
      { name: 'phone, last four', route: 'contacts', queries: rows.map((r) => r.phone.slice(-4)) },
      { name: 'global "smit"', route: 'search', queries: ['smit'] },
      { name: 'global "jo"', route: 'search', queries: ['jo'] },
      {
        name: 'global full name',
        route: 'search',
        queries: ['john smith', ...rows.slice(0, 5).map((r) => `${r.first_name} ${r.last_name}`)],
      },
    ];
  } finally {
    await c.end();
  }
}

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { min: s[0]!, median: s[Math.floor(s.length / 2)]!, max: s[s.length - 1]! };
};
const load = () =>
  os
    .loadavg()
    .map((x) => x.toFixed(1))
    .join(' ');

async function httpRounds(world: { url: string; business: string }, list: Kind[]) {
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'capto-bench-search-'));
  const port = await freePort();
  const config = loadConfig({
    CAPTO_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: String(port),
    LOG_LEVEL: 'silent',
    CAPTO_DB_POOL_SIZE: '4',
    CAPTO_SCAN_ON_START: 'off',
    CAPTO_JWT_TTL: '60',
    HIBP_RANGE_URL: (await sharedFakeHibp()).url,
    CAPTO_AUTH_RATE_IP: '100000',
    CAPTO_AUTH_RATE_ACCOUNT: '100000',
    CAPTO_DATA_DIR: scratch,
    DATABASE_URL: world.url,
    ...(await cachedWorldServerEnv(world.url)),
  });
  const server = await startCapto(config);
  try {
    const user = await signUp(server as unknown as TestServer);
    const admin = new pg.Client({ connectionString: world.url });
    await admin.connect();
    await admin.query(`INSERT INTO app.memberships (business_id, user_id, role) VALUES ($1, $2, 'member')`, [
      world.business,
      user.userId,
    ]);
    await admin.end();
    const headers = { authorization: `Bearer ${user.accessToken}` };
    const base = `${server.url}/api/businesses/${world.business}`;
    const urlOf = (k: Kind, i: number) =>
      `${base}/${k.route}?limit=${k.route === 'search' ? 20 : 50}&q=${encodeURIComponent(k.queries[i % k.queries.length]!)}`;
    // Warm-up: every query once.
    for (const k of list) for (let i = 0; i < k.queries.length; i++) await timedGet(urlOf(k, i), headers);
    const perRound: { p50: number; p99: number }[][] = list.map(() => []);
    const listP50: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const samples: number[][] = list.map(() => []);
      const plain: number[] = [];
      for (let i = 0; i < PER_ROUND; i++) {
        plain.push(await timedGet(`${base}/contacts?limit=50`, headers));
        for (const [k, kind] of list.entries()) samples[k]!.push(await timedGet(urlOf(kind, i), headers));
      }
      for (const [k, xs] of samples.entries()) {
        const s = xs.sort((a, b) => a - b);
        perRound[k]!.push({ p50: percentile(s, 50), p99: percentile(s, 99) });
      }
      listP50.push(
        percentile(
          plain.sort((a, b) => a - b),
          50,
        ),
      );
      console.log(`  HTTP round ${round + 1}/${ROUNDS} done (load ${load()})`);
    }
    return { perRound, listP50 };
  } finally {
    await server.close();
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** The same search transactions as `role`, one at a time on one connection. */
async function rlsRounds(world: { url: string; business: string; owner: string }, list: Kind[]) {
  const client = new pg.Client({ connectionString: world.url });
  await client.connect();
  const tx: Tx = {
    async query(text, params) {
      const r = await client.query(text, params as unknown[]);
      return { rows: r.rows, rowCount: r.rowCount ?? 0 };
    },
  };
  const claims = pg.escapeLiteral(JSON.stringify({ sub: world.owner, role: 'authenticated' }));
  const once = async (role: string, q: string) => {
    const t0 = process.hrtime.bigint();
    await client.query(
      `BEGIN READ ONLY; SELECT set_config('role', '${role}', true), set_config('request.jwt.claims', ${claims}, true)`,
    );
    await listContacts(tx, world.business, { q: q.toLowerCase(), limit: 50 });
    await client.query('COMMIT');
    return Number(process.hrtime.bigint() - t0) / 1e6;
  };
  const contacts = list.filter((k) => k.route === 'contacts');
  const ratios: number[] = [];
  const sums = { rls: [] as number[], bypass: [] as number[] };
  try {
    for (const k of contacts) await once('capto_authenticated', k.queries[0]!);
    for (let round = 0; round < ROUNDS; round++) {
      let rls = 0;
      let bypass = 0;
      for (let i = 0; i < PER_ROUND; i++) {
        for (const k of contacts) {
          const q = k.queries[i % k.queries.length]!;
          // A B, then B A: neither side always runs on the pages the other just warmed.
          if ((i + round) % 2 === 0) {
            rls += await once('capto_authenticated', q);
            bypass += await once('capto_owner', q);
          } else {
            bypass += await once('capto_owner', q);
            rls += await once('capto_authenticated', q);
          }
        }
      }
      const n = PER_ROUND * contacts.length;
      sums.rls.push(rls / n);
      sums.bypass.push(bypass / n);
      ratios.push(rls / bypass);
      console.log(`  RLS round ${round + 1}/${ROUNDS}: ${(rls / bypass).toFixed(3)} (load ${load()})`);
    }
  } finally {
    await client.end();
  }
  return { ratios, sums };
}

export default async function run(): Promise<Figure[]> {
  const world = await searchWorld(ADMIN_URL);
  const list = await kinds(world.url, world.business);
  const scale = `${(SEARCH_CONTACTS / 1e6).toFixed(SEARCH_CONTACTS >= 1e6 ? 0 : 2)}M contacts in one business`;
  const loadBefore = load();
  const http = await httpRounds(world, list);
  const rls = await rlsRounds(world, list);
  const listP50 = stats(http.listP50).median;
  const figures: Figure[] = [];
  for (const [k, kind] of list.entries()) {
    const p50 = stats(http.perRound[k]!.map((r) => r.p50));
    const p99 = stats(http.perRound[k]!.map((r) => r.p99));
    const range = (s: { min: number; median: number; max: number }) =>
      `${s.min.toFixed(1)}/${s.median.toFixed(1)}/${s.max.toFixed(1)}`;
    const notes = `p50 min/median/max ${range(p50)} ms, p99 ${range(p99)} ms over ${ROUNDS} rounds of ${PER_ROUND}; load ${loadBefore} → ${load()}`;
    const route = kind.route === 'search' ? '/search' : '/contacts';
    figures.push(
      figure({
        name: `${route}?q= ${kind.name} p50 at ${scale}`,
        value: p50.median,
        baseline: listP50,
        unit: 'ms',
        goal: '<= 50 ms',
        engine: 'server',
        notes,
      }),
      figure({
        name: `${route}?q= ${kind.name} p99 at ${scale}`,
        value: p99.median,
        baseline: listP50,
        unit: 'ms',
        goal: '<= 150 ms',
        engine: 'server',
      }),
    );
  }
  const r = stats(rls.ratios);
  figures.push(
    figure({
      name: `RLS search transaction (all kinds) at ${scale}`,
      value: stats(rls.sums.rls).median,
      baseline: stats(rls.sums.bypass).median,
      ratio: r.median,
      unit: 'ms/tx',
      goal: '<= 1.20',
      engine: 'server',
      notes: `ratio min/median/max ${r.min.toFixed(3)}/${r.median.toFixed(3)}/${r.max.toFixed(3)} over ${ROUNDS} interleaved rounds; load ${load()}`,
    }),
  );
  return figures;
}
