// The dashboard's queries at scale (docs/ARCHITECTURE.md §12.2): one business with
// BENCH_DASH_CONTACTS (default 1M) contacts created over five years and BENCH_DASH_DEALS
// (100k) deals over every stage, with tasks and conversations, beside BENCH_DASH_OTHERS
// (99) other businesses. `getDashboard` (the endpoint's one statement, in its transaction) p95 as
// capto_authenticated — goal < 100 ms — against the same transaction as the bypass role.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openServerEngine } from '../src/db/server-engine.ts';
import { migrate } from '../src/db/migrator.ts';
import { getDashboard } from '../src/crm/dashboard.ts';
import type { Tx } from '../src/db/index.ts';
import { figure, percentile, type Figure } from './lib.ts';

const ADMIN_URL =
  process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const CONTACTS = Number(process.env.BENCH_DASH_CONTACTS ?? 1_000_000);
const DEALS = Number(process.env.BENCH_DASH_DEALS ?? 100_000);
const OTHERS = Number(process.env.BENCH_DASH_OTHERS ?? 99);
const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 200);

export async function seed(client: pg.Client): Promise<{ business: string; owner: string }> {
  await client.query(`BEGIN; SET LOCAL ROLE capto_owner; SET LOCAL search_path = pg_catalog, extensions, public`);
  await client.query(
    `INSERT INTO auth.users (id, email) SELECT gen_random_uuid(), 'dash' || g || '@bench.test' FROM generate_series(0, $1) g`,
    [OTHERS],
  );
  await client.query(`INSERT INTO app.businesses (id, name, created_by)
    SELECT gen_random_uuid(), 'Bench ' || u.email, u.id FROM auth.users u WHERE u.email LIKE 'dash%@bench.test'`);
  await client.query(`INSERT INTO app.memberships (business_id, user_id, role)
    SELECT b.id, b.created_by, 'owner' FROM app.businesses b ON CONFLICT DO NOTHING`);
  const r = await client.query<{ id: string; created_by: string }>(
    `SELECT b.id, b.created_by FROM app.businesses b JOIN auth.users u ON u.id = b.created_by WHERE u.email = 'dash0@bench.test'`,
  );
  const { id: business, created_by: owner } = r.rows[0]!;
  // The big business: contacts spread over five years, every source and status.
  await client.query(
    `INSERT INTO app.contacts (business_id, first_name, last_name, email, source, status, owner_id, created_at)
     SELECT $1, 'F' || g, 'L' || (g % 5000), 'c' || g || '@dash.test',
            (ARRAY['web','referral','zillow','sms','import','manual','other']::app.contact_source[])[1 + g % 7],
            (ARRAY['lead','prospect','application','client','past_client']::app.contact_status[])[1 + g % 5],
            $2, now() - ((g::float8 / $3) * interval '1825 days')
       FROM generate_series(1, $3) g`,
    [business, owner, CONTACTS],
  );
  // Deals: the newest contacts' deals are recent, every stage; funded ones with a funded date.
  await client.query(
    `INSERT INTO app.deals (business_id, title, contact_id, stage, amount_cents, position, funded_on, application_on, created_at)
     SELECT $1, 'Deal ' || g, c.id, s.stage, 10000000 + (g % 500) * 100000, g,
            CASE WHEN s.stage = 'funded' THEN (now() - ((g % 730) || ' days')::interval)::date END,
            CASE WHEN s.stage <> 'lead' THEN (c.created_at + interval '3 days')::date END,
            c.created_at + interval '1 day'
       FROM generate_series(1, $2) g
       JOIN LATERAL (SELECT (ARRAY['lead','application','processing','underwriting','clear_to_close','funded','lost']::app.deal_stage[])[1 + g % 7] AS stage) s ON true
       JOIN app.contacts c ON c.business_id = $1 AND c.email = 'c' || (g * ($3 / $2)) || '@dash.test'`,
    [business, DEALS, CONTACTS],
  );
  await client.query(
    `INSERT INTO app.tasks (business_id, title, assignee_id, due_at, due_date)
     SELECT $1, 'Task ' || g, $2, now() + ((g % 20 - 10) || ' days')::interval, NULL FROM generate_series(1, 2000) g`,
    [business, owner],
  );
  await client.query(
    `INSERT INTO app.conversations (business_id, contact_id, our_number, unread_count, last_message_at)
     SELECT c.business_id, c.id, '+14155550100', (row_number() OVER ()) % 3, now()
       FROM app.contacts c WHERE c.business_id = $1 ORDER BY c.created_at DESC LIMIT 20000`,
    [business],
  );
  // The other businesses: a little of everything, so the indexes are shared as in life.
  await client.query(
    `INSERT INTO app.contacts (business_id, first_name, source, created_at)
     SELECT b.id, 'Other' || g, 'web', now() - (g || ' hours')::interval
       FROM app.businesses b CROSS JOIN generate_series(1, 1000) g WHERE b.id <> $1`,
    [business],
  );
  await client.query(
    `INSERT INTO app.deals (business_id, title, stage, amount_cents)
     SELECT b.id, 'Other', 'lead', 100 FROM app.businesses b CROSS JOIN generate_series(1, 200) g WHERE b.id <> $1`,
    [business],
  );
  await client.query('COMMIT');
  await client.query('VACUUM ANALYZE');
  return { business, owner };
}

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
      `  seeded ${CONTACTS.toLocaleString()} contacts / ${DEALS.toLocaleString()} deals in one business in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    );
    await measure(client, 'capto_authenticated', world, 10); // warm caches
    let rls = [Infinity];
    let bypass = [Infinity];
    for (let round = 0; round < 3; round++) {
      const r = await measure(client, 'capto_authenticated', world, ITERATIONS);
      const b = await measure(client, 'capto_owner', world, ITERATIONS);
      if (percentile(r, 95) < percentile(rls, 95)) rls = r;
      if (percentile(b, 95) < percentile(bypass, 95)) bypass = b;
    }
    const scale = `${(CONTACTS / 1e6).toFixed(CONTACTS >= 1e6 ? 0 : 2)}M contacts / ${(DEALS / 1000).toFixed(0)}k deals`;
    return [
      figure({
        name: `dashboard p95 (6 queries, RLS) at ${scale} in one business`,
        value: percentile(rls, 95),
        baseline: percentile(bypass, 95),
        unit: 'ms',
        goal: '<= 100 ms',
        engine: 'server',
        notes: `p50 ${percentile(rls, 50).toFixed(1)} ms; bypass p95 ${percentile(bypass, 95).toFixed(1)} ms`,
      }),
    ];
  } finally {
    await client.end().catch(() => undefined);
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
    await admin.end();
  }
}
