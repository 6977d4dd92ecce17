// Row-level security cost on server PostgreSQL:
// - list-50 contacts through the real service (`listContacts`) as capto_authenticated
//   vs the very same transaction as a bypass role (capto_owner, BYPASSRLS) — goal ≤ 1.10;
// - list and trigram search p50 at scale (BENCH_CONTACTS, default 1M over 1000
//   businesses), RLS vs bypass — goal ≤ 1.20.
// Both sides run on one connection, interleaved per transaction, best of 3 rounds.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openServerEngine } from '../src/db/server-engine.ts';
import { migrate } from '../src/db/migrator.ts';
import { listContacts } from '../src/crm/contact-list.ts';
import type { Tx } from '../src/db/index.ts';
import { figure, percentile, type Figure } from './lib.ts';

const ADMIN_URL =
  process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const CONTACTS = Number(process.env.BENCH_CONTACTS ?? 1_000_000);
const BUSINESSES = Number(process.env.BENCH_BUSINESSES ?? 1000);
const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 400);

async function seed(client: pg.Client): Promise<{ businesses: string[]; owners: string[] }> {
  await client.query(`BEGIN; SET LOCAL ROLE capto_owner; SET LOCAL search_path = pg_catalog, extensions, public`);
  await client.query(
    `INSERT INTO auth.users (id, email) SELECT gen_random_uuid(), 'owner' || g || '@bench.test' FROM generate_series(1, $1) g`,
    [BUSINESSES],
  );
  await client.query(`
    INSERT INTO app.businesses (id, name, created_by)
    SELECT gen_random_uuid(), 'Bench ' || u.email, u.id FROM auth.users u WHERE u.email LIKE '%@bench.test'`);
  // Ownership directly (as the owner role), bypassing the creator trigger's app.uid().
  await client.query(`
    INSERT INTO app.memberships (business_id, user_id, role)
    SELECT b.id, b.created_by, 'owner' FROM app.businesses b
    ON CONFLICT DO NOTHING`);
  const per = Math.ceil(CONTACTS / BUSINESSES);
  await client.query(
    `
    INSERT INTO app.contacts (business_id, first_name, last_name, email, phone, status, source, created_at)
    SELECT b.id,
           (ARRAY['James','Mary','Robert','Patricia','John','Jennifer','Michael','Linda','David','Elizabeth'])[1 + (g % 10)],
           (ARRAY['Smith','Johnson','Williams','Brown','Jones','Garcia','Miller','Davis','Rodriguez','Martinez','Hernandez','Lopez'])[1 + ((g / 10) % 12)],
           'c' || g || '.' || substr(b.id::text, 1, 8) || '@example.test',
           '+1555' || lpad((g % 10000000)::text, 7, '0'),
           (ARRAY['lead','prospect','application','client','past_client']::app.contact_status[])[1 + (g % 5)],
           'manual',
           now() - (g || ' minutes')::interval
    FROM app.businesses b CROSS JOIN generate_series(1, $1) g`,
    [per],
  );
  await client.query('COMMIT');
  await client.query('ANALYZE');
  const r = await client.query<{ id: string; created_by: string }>(
    `SELECT id, created_by FROM app.businesses ORDER BY id`,
  );
  return { businesses: r.rows.map((x) => x.id), owners: r.rows.map((x) => x.created_by) };
}

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
  world: { businesses: string[]; owners: string[] },
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
  world: { businesses: string[]; owners: string[] },
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

export default async function run(): Promise<Figure[]> {
  const name = `capto_bench_${randomBytes(3).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const client = new pg.Client({ connectionString: url.toString() });
  try {
    const engine = await openServerEngine({ databaseUrl: url.toString(), poolSize: 1 });
    await engine.withMaintenanceClient((c) => migrate(c));
    await engine.close();
    await client.connect();
    const t0 = Date.now();
    const world = await seed(client);
    console.log(
      `  seeded ${CONTACTS.toLocaleString()} contacts over ${BUSINESSES} businesses in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    );
    const picks = Array.from({ length: ITERATIONS }, (_, k) => (k * 7919) % world.businesses.length);

    const list = (tx: Tx, bid: string) => listContacts(tx, bid, { limit: 50 });
    const search = (tx: Tx, bid: string) => listContacts(tx, bid, { limit: 50, q: 'smit' });
    const rounds = {
      list: { rls: Infinity, bypass: Infinity },
      listP50: { rls: Infinity, bypass: Infinity },
      search: { rls: Infinity, bypass: Infinity },
    };
    await measure(client, 'capto_authenticated', picks.slice(0, 50), world, list); // warm caches
    for (let round = 0; round < 3; round++) {
      const [rl, bl] = await measurePaired(client, picks, world, list);
      const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
      rounds.list.rls = Math.min(rounds.list.rls, sum(rl));
      rounds.list.bypass = Math.min(rounds.list.bypass, sum(bl));
      rounds.listP50.rls = Math.min(rounds.listP50.rls, percentile(rl, 50));
      rounds.listP50.bypass = Math.min(rounds.listP50.bypass, percentile(bl, 50));
      const [rs, bs] = await measurePaired(client, picks.slice(0, 100), world, search);
      rounds.search.rls = Math.min(rounds.search.rls, percentile(rs, 50));
      rounds.search.bypass = Math.min(rounds.search.bypass, percentile(bs, 50));
    }
    const scale = `${(CONTACTS / 1e6).toFixed(CONTACTS >= 1e6 ? 0 : 2)}M contacts / ${BUSINESSES} businesses`;
    return [
      figure({
        name: 'RLS list-50 transaction, capto_authenticated vs bypass',
        value: rounds.list.rls / ITERATIONS,
        baseline: rounds.list.bypass / ITERATIONS,
        unit: 'ms/tx',
        goal: '<= 1.10',
        engine: 'server',
      }),
      figure({
        name: `RLS list p50 at ${scale}`,
        value: rounds.listP50.rls,
        baseline: rounds.listP50.bypass,
        unit: 'ms',
        goal: '<= 1.20',
        engine: 'server',
      }),
      figure({
        name: `RLS trigram search p50 at ${scale}`,
        value: rounds.search.rls,
        baseline: rounds.search.bypass,
        unit: 'ms',
        goal: '<= 1.20',
        engine: 'server',
      }),
    ];
  } finally {
    await client.end().catch(() => undefined);
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
    await admin.end();
  }
}
