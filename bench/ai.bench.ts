// AI assistance (docs/ARCHITECTURE.md §23), on server PostgreSQL:
// - context assembly p99 for a 200-message thread: the caller's whole request
//   transaction (set-up, membership check, the context queries under RLS, the prompt)
//   — goal ≤ 20 ms, model excluded; baseline: the same transaction running `SELECT 1`;
// - first streamed token: POST …/suggest-reply with Accept: text/event-stream through
//   Capto vs the same streamed completion straight from the OpenAI fake through the
//   SDK; the figure is the median overhead in ms (goal ≤ 50 ms).
// Sizes: BENCH_AI_ITERATIONS (default 300), BENCH_AI_STREAMS (default 40).
import { randomUUID } from 'node:crypto';
import https from 'node:https';
import OpenAI from 'openai';
import pg from 'pg';
import { conversationContext } from '../src/ai/context.ts';
import { suggestReplyPrompt } from '../src/ai/prompt.ts';
import { asOwner } from '../src/db/engine.ts';
import { migrate } from '../src/db/migrator.ts';
import { createDatabase } from '../src/db/request.ts';
import { openServerEngine } from '../src/db/server-engine.ts';
import { startOpenAiFake } from '../test/fakes/openai.ts';
import { signUp } from '../test/support/auth.ts';
import { request } from '../test/support/http.ts';
import { startTestServer } from '../test/support/server.ts';
import { figure, percentile, type Figure } from './lib.ts';

const ADMIN_URL =
  process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const ITERATIONS = Number(process.env.BENCH_AI_ITERATIONS ?? 300);
const STREAMS = Number(process.env.BENCH_AI_STREAMS ?? 40);
const MESSAGES = 200;

/** A business with `contacts` contacts, each with a `messages`-long thread, notes and a deal. */
async function seedBusiness(
  c: { query: (sql: string, params?: unknown[]) => Promise<unknown> },
  ownerId: string,
  contacts: number,
  messages: number,
): Promise<{ businessId: string; conversationIds: string[] }> {
  const businessId = randomUUID();
  await c.query('INSERT INTO app.businesses (id, name, created_by, ai_about) VALUES ($1, $2, $3, $4)', [
    businessId,
    `Bench ${businessId.slice(0, 6)}`,
    ownerId,
    'We are a family lender. '.repeat(40),
  ]);
  await c.query(`INSERT INTO app.memberships (business_id, user_id, role) VALUES ($1, $2, 'owner')`, [
    businessId,
    ownerId,
  ]);
  const conversationIds: string[] = [];
  for (let k = 0; k < contacts; k++) {
    const contactId = randomUUID();
    const conversationId = randomUUID();
    conversationIds.push(conversationId);
    await c.query(
      `INSERT INTO app.contacts (id, business_id, first_name, last_name, phone, email) VALUES ($1, $2, 'Dana', $3, $4, $5)`,
      [
        contactId,
        businessId,
        `Borrower${k}`,
        `+1415555${String(1000 + k).slice(-4)}`,
        `d${k}.${businessId.slice(0, 6)}@bench.test`,
      ],
    );
    await c.query(
      `INSERT INTO app.conversations (id, business_id, contact_id, our_number) VALUES ($1, $2, $3, '+14155550100')`,
      [conversationId, businessId, contactId],
    );
    await c.query(
      `INSERT INTO app.messages (business_id, conversation_id, direction, body, status, created_at)
       SELECT $1, $2, CASE WHEN g % 2 = 0 THEN 'inbound' ELSE 'outbound' END,
              'Message ' || g || ': can we talk about locking the rate and the closing date next week?',
              CASE WHEN g % 2 = 0 THEN 'received' ELSE 'delivered' END, now() - (g || ' minutes')::interval
         FROM generate_series(1, $3) g`,
      [businessId, conversationId, messages],
    );
    await c.query(
      `INSERT INTO app.notes (business_id, contact_id, body) SELECT $1, $2, 'Note ' || g || ': prefers evening calls' FROM generate_series(1, 15) g`,
      [businessId, contactId],
    );
    await c.query(
      `INSERT INTO app.deals (business_id, contact_id, title, amount_cents) VALUES ($1, $2, 'Purchase', 45000000)`,
      [businessId, contactId],
    );
  }
  return { businessId, conversationIds };
}

async function contextAssembly(): Promise<Figure> {
  const name = `capto_bench_ai_${randomUUID().slice(0, 6)}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const engine = await openServerEngine({ databaseUrl: url.toString(), poolSize: 2 });
  try {
    await engine.withMaintenanceClient((c) => migrate(c));
    const ownerId = randomUUID();
    const target = await asOwner(engine, async (c) => {
      await c.query('INSERT INTO auth.users (id, email) VALUES ($1, $2)', [
        ownerId,
        `owner-${ownerId.slice(0, 6)}@bench.test`,
      ]);
      // Background: other businesses and contacts with long threads, so the queries must use their indexes.
      for (let b = 0; b < 20; b++) await seedBusiness(c, ownerId, 10, MESSAGES);
      return seedBusiness(c, ownerId, 1, MESSAGES);
    });
    await asOwner(engine, (c) => c.query('ANALYZE'));
    const db = createDatabase(engine.pool);
    const claims = { sub: ownerId };
    const convId = target.conversationIds[0]!;
    const assemble = () =>
      db.asUser(
        claims,
        async (tx) => {
          const { context } = await conversationContext(tx, target.businessId, ownerId, convId);
          if (context.messages.length !== 40)
            throw new Error(`expected the 40 newest messages, got ${context.messages.length}`);
          return suggestReplyPrompt(context);
        },
        { requireLiveSession: false, memberOf: target.businessId },
      );
    const bare = () =>
      db.asUser(claims, (tx) => tx.query('SELECT 1'), { requireLiveSession: false, memberOf: target.businessId });
    for (let i = 0; i < 30; i++) await assemble(); // warm plans and caches
    const a: number[] = [];
    const b: number[] = [];
    for (let i = 0; i < ITERATIONS; i++) {
      let t = performance.now();
      await assemble();
      a.push(performance.now() - t);
      t = performance.now();
      await bare();
      b.push(performance.now() - t);
    }
    a.sort((x, y) => x - y);
    b.sort((x, y) => x - y);
    return figure({
      name: 'AI context assembly p99, 200-message thread (request tx)',
      value: percentile(a, 99),
      unit: 'ms',
      baseline: percentile(b, 99),
      goal: '<= 20 ms',
      engine: 'server',
      notes: `p50 ${percentile(a, 50).toFixed(2)} ms; ${ITERATIONS} runs; 201 contacts × ${MESSAGES} messages in 21 businesses; baseline = same tx with SELECT 1`,
    });
  } finally {
    await engine.close();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

/** ms until the first `delta` event of a streamed suggestion through Capto. */
function firstDelta(url: string, token: string): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream', 'content-length': '0' },
        rejectUnauthorized: false,
      },
      (res) => {
        if (res.statusCode !== 200) return reject(new Error(`suggest-reply → ${res.statusCode}`));
        let buf = '';
        let done = false;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buf += chunk;
          if (!done && buf.includes('event: delta')) {
            done = true;
            resolve(performance.now() - t0);
          }
        });
        res.on('end', () => (done ? undefined : reject(new Error('no delta'))));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function firstTokenOverhead(): Promise<Figure> {
  const ai = await startOpenAiFake();
  const key = ai.addKey();
  const previous = process.env.TEST_DATABASE_URL;
  process.env.TEST_DATABASE_URL = ADMIN_URL; // the server on server PostgreSQL too
  const server = await startTestServer({
    OPENAI_BASE_URL: ai.url,
    CAPTO_AI_RATE_PER_MINUTE: '10000',
    CAPTO_SCAN_ON_START: 'off',
    CAPTO_JOBS: 'off',
  });
  try {
    const owner = await signUp(server, { verified: true });
    const seeded = await asOwner(server.engine, (c) => seedBusiness(c, owner.userId, 1, MESSAGES));
    const put = await request(`${server.url}/api/businesses/${seeded.businessId}/integrations/ai`, {
      method: 'PUT',
      token: owner.accessToken,
      body: { provider: 'openai', api_key: key, model: 'gpt-4o-mini' },
    });
    if (put.status !== 200) throw new Error(`provider PUT → ${put.status}`);
    const url = `${server.url}/api/businesses/${seeded.businessId}/conversations/${seeded.conversationIds[0]}/suggest-reply`;
    const sdk = new OpenAI({ apiKey: key, baseURL: ai.url, maxRetries: 0 });
    const direct = async () => {
      const t0 = performance.now();
      const stream = await sdk.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'x'.repeat(6000) }],
        stream: true,
      });
      let first = 0;
      for await (const chunk of stream) {
        if (!first && chunk.choices[0]?.delta.content) first = performance.now() - t0;
      }
      return first;
    };
    for (let i = 0; i < 5; i++) {
      await direct();
      await firstDelta(url, owner.accessToken);
    }
    const viaCapto: number[] = [];
    const straight: number[] = [];
    for (let i = 0; i < STREAMS; i++) {
      straight.push(await direct());
      viaCapto.push(await firstDelta(url, owner.accessToken));
    }
    viaCapto.sort((a, b) => a - b);
    straight.sort((a, b) => a - b);
    const c50 = percentile(viaCapto, 50);
    const d50 = percentile(straight, 50);
    return figure({
      name: 'AI first streamed token overhead, Capto SSE vs fake direct',
      value: c50 - d50,
      unit: 'ms',
      baseline: d50,
      goal: '<= 50 ms',
      engine: 'server',
      notes: `median first delta ${c50.toFixed(1)} ms via Capto vs ${d50.toFixed(1)} ms direct; p90 ${percentile(viaCapto, 90).toFixed(1)} vs ${percentile(straight, 90).toFixed(1)} ms; ${STREAMS} pairs; includes auth, RLS context, admission + key decryption, HTTPS`,
    });
  } finally {
    await server.stop();
    await ai.close();
    if (previous === undefined) delete process.env.TEST_DATABASE_URL;
    else process.env.TEST_DATABASE_URL = previous;
  }
}

export default async function run(): Promise<Figure[]> {
  return [await contextAssembly(), await firstTokenOverhead()];
}
