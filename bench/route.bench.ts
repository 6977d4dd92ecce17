// The full authenticated route against bare Fastify + pg:
// - GET /api/businesses/:bid/contacts?limit=50 through Capto (TLS, JWT verification,
//   live-session check, scoped transaction, RLS, serialisation) vs a bare Fastify
//   HTTPS route running the same listing SQL on a plain pg pool — goal ≥ 0.65;
// - the same Capto route on the embedded engine vs server PostgreSQL — goal ≥ 0.30.
// Throughput with autocannon, same run, loopback only: after a warm-up round each, the
// median of BENCH_ROUNDS (5) back-to-back pairs (server route vs bare); the embedded
// route is the best of 3 rounds against the server route's reported figure.
import https from 'node:https';
import autocannon from 'autocannon';
import Fastify from 'fastify';
import pg from 'pg';
import { generate } from 'selfsigned';
import { listContacts } from '../src/crm/contact-list.ts';
import { asOwner } from '../src/db/engine.ts';
import { startTestServer, type TestServer } from '../test/support/server.ts';
import { signUp } from '../test/support/auth.ts';
import { request } from '../test/support/http.ts';
import { figure, type Figure } from './lib.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const ADMIN_URL =
  process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

async function once(url: string, headers: Record<string, string>): Promise<number> {
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: SECONDS,
    headers,
    tlsOptions: { rejectUnauthorized: false },
  } as autocannon.Options);
  if (result.non2xx > 0 || result.errors > 0)
    throw new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return result.requests.average;
}

async function throughput(url: string, headers: Record<string, string>): Promise<number> {
  let best = 0;
  for (let round = 0; round < 3; round++) best = Math.max(best, await once(url, headers));
  return best;
}

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

/**
 * Rounds of A and B back to back (order alternating, ABBA…): the ratio of each round
 * compares two runs seconds apart, so a shared machine's drift hits both alike. The
 * round with the median ratio is reported (its absolute numbers beside it).
 */
async function compare(
  a: { url: string; headers: Record<string, string> },
  b: { url: string; headers: Record<string, string> },
): Promise<[number, number]> {
  const pairs: [number, number][] = [];
  for (let round = 0; round < ROUNDS; round++) {
    if (round % 2 === 0) {
      const x = await once(a.url, a.headers);
      pairs.push([x, await once(b.url, b.headers)]);
    } else {
      const y = await once(b.url, b.headers);
      pairs.push([await once(a.url, a.headers), y]);
    }
  }
  pairs.sort((p, q) => p[0] / p[1] - q[0] / q[1]);
  return pairs[Math.floor(pairs.length / 2)]!;
}

async function capto(
  engine: 'server' | 'embedded',
): Promise<{ server: TestServer; url: string; token: string; businessId: string }> {
  if (engine === 'server') process.env.TEST_DATABASE_URL = ADMIN_URL;
  else delete process.env.TEST_DATABASE_URL;
  const server = await startTestServer({ CAPTO_DB_POOL_SIZE: '10', CAPTO_SCAN_ON_START: 'off' });
  const user = await signUp(server);
  const created = await request<{ id?: string; business?: { id: string } }>(`${server.url}/api/businesses`, {
    body: { name: 'Bench Mortgage' },
    token: user.accessToken,
  });
  const businessId = created.json.id ?? created.json.business?.id;
  if (!businessId) throw new Error(`could not create a business: ${created.status} ${created.text}`);
  await asOwner(server.engine, (c) =>
    c.query(
      `INSERT INTO app.contacts (business_id, first_name, last_name, email)
       SELECT $1, 'First' || g, 'Last' || g, 'c' || g || '@bench.test' FROM generate_series(1, 500) g`,
      [businessId],
    ),
  );
  return {
    server,
    url: `${server.url}/api/businesses/${businessId}/contacts?limit=50`,
    token: user.accessToken,
    businessId,
  };
}

async function bareFastify(databaseUrl: string, businessId: string): Promise<{ url: string; close(): Promise<void> }> {
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], { keySize: 2048, algorithm: 'sha256' });
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 10 });
  pool.on('error', () => undefined); // the test database is dropped WITH (FORCE) at the end
  const app = Fastify({
    https: { key: pems.private, cert: pems.cert, minVersion: 'TLSv1.2' },
  } as never) as unknown as ReturnType<typeof Fastify>;
  app.get('/contacts', async () => {
    const client = await pool.connect();
    try {
      return await listContacts(
        {
          query: async (t, p) => {
            const r = await client.query(t, p as unknown[]);
            return { rows: r.rows, rowCount: r.rowCount ?? 0 };
          },
        },
        businessId,
        { limit: 50 },
      );
    } finally {
      client.release();
    }
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as { port: number };
  return {
    url: `https://127.0.0.1:${port}/contacts`,
    async close() {
      await app.close();
      await pool.end();
    },
  };
}

export default async function run(): Promise<Figure[]> {
  https.globalAgent.options.rejectUnauthorized = false;
  const server = await capto('server');
  let bare: Awaited<ReturnType<typeof bareFastify>> | undefined;
  try {
    const dbUrl = (await server.server.engine.pool.query<{ db: string }>('SELECT current_database() AS db')).rows[0]!
      .db;
    const ownerUrl = new URL(ADMIN_URL);
    ownerUrl.pathname = `/${dbUrl}`;
    bare = await bareFastify(ownerUrl.toString(), server.businessId);
    const auth = { authorization: `Bearer ${server.token}` };
    await once(server.url, auth); // warm up both servers' code paths and connections
    await once(bare.url, {});
    const [captoServer, bareRate] = await compare({ url: server.url, headers: auth }, { url: bare.url, headers: {} });
    await bare.close();
    bare = undefined;
    await server.server.stop();

    const embedded = await capto('embedded');
    let embeddedRate = 0;
    try {
      embeddedRate = await throughput(embedded.url, { authorization: `Bearer ${embedded.token}` });
    } finally {
      await embedded.server.stop();
    }
    return [
      figure({
        name: 'authenticated list route vs bare Fastify + pg (throughput)',
        value: captoServer,
        baseline: bareRate,
        unit: 'req/s',
        goal: '>= 0.65',
        engine: 'server',
      }),
      figure({
        name: 'embedded engine vs server PostgreSQL, same route (throughput)',
        value: embeddedRate,
        baseline: captoServer,
        unit: 'req/s',
        goal: '>= 0.30',
        engine: 'embedded',
      }),
    ];
  } finally {
    await bare?.close().catch(() => undefined);
    await server.server.stop().catch(() => undefined);
  }
}
