// The outbox (docs/ARCHITECTURE.md §24) on a real Capto server, per engine
// (BENCH_OUTBOX_ENGINES, default "server,embedded"), per-number cap off:
// 1. throughput — BENCH_OUTBOX_MESSAGES (1000) SMS queued with their outbox rows, as that
//    many requests leave them, then nudged; messages/s from the nudge to the Twilio fake's
//    2xx for the last one (claim, re-read as capto_service, vault, Twilio call, record).
//    Baseline: the Twilio client alone sending as many messages to the same fake with the
//    same concurrency (what the wire and the fake cost without Capto).
// 2. enqueue latency — p99 of POST …/conversations/:id/messages over HTTPS (TLS, JWT, live
//    session, RLS checks, the message and its outbox row in one transaction, the job nudge
//    after the commit; 202 `queued`), BENCH_OUTBOX_REQUESTS (300) requests one at a time
//    while delivery runs. Baseline: p99 of POST …/tasks (a one-row write in the member's
//    transaction, 201) on the same server, each interleaved with a send so drift hits both.
import { randomBytes } from 'node:crypto';
import https from 'node:https';
import { asOwner } from '../src/db/engine.ts';
import { createTwilioClient } from '../src/integrations/twilio/client.ts';
import { addTwilioConfig } from '../src/integrations/twilio/configs.ts';
import { outboxDeliverQueue } from '../src/jobs/outbox-deliver.ts';
import { parseMasterKey } from '../src/vault/master-key.ts';
import { createVault } from '../src/vault/secrets.ts';
import { startTwilioFake, type TwilioFake } from '../test/fakes/twilio.ts';
import { signUp } from '../test/support/auth.ts';
import { request } from '../test/support/http.ts';
import { startTestServer } from '../test/support/server.ts';
import { queueMessages, type SmsWorld } from '../test/support/sms-outbox.ts';
import { figure, percentile, ratioRange, type Figure } from './lib.ts';

const ADMIN_URL =
  process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const MESSAGES = Number(process.env.BENCH_OUTBOX_MESSAGES ?? 1000);
const REQUESTS = Number(process.env.BENCH_OUTBOX_REQUESTS ?? 300);
const CONCURRENCY = Number(process.env.BENCH_OUTBOX_CONCURRENCY ?? 8);
const ENGINES = (process.env.BENCH_OUTBOX_ENGINES ?? 'server,embedded').split(',') as ('server' | 'embedded')[];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const agent = new https.Agent({ keepAlive: true, rejectUnauthorized: false, maxSockets: 4 });

/** One HTTPS POST with a JSON body; resolves with the elapsed milliseconds (throws on a non-2xx). */
function timedPost(url: string, token: string, body: unknown): Promise<number> {
  const data = JSON.stringify(body);
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        method: 'POST',
        agent,
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(data),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => {
          if ((res.statusCode ?? 0) >= 300) reject(new Error(`POST ${url} → ${res.statusCode}`));
          else resolve(Number(process.hrtime.bigint() - started) / 1e6);
        });
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

async function waitFor(fake: TwilioFake, from: string, count: number, timeoutMs: number): Promise<Date> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const mine = fake.messages.filter((m) => m.from === from);
    if (mine.length >= count) return mine[count - 1]!.createdAt;
    if (Date.now() > deadline) throw new Error(`bench: ${mine.length} of ${count} messages reached the fake`);
    await sleep(20);
  }
}

async function measure(engine: 'server' | 'embedded'): Promise<Figure[]> {
  if (engine === 'server') process.env.TEST_DATABASE_URL = ADMIN_URL;
  else delete process.env.TEST_DATABASE_URL;
  const masterKey = randomBytes(32).toString('base64');
  const fake = await startTwilioFake();
  const server = await startTestServer({
    CAPTO_MASTER_KEY: masterKey,
    CAPTO_DB_POOL_SIZE: '10',
    CAPTO_SCAN_ON_START: 'off',
    CAPTO_OUTBOX_CAP: 'off',
    CAPTO_JOBS_CONCURRENCY: String(CONCURRENCY),
    TWILIO_API_BASE: fake.url,
  });
  try {
    const user = await signUp(server);
    const created = await request<{ id?: string; business?: { id: string } }>(`${server.url}/api/businesses`, {
      body: { name: 'Bench Mortgage' },
      token: user.accessToken,
    });
    const businessId = created.json.id ?? created.json.business?.id;
    if (!businessId) throw new Error(`could not create a business: ${created.status} ${created.text}`);
    const vault = createVault(parseMasterKey(masterKey));
    const account = fake.addAccount();
    const number = '+15550100777';
    const cfg = await addTwilioConfig(
      { db: server.db, vault, twilio: createTwilioClient(fake.url), publicUrl: server.config.publicUrl },
      { userId: user.userId },
      businessId,
      { friendly_name: 'Bench line', account_sid: account.sid, auth_token: account.authToken, phone_number: number },
    );
    const world: SmsWorld = { businessId, ownerId: user.userId, configId: cfg.id, number, vault };

    // 1. Throughput: queued rows, nudged at once, until the fake has accepted the last one.
    const ids = await queueMessages(server.engine, world, MESSAGES);
    const t0 = new Date();
    await server.jobs.sendMany(
      outboxDeliverQueue,
      ids.map((id) => ({ payload: { business_id: businessId, outbox_id: id }, id })),
    );
    const last = await waitFor(fake, number, MESSAGES, 600_000);
    const outboxRate = MESSAGES / ((last.getTime() - t0.getTime()) / 1000);

    // Baseline: the Twilio client alone, same fake, same concurrency.
    const raw = fake.addAccount();
    const rawFrom = '+15550100888';
    const twilio = createTwilioClient(fake.url);
    const r0 = process.hrtime.bigint();
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < MESSAGES) {
          const i = next++;
          await twilio.sendMessage({
            accountSid: raw.sid,
            authToken: raw.authToken,
            from: rawFrom,
            to: `+1666777${String(i).padStart(4, '0')}`,
            body: `msg ${i}`,
            statusCallback: `${server.config.publicUrl}/status?m=${i}`,
            timeoutMs: 10_000,
          });
        }
      }),
    );
    const rawRate = MESSAGES / (Number(process.hrtime.bigint() - r0) / 1e9);

    // 2. Enqueue latency inside a request, interleaved with the baseline write.
    const conversation = await asOwner(server.engine, async (c) => {
      const contact = await c.query<{ id: string }>(
        `INSERT INTO app.contacts (business_id, first_name, phone) VALUES ($1, 'Bench', '+16667770001') RETURNING id`,
        [businessId],
      );
      const conv = await c.query<{ id: string }>(
        `INSERT INTO app.conversations (business_id, contact_id, our_number, twilio_config_id) VALUES ($1, $2, $3, $4) RETURNING id`,
        [businessId, contact.rows[0]!.id, number, cfg.id],
      );
      return conv.rows[0]!.id;
    });
    const sendUrl = `${server.url}/api/businesses/${businessId}/conversations/${conversation}/messages`;
    const taskUrl = `${server.url}/api/businesses/${businessId}/tasks`;
    const sends: number[] = [];
    const tasks: number[] = [];
    for (let i = -20; i < REQUESTS; i++) {
      const s = await timedPost(sendUrl, user.accessToken, { body: `Rate update ${i}` });
      const t = await timedPost(taskUrl, user.accessToken, { title: `Call back ${i}` });
      if (i < 0) continue; // the first 20 of each warm up
      sends.push(s);
      tasks.push(t);
    }
    // Three consecutive thirds of the interleaved requests, a p99 ratio each: the spread.
    const third = Math.floor(REQUESTS / 3);
    const p99Of = (xs: number[]) =>
      percentile(
        xs.sort((a, b) => a - b),
        99,
      );
    const thirds = ratioRange(
      [0, 1, 2].map((k): [number, number] => [
        p99Of(sends.slice(k * third, (k + 1) * third)),
        p99Of(tasks.slice(k * third, (k + 1) * third)),
      ]),
    );
    sends.sort((a, b) => a - b);
    tasks.sort((a, b) => a - b);
    await waitFor(fake, number, MESSAGES + REQUESTS + 20, 600_000);

    const notes = `${MESSAGES} messages, CAPTO_JOBS_CONCURRENCY=${CONCURRENCY}, poll 0.5 s, cap off`;
    return [
      figure({
        name: 'outbox messages/s, enqueue → Twilio fake 2xx (cap off)',
        value: outboxRate,
        baseline: rawRate,
        unit: 'messages/s',
        goal: engine === 'server' ? '>= 100 messages/s' : '>= 20 messages/s',
        engine,
        notes: `${notes}; baseline: the Twilio client alone`,
      }),
      figure({
        name: 'outbox enqueue p99 in POST …/messages vs POST …/tasks',
        value: percentile(sends, 99),
        baseline: percentile(tasks, 99),
        unit: 'ms',
        goal: '<= 1.50',
        engine,
        notes: `${REQUESTS} requests each, one at a time, while delivery runs; p50 ${percentile(sends, 50).toFixed(1)} vs ${percentile(tasks, 50).toFixed(1)} ms; thirds' p99 ${thirds.notes}`,
      }),
    ];
  } finally {
    await server.stop().catch(() => undefined);
    await fake.close().catch(() => undefined);
  }
}

export default async function run(): Promise<Figure[]> {
  const figures: Figure[] = [];
  for (const engine of ENGINES) figures.push(...(await measure(engine)));
  agent.destroy();
  return figures;
}
