// The dashboard's queries at scale (docs/ARCHITECTURE.md §12.2), in the cached search world
// (bench/search-world.ts): one business of BENCH_SEARCH_CONTACTS (1M) contacts created over
// five years, 100k deals over every stage, 2,000 tasks and ~8k conversations, beside 20 small
// businesses. `getDashboard` (the endpoint's one statement, in its transaction) p95 as
// capto_authenticated — goal ≤ 100 ms — against the same transaction as the bypass role,
// BENCH_DASH_ROUNDS (3) rounds of BENCH_DASH_ITERATIONS (200), the two roles alternating
// transaction by transaction; the median round, min/median/max of the p95 ratios beside it.
import pg from 'pg';
import { getDashboard } from '../src/crm/dashboard.ts';
import type { Tx } from '../src/db/index.ts';
import { figure, percentile, ratioRange, type Figure } from './lib.ts';
import { SEARCH_CONTACTS, searchWorld } from './search-world.ts';

const ADMIN_URL =
  process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const ITERATIONS = Number(process.env.BENCH_DASH_ITERATIONS ?? 200);
const ROUNDS = Math.max(3, Number(process.env.BENCH_DASH_ROUNDS ?? 3));

async function measure(client: pg.Client, role: string, w: { business: string; owner: string }, n: number) {
  const tx: Tx = {
    async query(text, params) {
      const r = await client.query(text, params as unknown[]);
      return { rows: r.rows, rowCount: r.rowCount ?? 0 };
    },
  };
  const claims = pg.escapeLiteral(JSON.stringify({ sub: w.owner, role: 'authenticated' }));
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await client.query(
      `BEGIN READ ONLY; SELECT set_config('role', '${role}', true), set_config('request.jwt.claims', ${claims}, true)`,
    );
    await getDashboard(tx, w.business);
    await client.query('COMMIT');
    out.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return out.sort((a, b) => a - b);
}

export default async function run(): Promise<Figure[]> {
  const w = await searchWorld(ADMIN_URL);
  const world = { business: w.business, owner: w.owner };
  const client = new pg.Client({ connectionString: w.url });
  await client.connect();
  try {
    const deals = (
      await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM app.deals WHERE business_id = $1`, [w.business])
    ).rows[0]!.n;
    await measure(client, 'capto_authenticated', world, 10); // warm caches
    const pairs: [number, number][] = [];
    const p50s: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const rls: number[] = [];
      const bypass: number[] = [];
      for (let i = 0; i < ITERATIONS; i++) {
        const first = i % 2 === 0 ? rls : bypass;
        const second = i % 2 === 0 ? bypass : rls;
        first.push(...(await measure(client, i % 2 === 0 ? 'capto_authenticated' : 'capto_owner', world, 1)));
        second.push(...(await measure(client, i % 2 === 0 ? 'capto_owner' : 'capto_authenticated', world, 1)));
      }
      rls.sort((a, b) => a - b);
      bypass.sort((a, b) => a - b);
      pairs.push([percentile(rls, 95), percentile(bypass, 95)]);
      p50s.push(percentile(rls, 50));
    }
    const r = ratioRange(pairs);
    const scale = `${(SEARCH_CONTACTS / 1e6).toFixed(SEARCH_CONTACTS >= 1e6 ? 0 : 2)}M contacts / ${Math.round(deals / 1000)}k deals`;
    return [
      figure({
        name: `dashboard p95 (one statement, RLS) at ${scale} in one business`,
        value: r.median[0],
        baseline: r.median[1],
        unit: 'ms',
        goal: '<= 100 ms',
        engine: 'server',
        notes: `p50 ${p50s.sort((a, b) => a - b)[Math.floor(p50s.length / 2)]!.toFixed(1)} ms; bypass is the baseline; ${r.notes}`,
      }),
    ];
  } finally {
    await client.end().catch(() => undefined);
  }
}
