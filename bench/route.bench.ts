// The full authenticated route against bare Fastify + pg, in the realistic world:
// - GET /api/businesses/:bid/contacts?limit=50&sort=name through Capto (TLS, JWT verification,
//   live-session check, scoped transaction, RLS, serialisation) on server PostgreSQL in the
//   cached path world (bench/path-world.ts: 200k contacts over 1,000 businesses), each request
//   for a random one of BENCH_ROUTE_MEMBERSHIPS (100) businesses the caller is a member of,
//   vs a bare Fastify HTTPS route running the same listing SQL on a plain pg pool for a random
//   one of the same businesses — goal ≥ 0.75 at c=50 (issue's target; ≥ 0.65 at c=16);
// - the same Capto route on the embedded engine vs the server route — goal ≥ 0.30. The
//   embedded side's world is smaller (BENCH_ROUTE_EMBEDDED_BUSINESSES (100) businesses of the
//   same 200 contacts each): seeding 200k contacts into PGlite on every run costs minutes.
// Throughput with autocannon, loopback only, at each of BENCH_ROUTE_CLIENTS (16,50)
// connections: after a warm-up, BENCH_ROUNDS (3) rounds of Capto, bare and embedded runs of
// BENCH_SECONDS (5) s each, the order rotating per round (A B C, B C A, C A B), so each ratio
// compares runs seconds apart; the median round's ratio, min/median/max in the notes.
import https from 'node:https';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import Fastify from 'fastify';
import pg from 'pg';
import { generate } from 'selfsigned';
import { loadConfig } from '../src/config/index.ts';
import { startCapto, type RunningCapto } from '../src/main.ts';
import { listContacts } from '../src/crm/contact-list.ts';
import { asOwner } from '../src/db/engine.ts';
import { sharedFakeHibp } from '../test/fakes/hibp.ts';
import { startTestServer, freePort, type TestServer } from '../test/support/server.ts';
import { signUp } from '../test/support/auth.ts';
import { cachedWorldServerEnv, figure, ratioRange, type Figure } from './lib.ts';
import { BUSINESSES, CONTACTS, pathIds, pathWorld } from './path-world.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Math.max(3, Number(process.env.BENCH_ROUNDS ?? 3));
const CLIENTS = (process.env.BENCH_ROUTE_CLIENTS ?? process.env.BENCH_CONNECTIONS ?? '16,50').split(',').map(Number);
const MEMBERSHIPS = Math.min(BUSINESSES, Number(process.env.BENCH_ROUTE_MEMBERSHIPS ?? 100));
const EMBEDDED_BUSINESSES = Number(process.env.BENCH_ROUTE_EMBEDDED_BUSINESSES ?? 100);
const PER_BUSINESS = Math.ceil(CONTACTS / BUSINESSES);

interface Target {
  /** the URL of business k's page (k in 0…n-1) */
  urlOf(k: number): string;
  n: number;
  headers: Record<string, string>;
}

/** Requests/s of `connections` clients for SECONDS, each request for a random business. */
async function once(t: Target, connections: number): Promise<number> {
  const first = new URL(t.urlOf(0));
  const result = await autocannon({
    url: first.origin,
    connections,
    duration: SECONDS,
    headers: t.headers,
    requests: [
      {
        method: 'GET',
        setupRequest: (req: autocannon.Request) => {
          const u = new URL(t.urlOf(Math.floor(Math.random() * t.n)));
          return { ...req, path: u.pathname + u.search };
        },
      },
    ],
    tlsOptions: { rejectUnauthorized: false },
  } as autocannon.Options);
  if (result.non2xx > 0 || result.errors > 0)
    throw new Error(`${first.origin}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return result.requests.average;
}

/** Capto on server PostgreSQL in the path world; the caller a member of MEMBERSHIPS businesses. */
async function captoServer(url: string): Promise<{ target: Target; close(): Promise<void>; businesses: string[] }> {
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'capto-bench-route-'));
  const config = loadConfig({
    CAPTO_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: String(await freePort()),
    LOG_LEVEL: 'silent',
    CAPTO_DB_POOL_SIZE: '10',
    CAPTO_SCAN_ON_START: 'off',
    HIBP_RANGE_URL: (await sharedFakeHibp()).url,
    CAPTO_AUTH_RATE_IP: '100000',
    CAPTO_AUTH_RATE_ACCOUNT: '100000',
    CAPTO_DATA_DIR: scratch,
    DATABASE_URL: url,
    ...(await cachedWorldServerEnv(url)),
  });
  const server: RunningCapto = await startCapto(config);
  const user = await signUp(server as unknown as TestServer);
  // A spread of the world's businesses (every tenth number), the same for Capto and bare.
  const step = Math.max(1, Math.floor(BUSINESSES / MEMBERSHIPS));
  const businesses = Array.from({ length: MEMBERSHIPS }, (_, k) => pathIds(1 + k * step).business);
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(
    `INSERT INTO app.memberships (business_id, user_id, role) SELECT b, $2, 'member' FROM unnest($1::uuid[]) b`,
    [businesses, user.userId],
  );
  await admin.end();
  return {
    businesses,
    target: {
      n: businesses.length,
      urlOf: (k) => `${server.url}/api/businesses/${businesses[k]}/contacts?limit=50&sort=name`,
      headers: { authorization: `Bearer ${user.accessToken}` },
    },
    async close() {
      await server.close();
      // The caller leaves the cached world as it found it.
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      await c.query(`DELETE FROM app.memberships WHERE user_id = $1`, [user.userId]).catch(() => undefined);
      await c.query(`DELETE FROM auth.users WHERE id = $1`, [user.userId]).catch(() => undefined);
      await c.end();
      rmSync(scratch, { recursive: true, force: true });
    },
  };
}

/** Capto on the embedded engine: EMBEDDED_BUSINESSES businesses of PER_BUSINESS contacts. */
async function captoEmbedded(): Promise<{ target: Target; close(): Promise<void> }> {
  const saved = process.env.TEST_DATABASE_URL;
  delete process.env.TEST_DATABASE_URL;
  const server = await startTestServer({ CAPTO_DB_POOL_SIZE: '10', CAPTO_SCAN_ON_START: 'off' });
  if (saved !== undefined) process.env.TEST_DATABASE_URL = saved;
  const user = await signUp(server);
  const t0 = Date.now();
  const businesses = await asOwner(server.engine, async (c) => {
    const r = await c.query<{ id: string }>(
      `INSERT INTO app.businesses (name, created_by) SELECT 'Route ' || g, $1 FROM generate_series(1, $2) g RETURNING id`,
      [user.userId, EMBEDDED_BUSINESSES],
    );
    const ids = r.rows.map((x) => x.id);
    await c.query(
      `INSERT INTO app.memberships (business_id, user_id, role) SELECT b, $2, 'owner' FROM unnest($1::uuid[]) b
       ON CONFLICT DO NOTHING`,
      [ids, user.userId],
    );
    await c.query(
      `INSERT INTO app.contacts (business_id, first_name, last_name, email, phone, status, source, created_at)
       SELECT b,
              (ARRAY['James','Mary','Robert','Patricia','John','Jennifer','Michael','Linda','David','Elizabeth'])[1 + (g % 10)],
              (ARRAY['Smith','Johnson','Williams','Brown','Jones','Garcia','Miller','Davis','Rodriguez','Martinez','Hernandez','Lopez'])[1 + ((g / 10) % 12)],
              'c' || g || '.' || substr(b::text, 25, 12) || '@example.test',
              '+1555' || lpad((g % 10000000)::text, 7, '0'),
              (ARRAY['lead','prospect','application','client','past_client']::app.contact_status[])[1 + (g % 5)],
              'manual', now() - (g || ' minutes')::interval
         FROM unnest($1::uuid[]) b CROSS JOIN generate_series(1, $2) g`,
      [ids, PER_BUSINESS],
    );
    await c.query('ANALYZE');
    return ids;
  });
  console.log(
    `  embedded world: ${(EMBEDDED_BUSINESSES * PER_BUSINESS).toLocaleString()} contacts over ${EMBEDDED_BUSINESSES} businesses, seeded in ${((Date.now() - t0) / 1000).toFixed(0)} s`,
  );
  return {
    target: {
      n: businesses.length,
      urlOf: (k) => `${server.url}/api/businesses/${businesses[k]}/contacts?limit=50&sort=name`,
      headers: { authorization: `Bearer ${user.accessToken}` },
    },
    close: () => server.stop(),
  };
}

async function bareFastify(
  databaseUrl: string,
  businesses: string[],
): Promise<{ target: Target; close(): Promise<void> }> {
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], { keySize: 2048, algorithm: 'sha256' });
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 10 });
  pool.on('error', () => undefined);
  const app = Fastify({
    https: { key: pems.private, cert: pems.cert, minVersion: 'TLSv1.2' },
  } as never) as unknown as ReturnType<typeof Fastify>;
  app.get('/b/:bid/contacts', async (req: { params: { bid: string } }) => {
    const client = await pool.connect();
    try {
      return await listContacts(
        {
          query: async (t, p) => {
            const r = await client.query(t, p as unknown[]);
            return { rows: r.rows, rowCount: r.rowCount ?? 0 };
          },
        },
        req.params.bid,
        { limit: 50, sort: 'name' },
      );
    } finally {
      client.release();
    }
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as { port: number };
  return {
    target: {
      n: businesses.length,
      urlOf: (k) => `https://127.0.0.1:${port}/b/${businesses[k]}/contacts?limit=50&sort=name`,
      headers: {},
    },
    async close() {
      await app.close();
      await pool.end();
    },
  };
}

export default async function run(): Promise<Figure[]> {
  https.globalAgent.options.rejectUnauthorized = false;
  const url = await pathWorld();
  const closers: (() => Promise<void>)[] = [];
  try {
    const server = await captoServer(url);
    closers.push(server.close);
    // The bare route connects as the admin (no RLS, no role switch): the cost Capto adds.
    const bare = await bareFastify(url, server.businesses);
    closers.push(bare.close);
    const embedded = await captoEmbedded();
    closers.push(embedded.close);
    const sides = [server.target, bare.target, embedded.target];
    const world = `${CONTACTS / 1000}k/${BUSINESSES} (embedded ${(EMBEDDED_BUSINESSES * PER_BUSINESS) / 1000}k/${EMBEDDED_BUSINESSES}), sort=name, a random one of ${MEMBERSHIPS} businesses per request`;
    const figures: Figure[] = [];
    for (const c of CLIENTS) {
      for (const s of sides) await once(s, c); // warm-up: code paths, pools, pages
      const rates: number[][] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const r = [0, 0, 0];
        for (let k = 0; k < 3; k++) {
          const side = (round + k) % 3;
          r[side] = await once(sides[side]!, c);
        }
        rates.push(r);
        console.log(
          `  c=${c} round ${round + 1}/${ROUNDS}: capto ${r[0]!.toFixed(0)}, bare ${r[1]!.toFixed(0)}, embedded ${r[2]!.toFixed(0)} req/s`,
        );
      }
      const vsBare = ratioRange(rates.map((r) => [r[0]!, r[1]!]));
      const vsServer = ratioRange(rates.map((r) => [r[2]!, r[0]!]));
      figures.push(
        figure({
          name: `authenticated list route vs bare Fastify + pg, c=${c} (throughput)`,
          value: vsBare.median[0],
          baseline: vsBare.median[1],
          unit: 'req/s',
          goal: c >= 50 ? '>= 0.75' : '>= 0.65',
          engine: 'server',
          notes: `${vsBare.notes}; ${world}`,
        }),
        figure({
          name: `embedded engine vs server PostgreSQL, same route, c=${c} (throughput)`,
          value: vsServer.median[0],
          baseline: vsServer.median[1],
          unit: 'req/s',
          goal: '>= 0.30',
          engine: 'embedded',
          notes: `${vsServer.notes}; ${world}`,
        }),
      );
    }
    return figures;
  } finally {
    for (const close of closers.reverse()) await close().catch(() => undefined);
  }
}
