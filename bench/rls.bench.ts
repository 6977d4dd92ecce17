// Row-level security cost on server PostgreSQL, in the cached path world (bench/path-world.ts:
// 200k contacts over 1,000 businesses, a different business per transaction):
// - list-50 contacts through the real service (`listContacts`) as capto_authenticated
//   vs the very same transaction as a bypass role (capto_owner, BYPASSRLS) — goal ≤ 1.10;
// - list p50 (default and sort=name) and trigram search ("smit") p50, RLS vs bypass — goal ≤ 1.20.
// Both sides run on one connection, interleaved pair by pair (RLS first, then bypass first, …);
// BENCH_RLS_ROUNDS (3) rounds, the median round's figures with min/median/max of the ratios.
// It starts once the machine is quiet: a CHECKPOINT, then until the CPU is 80% idle (at most a
// minute) — it follows path's pgbench at c=50 in a full run, whose checkpoint and vacuum tail
// otherwise lands on some of its pairs, and the list-50 figure is a mean.
import pg from 'pg';
import { listContacts } from '../src/crm/contact-list.ts';
import type { Tx } from '../src/db/index.ts';
import { figure, percentile, ratioRange, settle, type Figure } from './lib.ts';
import { BUSINESSES, CONTACTS, pathIds, pathWorld } from './path-world.ts';

const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 400);
const ROUNDS = Math.max(3, Number(process.env.BENCH_RLS_ROUNDS ?? 3));

function txOf(client: pg.Client): Tx {
  return {
    async query(text, params) {
      const r = await client.query(text, params as unknown[]);
      return { rows: r.rows, rowCount: r.rowCount ?? 0 };
    },
  };
}

/** Per-transaction latencies (ms) of `op` run as `role` for a fixed sequence of businesses. */
async function measure(
  client: pg.Client,
  role: string,
  picks: number[],
  world: World,
  op: (tx: Tx, bid: string) => Promise<unknown>,
): Promise<number[]> {
  const tx = txOf(client);
  const out: number[] = [];
  for (const i of picks) {
    const claims = pg.escapeLiteral(JSON.stringify({ sub: world.owners[i], role: 'authenticated' }));
    const t0 = process.hrtime.bigint();
    await client.query(
      `BEGIN; SELECT set_config('role', '${role}', true), set_config('request.jwt.claims', ${claims}, true)`,
    );
    await op(tx, world.businesses[i]!);
    await client.query('COMMIT');
    out.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return out.sort((a, b) => a - b);
}

/**
 * The same transactions as both roles, interleaved per transaction (RLS then bypass,
 * then bypass then RLS, …): each pair runs within a millisecond or two, so the bursts
 * of a shared machine hit both sides alike, and neither side always gets the business
 * whose pages the other just warmed.
 */
async function measurePaired(
  client: pg.Client,
  picks: number[],
  world: World,
  op: (tx: Tx, bid: string) => Promise<unknown>,
): Promise<[number[], number[]]> {
  const rls: number[] = [];
  const bypass: number[] = [];
  for (let k = 0; k < picks.length; k++) {
    const one = [picks[k]!];
    if (k % 2 === 0) {
      rls.push(...(await measure(client, 'capto_authenticated', one, world, op)));
      bypass.push(...(await measure(client, 'capto_owner', one, world, op)));
    } else {
      bypass.push(...(await measure(client, 'capto_owner', one, world, op)));
      rls.push(...(await measure(client, 'capto_authenticated', one, world, op)));
    }
  }
  return [rls.sort((a, b) => a - b), bypass.sort((a, b) => a - b)];
}

type World = { businesses: string[]; owners: string[] };

export default async function run(): Promise<Figure[]> {
  const url = await pathWorld();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const ids = Array.from({ length: BUSINESSES }, (_, k) => pathIds(k + 1));
    const world: World = { businesses: ids.map((x) => x.business), owners: ids.map((x) => x.user) };
    const picks = Array.from({ length: ITERATIONS }, (_, k) => (k * 7919) % BUSINESSES);
    const ops: Record<string, (tx: Tx, bid: string) => Promise<unknown>> = {
      list: (tx, bid) => listContacts(tx, bid, { limit: 50 }),
      name: (tx, bid) => listContacts(tx, bid, { limit: 50, sort: 'name' }),
      search: (tx, bid) => listContacts(tx, bid, { limit: 50, q: 'smit' }),
    };
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    // per round: [rls, bypass] of the mean list tx, and the p50s
    const rounds: Record<'list' | 'listP50' | 'nameP50' | 'searchP50', [number, number][]> = {
      list: [],
      listP50: [],
      nameP50: [],
      searchP50: [],
    };
    await client.query('CHECKPOINT');
    const quiet = await settle();
    await measure(client, 'capto_authenticated', picks.slice(0, 50), world, ops.list!); // warm caches
    for (let round = 0; round < ROUNDS; round++) {
      const [rl, bl] = await measurePaired(client, picks, world, ops.list!);
      rounds.list.push([sum(rl) / rl.length, sum(bl) / bl.length]);
      rounds.listP50.push([percentile(rl, 50), percentile(bl, 50)]);
      const [rn, bn] = await measurePaired(client, picks.slice(0, 200), world, ops.name!);
      rounds.nameP50.push([percentile(rn, 50), percentile(bn, 50)]);
      const [rs, bs] = await measurePaired(client, picks.slice(0, 100), world, ops.search!);
      rounds.searchP50.push([percentile(rs, 50), percentile(bs, 50)]);
    }
    const scale = `${CONTACTS / 1000}k contacts / ${BUSINESSES} businesses`;
    const one = (name: string, pairs: [number, number][], unit: string, goal: string): Figure => {
      const r = ratioRange(pairs);
      return figure({
        name,
        value: r.median[0],
        baseline: r.median[1],
        unit,
        goal,
        engine: 'server',
        notes: `${r.notes}; ${scale}; ${quiet}`,
      });
    };
    return [
      one('RLS list-50 transaction, capto_authenticated vs bypass', rounds.list, 'ms/tx', '<= 1.10'),
      one(`RLS list p50 at ${scale}`, rounds.listP50, 'ms', '<= 1.20'),
      one(`RLS list sort=name p50 at ${scale}`, rounds.nameP50, 'ms', '<= 1.20'),
      one(`RLS trigram search p50 at ${scale}`, rounds.searchP50, 'ms', '<= 1.20'),
    ];
  } finally {
    await client.end().catch(() => undefined);
  }
}
