// The search bench's world (bench/search.bench.ts): one business of BENCH_SEARCH_CONTACTS
// (default 1M) contacts with a realistic spread of names — US surname frequencies (Smith
// ≈ 0.8 %, so "smit" matches about 1 % of the book; "jo" starts Johnson, Jones, John,
// Joseph, …) over a long tail of rarer names — emails, E.164 phones over 50 area codes,
// 100k deals titled after their borrower over every stage, 2,000 tasks and ~8k conversations
// of 2 texts each (some unread), beside
// 20 small businesses. Seeded once in SQL (generate_series) into a database named after
// its size and kept between runs; BENCH_SEARCH_RESEED=1 drops and seeds it again.
import pg from 'pg';
import { cachedWorld } from './lib.ts';

export const SEARCH_CONTACTS = Number(process.env.BENCH_SEARCH_CONTACTS ?? 1_000_000);
const WORLD_VERSION = 2; // 2: deals over every stage, tasks, unread conversations (the dashboard's)

export interface SearchWorld {
  url: string;
  business: string;
  owner: string;
  other: string;
}

// US Census 2010 surnames, occurrences per 100,000 people (the top 100 cover ~16 %), plus
// names that make prefixes and substrings interesting: Smithson, Goldsmith, Johnston, ….
const SURNAMES: [string, number][] = [
  ['Smith', 828],
  ['Johnson', 655],
  ['Williams', 550],
  ['Brown', 487],
  ['Jones', 483],
  ['Garcia', 394],
  ['Miller', 394],
  ['Davis', 381],
  ['Rodriguez', 351],
  ['Martinez', 340],
  ['Hernandez', 324],
  ['Lopez', 293],
  ['Gonzalez', 277],
  ['Wilson', 267],
  ['Anderson', 262],
  ['Thomas', 251],
  ['Taylor', 251],
  ['Moore', 241],
  ['Jackson', 239],
  ['Martin', 238],
  ['Lee', 233],
  ['Perez', 226],
  ['Thompson', 226],
  ['White', 223],
  ['Harris', 212],
  ['Sanchez', 206],
  ['Clark', 189],
  ['Ramirez', 188],
  ['Lewis', 180],
  ['Robinson', 179],
  ['Walker', 173],
  ['Young', 163],
  ['Allen', 161],
  ['King', 160],
  ['Wright', 158],
  ['Scott', 144],
  ['Torres', 142],
  ['Nguyen', 139],
  ['Hill', 138],
  ['Flores', 137],
  ['Green', 137],
  ['Adams', 135],
  ['Nelson', 134],
  ['Baker', 131],
  ['Hall', 126],
  ['Rivera', 119],
  ['Campbell', 117],
  ['Mitchell', 117],
  ['Carter', 116],
  ['Roberts', 115],
  ['Gomez', 108],
  ['Phillips', 107],
  ['Evans', 107],
  ['Turner', 105],
  ['Diaz', 104],
  ['Parker', 100],
  ['Cruz', 100],
  ['Edwards', 98],
  ['Collins', 97],
  ['Reyes', 96],
  ['Stewart', 96],
  ['Morris', 93],
  ['Morales', 92],
  ['Murphy', 91],
  ['Cook', 90],
  ['Rogers', 89],
  ['Gutierrez', 89],
  ['Ortiz', 88],
  ['Morgan', 88],
  ['Cooper', 87],
  ['Peterson', 86],
  ['Bailey', 85],
  ['Reed', 84],
  ['Kelly', 83],
  ['Howard', 82],
  ['Ramos', 81],
  ['Kim', 81],
  ['Cox', 80],
  ['Ward', 80],
  ['Richardson', 79],
  ['Watson', 78],
  ['Brooks', 77],
  ['Chavez', 77],
  ['Wood', 77],
  ['James', 77],
  ['Bennett', 76],
  ['Gray', 76],
  ['Mendoza', 76],
  ['Ruiz', 75],
  ['Hughes', 75],
  ['Price', 75],
  ['Alvarez', 74],
  ['Castillo', 74],
  ['Sanders', 74],
  ['Patel', 73],
  ['Myers', 72],
  ['Long', 72],
  ['Ross', 72],
  ['Foster', 71],
  ['Jimenez', 71],
  ['Johnston', 52],
  ['Jordan', 60],
  ['Joseph', 45],
  ['Jovanovic', 4],
  ['Smithson', 6],
  ['Smithers', 3],
  ['Goldsmith', 9],
  ['Smit', 2],
  ["O'Brien", 40],
  ['Müller', 5],
  ['García', 30],
  ['Nuñez', 20],
  ['Łukasik', 2],
];
const FIRST_NAMES: [string, number][] = [
  ['James', 330],
  ['John', 330],
  ['Robert', 310],
  ['Michael', 260],
  ['Mary', 260],
  ['William', 240],
  ['David', 240],
  ['Richard', 120],
  ['Patricia', 110],
  ['Linda', 100],
  ['Barbara', 100],
  ['Joseph', 100],
  ['Thomas', 100],
  ['Charles', 100],
  ['Elizabeth', 90],
  ['Jennifer', 90],
  ['Christopher', 80],
  ['Susan', 80],
  ['Karen', 70],
  ['Daniel', 70],
  ['Betty', 70],
  ['Margaret', 70],
  ['Dorothy', 70],
  ['Matthew', 60],
  ['Mark', 60],
  ['Nancy', 60],
  ['Sandra', 60],
  ['Donald', 60],
  ['Paul', 60],
  ['George', 60],
  ['Jose', 60],
  ['Anthony', 50],
  ['Lisa', 50],
  ['Steven', 50],
  ['Kenneth', 50],
  ['Donna', 50],
  ['Deborah', 50],
  ['Jessica', 50],
  ['Sarah', 50],
  ['Carol', 50],
  ['Maria', 50],
  ['Andrew', 40],
  ['Joshua', 40],
  ['Kevin', 40],
  ['Brian', 40],
  ['Michelle', 40],
  ['Juan', 40],
  ['Joan', 40],
  ['Joyce', 40],
  ['Emily', 30],
  ['Amanda', 30],
  ['Melissa', 30],
  ['Jonathan', 30],
  ['Jordan', 20],
  ['Jorge', 20],
  ['Josephine', 20],
  ['José', 20],
  ['Joy', 10],
  ['Wei', 10],
  ['Priya', 10],
  ['Zoë', 5],
  ['Renée', 5],
  ['Chloé', 5],
  ['Siobhán', 3],
];
// The long tail: three syllables each (≈ 7,000 names of ~0.012 % each).
const TAIL_A = [
  'Bar',
  'Bel',
  'Cal',
  'Dor',
  'Fen',
  'Gal',
  'Har',
  'Kel',
  'Lin',
  'Mor',
  'Nor',
  'Pel',
  'Ros',
  'Sel',
  'Tor',
  'Val',
  'Wes',
  'Yor',
  'Ash',
  'Bran',
  'Cor',
  'Dal',
  'Ell',
  'Gar',
  'Hol',
  'Ing',
  'Kas',
  'Lan',
  'Mar',
  'Ost',
];
const TAIL_B = ['a', 'e', 'i', 'o', 'u', 'an', 'en', 'in', 'er', 'ow', ''];
const TAIL_C = [
  'son',
  'ton',
  'ley',
  'man',
  'ford',
  'field',
  'wood',
  'well',
  'berg',
  'stein',
  'ski',
  'ez',
  'ini',
  'ard',
  'ing',
  'ham',
  'by',
  'dale',
  'croft',
  'more',
  'vic',
];
const AREA_CODES = [
  201, 206, 212, 213, 214, 215, 216, 301, 303, 305, 312, 313, 314, 404, 405, 407, 408, 410, 412, 415, 502, 503, 504,
  512, 513, 602, 603, 612, 614, 615, 617, 619, 702, 703, 704, 713, 714, 718, 720, 727, 801, 804, 813, 816, 817, 818,
  901, 904, 916, 919,
];
const DOMAINS = [
  'gmail.com',
  'yahoo.com',
  'outlook.com',
  'hotmail.com',
  'icloud.com',
  'aol.com',
  'comcast.net',
  'example.org',
];

const lit = (s: string) => pg.escapeLiteral(s);
const weighted = (list: [string, number][]) =>
  `ARRAY[${list.flatMap(([n, w]) => Array.from({ length: w }, () => lit(n))).join(',')}]::text[]`;

async function seed(client: pg.Client, contacts: number): Promise<void> {
  const surnameShare = SURNAMES.reduce((a, [, w]) => a + w, 0) / 100_000;
  await client.query(`BEGIN; SET LOCAL ROLE capto_owner; SET LOCAL search_path = pg_catalog, extensions, public`);
  await client.query(`SELECT setseed(0.42)`);
  await client.query(
    `INSERT INTO auth.users (id, email) SELECT gen_random_uuid(), 'search' || g || '@bench.test' FROM generate_series(0, 20) g`,
  );
  await client.query(`INSERT INTO app.businesses (id, name, created_by)
    SELECT gen_random_uuid(), 'Search ' || u.email, u.id FROM auth.users u WHERE u.email LIKE 'search%@bench.test'`);
  await client.query(`INSERT INTO app.memberships (business_id, user_id, role)
    SELECT b.id, b.created_by, 'owner' FROM app.businesses b ON CONFLICT DO NOTHING`);
  // Names first (a temp table), then the contacts from it with unique emails and phones.
  await client.query(
    `CREATE TEMP TABLE bench_names ON COMMIT DROP AS
     SELECT g,
            (${weighted(FIRST_NAMES)})[1 + floor(random() * ${FIRST_NAMES.reduce((a, [, w]) => a + w, 0)})::int] AS first_name,
            CASE WHEN random() < ${surnameShare}
              THEN (${weighted(SURNAMES)})[1 + floor(random() * ${SURNAMES.reduce((a, [, w]) => a + w, 0)})::int]
              ELSE (ARRAY[${TAIL_A.map(lit).join(',')}])[1 + floor(random() * ${TAIL_A.length})::int]
                || (ARRAY[${TAIL_B.map(lit).join(',')}])[1 + floor(random() * ${TAIL_B.length})::int]
                || (ARRAY[${TAIL_C.map(lit).join(',')}])[1 + floor(random() * ${TAIL_C.length})::int]
            END AS last_name
       FROM generate_series(1, $1) g`,
    [contacts],
  );
  const business = `(SELECT b.id FROM app.businesses b JOIN auth.users u ON u.id = b.created_by WHERE u.email = 'search0@bench.test')`;
  // 85 % have an email, 80 % a phone (E.164, unique: the 7 digits are a bijection of g / 50).
  await client.query(
    `INSERT INTO app.contacts (business_id, first_name, last_name, email, phone, source, status, created_at)
     SELECT ${business}, n.first_name, n.last_name,
            CASE WHEN g % 20 < 17 THEN lower(regexp_replace(n.first_name || '.' || n.last_name, '[^[:alnum:].]', '', 'g'))
              || g || '@' || (ARRAY[${DOMAINS.map(lit).join(',')}])[1 + g % ${DOMAINS.length}] END,
            CASE WHEN g % 5 <> 0 THEN '+1' || (ARRAY[${AREA_CODES.join(',')}])[1 + g % ${AREA_CODES.length}]
              || lpad((((g / ${AREA_CODES.length})::bigint * 7919) % 10000000)::text, 7, '0') END,
            (ARRAY['web','referral','zillow','sms','import','manual','other']::app.contact_source[])[1 + g % 7],
            (ARRAY['lead','prospect','application','client','past_client']::app.contact_status[])[1 + g % 5],
            now() - ((g::float8 / $1) * interval '1825 days')
       FROM bench_names n`,
    [contacts],
  );
  // Deals: one for every tenth contact (100k at 1M), titled the way loan officers title
  // them, over every stage — funded ones with a funded date in the last two years — so the
  // dashboard (bench/dashboard.bench.ts) reads the same world.
  await client.query(
    `INSERT INTO app.deals (business_id, title, contact_id, stage, amount_cents, position, funded_on, application_on, created_at)
     SELECT x.business_id, x.first_name || ' ' || x.last_name || ' — ' ||
              (ARRAY['purchase','refinance','cash-out refi','HELOC'])[1 + x.rn % 4],
            x.id, x.stage, 10000000 + (x.rn % 500) * 100000, x.rn,
            CASE WHEN x.stage = 'funded' THEN (now() - ((x.rn % 730) || ' days')::interval)::date END,
            CASE WHEN x.stage <> 'lead' THEN (x.created_at + interval '3 days')::date END,
            x.created_at + interval '1 day'
       FROM (SELECT c.*, (ARRAY['lead','application','processing','underwriting','clear_to_close','funded','lost']::app.deal_stage[])[1 + (c.rn / 10) % 7] AS stage
               FROM (SELECT c.business_id, c.id, c.first_name, c.last_name, c.created_at,
                            row_number() OVER (ORDER BY c.created_at DESC, c.id) AS rn
                       FROM app.contacts c WHERE c.business_id = ${business}) c
              WHERE c.rn % 10 = 0) x`,
  );
  await client.query(
    `INSERT INTO app.tasks (business_id, title, assignee_id, due_at)
     SELECT ${business}, 'Task ' || g, (SELECT created_by FROM app.businesses WHERE id = ${business}),
            now() + ((g % 20 - 10) || ' days')::interval FROM generate_series(1, 2000) g`,
  );
  await client.query(
    `INSERT INTO app.conversations (business_id, contact_id, our_number, unread_count, last_message_at)
     SELECT c.business_id, c.id, '+14155550100', (row_number() OVER ()) % 3, c.created_at
       FROM app.contacts c WHERE c.business_id = ${business} AND c.phone LIKE '%00'`,
  );
  await client.query(
    `INSERT INTO app.messages (business_id, conversation_id, direction, body, status, created_at)
     SELECT v.business_id, v.id, d.direction,
            CASE d.direction WHEN 'outbound' THEN 'Hi, your rate lock expires Friday — want to go over the numbers?'
              ELSE 'Thanks! Can we talk tomorrow about the appraisal?' END,
            CASE d.direction WHEN 'outbound' THEN 'delivered' ELSE 'received' END, v.last_message_at
       FROM app.conversations v CROSS JOIN (VALUES ('outbound'), ('inbound')) d(direction)
      WHERE v.business_id = ${business}`,
  );
  // The other businesses: a few hundred contacts each, with the same names (a search must
  // never show them), so the shared indexes hold other tenants' Smiths too.
  await client.query(
    `INSERT INTO app.contacts (business_id, first_name, last_name, email, created_at)
     SELECT b.id, n.first_name, n.last_name, 'o' || n.g || '.' || left(b.id::text, 8) || '@other.test', now()
       FROM app.businesses b JOIN bench_names n ON n.g <= 500 WHERE b.id <> ${business}`,
  );
  await client.query('COMMIT');
  // The mark of a finished seed, as the admin (the owner role may not create in public).
  await client.query(`CREATE TABLE public.bench_search_world (version int, contacts int, seeded_at timestamptz)`);
  await client.query(`INSERT INTO public.bench_search_world VALUES ($1, $2, now())`, [WORLD_VERSION, contacts]);
  await client.query('VACUUM ANALYZE');
}

/** The cached world, seeded first if it is missing, stale or BENCH_SEARCH_RESEED=1. */
export async function searchWorld(adminUrl: string): Promise<SearchWorld> {
  const name = `capto_bench_search_${SEARCH_CONTACTS}`;
  const { url, fresh, seedSeconds } = await cachedWorld({
    adminUrl,
    name,
    versionTable: 'public.bench_search_world',
    version: WORLD_VERSION,
    reseed: process.env.BENCH_SEARCH_RESEED === '1',
    seed: (c) => seed(c, SEARCH_CONTACTS),
  });
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    if (fresh) {
      console.log(`  seeded ${SEARCH_CONTACTS.toLocaleString()} contacts into ${name} in ${seedSeconds.toFixed(0)} s`);
    } else console.log(`  reusing ${name} (BENCH_SEARCH_RESEED=1 seeds it again)`);
    const r = await client.query<{ id: string; created_by: string; email: string }>(
      `SELECT b.id, b.created_by, u.email FROM app.businesses b JOIN auth.users u ON u.id = b.created_by
          WHERE u.email IN ('search0@bench.test', 'search1@bench.test') ORDER BY u.email`,
    );
    return { url, business: r.rows[0]!.id, owner: r.rows[0]!.created_by, other: r.rows[1]!.id };
  } finally {
    await client.end();
  }
}
