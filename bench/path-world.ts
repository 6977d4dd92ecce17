// The path world (bench/path.bench.ts, rls.bench.ts, route.bench.ts): BENCH_PATH_CONTACTS
// (200k) contacts over BENCH_PATH_BUSINESSES (1,000) businesses, one owner each with a live
// session, and a PostgREST-shaped copy of the rows in schema pgrst. Seeded once in SQL into
// capto_bench_path_<contacts>_<businesses> and kept between runs; BENCH_PATH_RESEED=1
// seeds it again. Ids are a function of the business's number (1…BUSINESSES).
import pg from 'pg';
import { cachedWorld } from './lib.ts';

export const ADMIN_URL =
  process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const CONTACTS = Number(process.env.BENCH_PATH_CONTACTS ?? 200_000);
export const BUSINESSES = Number(process.env.BENCH_PATH_BUSINESSES ?? 1000);
const WORLD_VERSION = 1;
export const PGRST_ROLE = 'capto_bench_pgrst_authenticated';

// Ids are a function of the business's number (1…BUSINESSES), so a pgbench script can
// name a random caller without a look-up: user …8000-n, business …9000-n, session …a000-n.
export const idOf = (prefix: string, i: string) => `('00000000-0000-4000-${prefix}-' || lpad(${i}, 12, '0'))`;

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
export async function pathWorld(): Promise<string> {
  const name = `capto_bench_path_${CONTACTS}_${BUSINESSES}`;
  const { url, fresh, seedSeconds } = await cachedWorld({
    adminUrl: ADMIN_URL,
    name,
    versionTable: 'public.bench_path_world',
    version: WORLD_VERSION,
    reseed: process.env.BENCH_PATH_RESEED === '1',
    seed,
  });
  if (fresh) {
    console.log(`  seeded ${CONTACTS.toLocaleString()} contacts into ${name} in ${seedSeconds.toFixed(0)} s`);
  } else console.log(`  reusing ${name} (BENCH_PATH_RESEED=1 seeds it again)`);
  return url;
}

/** The ids of business n (1…BUSINESSES): its owner, the business, the owner's session. */
export function pathIds(n: number): { user: string; business: string; session: string } {
  const id = (prefix: string) => `00000000-0000-4000-${prefix}-${String(n).padStart(12, '0')}`;
  return { user: id('8000'), business: id('9000'), session: id('a000') };
}
