// Two `capto start` processes' worth of app (two nodes on different
// ports, each with its own pool) sharing one PostgreSQL and one Redis behave as one
// system. Server engine only: an embedded data dir serves exactly one process.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/index.ts';
import { startCapto, type RunningCapto } from '../src/main.ts';
import { demoPurgeQueue } from '../src/jobs/demo-purge.ts';
import { sharedFakeHibp } from './fakes/hibp.ts';
import { randomSid, startTwilioFake, type TwilioFake } from './fakes/twilio.ts';
import { freshEmail, signIn, signUp } from './support/auth.ts';
import { asOwner } from '../src/db/engine.ts';
import { newBusiness } from './support/factories.ts';
import { createBlankDatabase, ENGINE } from './support/engine.ts';
import { request } from './support/http.ts';
import { freePort, type TestServer } from './support/server.ts';

const REDIS_URL = 'redis://127.0.0.1:6379';
const SKIP = ENGINE !== 'server';
if (SKIP)
  console.info(
    'ops-nodes: skipped on the embedded engine — several nodes need a shared PostgreSQL server (run with CAPTO_TEST_ENGINES=server)',
  );

let a: RunningCapto;
let b: RunningCapto;
let adminUrl: string;
let dropDb: () => Promise<void>;
let fake: TwilioFake;
const scratch = mkdtempSync(path.join(os.tmpdir(), 'capto-nodes-'));

async function node(env: Record<string, string>): Promise<RunningCapto> {
  const port = await freePort();
  return startCapto(
    loadConfig({
      CAPTO_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'silent',
      CAPTO_DB_POOL_SIZE: '4',
      HIBP_RANGE_URL: (await sharedFakeHibp()).url,
      CAPTO_AUTH_RATE_IP: '100000',
      CAPTO_AUTH_RATE_ACCOUNT: '3',
      CAPTO_DATA_DIR: path.join(scratch, String(port)),
      CAPTO_JOBS_POLL_SECONDS: '0.5',
      REDIS_URL,
      ...env,
    }),
  );
}

const PUBLIC_URL = 'https://capto.example.test';
/** Behind a load balancer `url` is the public one; tests talk to each node directly. */
const direct = (n: RunningCapto): RunningCapto => Object.assign(n, { url: `https://127.0.0.1:${n.port}` });
const asServer = (n: RunningCapto) => n as TestServer;

beforeAll(async () => {
  if (SKIP) return;
  fake = await startTwilioFake();
  const blank = await createBlankDatabase();
  adminUrl = blank.adminUrl!;
  dropDb = blank.drop;
  // One master key for the cluster: JWT signing keys are sealed with it in the database.
  // and one public URL (the load balancer's): it is the tokens' issuer on every node.
  const shared = {
    ...blank.env,
    CAPTO_MASTER_KEY: randomBytes(32).toString('base64'),
    CAPTO_PUBLIC_URL: PUBLIC_URL,
    TWILIO_API_BASE: fake.url,
  };
  a = direct(await node(shared));
  b = direct(await node(shared)); // migrations already applied by a: b finds them up to date
}, 240_000);

afterAll(async () => {
  await a?.close();
  await b?.close();
  await dropDb?.();
  await fake?.close();
  rmSync(scratch, { recursive: true, force: true });
});

describe.skipIf(SKIP)('two nodes, one PostgreSQL + Redis', () => {
  it('a token issued by one node is accepted by the other (signing keys shared in the database)', async () => {
    const user = await signUp(asServer(a));
    const r = await request(`${b.url}/auth/sessions`, { token: user.accessToken });
    expect(r.status).toBe(200);
    expect(a.port).not.toBe(b.port);
  });

  it('a session signed out on one node is refused at once on the other', async () => {
    const user = await signUp(asServer(a));
    const other = await signIn(asServer(a), user.email, user.password);
    expect((await request(`${a.url}/auth/sessions`, { token: user.accessToken })).status).toBe(200);
    const out = await request(`${b.url}/auth/signout`, { method: 'POST', token: user.accessToken });
    expect(out.status).toBe(204);
    const after = await request(`${a.url}/auth/sessions`, { token: user.accessToken });
    expect(after.status).toBe(401);
    // Positive case: the user's other session is untouched on both nodes.
    expect((await request(`${a.url}/auth/sessions`, { token: other.accessToken })).status).toBe(200);
    expect((await request(`${b.url}/auth/sessions`, { token: other.accessToken })).status).toBe(200);
  });

  it('shares the per-account sign-in limit through Redis', async () => {
    const user = await signUp(asServer(a));
    const statuses: number[] = [];
    for (const n of [a, b, a, b]) {
      statuses.push(
        (await request(`${n.url}/auth/signin`, { body: { email: user.email, password: 'not-the-password-1' } })).status,
      );
    }
    // Limit 3 per account: the fourth attempt is refused although each node saw only two.
    expect(statuses).toEqual([401, 401, 401, 429]);
    // Another account is not affected on either node.
    const fresh = await request(`${b.url}/auth/signin`, {
      body: { email: freshEmail(), password: 'not-the-password-1' },
    });
    expect(fresh.status).toBe(401);
  });

  it('a Twilio webhook delivered to both nodes (a retry through the balancer) is stored once', async () => {
    const owner = await signUp(asServer(a), { verified: true });
    const bid = (await newBusiness(a.engine, owner.userId)).id;
    const account = fake.addAccount();
    const added = await request(`${a.url}/api/businesses/${bid}/integrations/twilio`, {
      token: owner.accessToken,
      body: {
        friendly_name: 'Main line',
        account_sid: account.sid,
        auth_token: account.authToken,
        phone_number: '+15005550006',
      },
    });
    expect(added.status).toBe(201);
    const publicHook = (added.json as { webhooks: { sms: string } }).webhooks.sms;
    expect(publicHook.startsWith(PUBLIC_URL)).toBe(true); // Twilio signs the public URL, whichever node answers
    const sid = randomSid('SM');
    const params = {
      AccountSid: account.sid,
      Body: 'Is the rate locked?',
      From: '+15557654321',
      MessageSid: sid,
      SmsMessageSid: sid,
      To: '+15005550006',
    };
    const path = new URL(publicHook).pathname;
    const results = await Promise.all(
      [a, b, a].map((n) => fake.postSigned(`${n.url}${path}`, account.authToken, params, { signUrl: publicHook })),
    );
    expect(results.map((r) => r.status)).toEqual([200, 200, 200]);
    const stored = await asOwner(a.engine, (c) =>
      c.query<{ n: string }>('SELECT count(*)::text AS n FROM app.messages WHERE twilio_sid = $1', [sid]),
    );
    expect(stored.rows[0]!.n).toBe('1');
  });

  it('a periodic job sent by both nodes at once is queued once and run by one node (exclusive queue)', async () => {
    const ids = await Promise.all([a.jobs.send(demoPurgeQueue, {}), b.jobs.send(demoPurgeQueue, {})]);
    const sent = ids.filter((id): id is string => typeof id === 'string');
    expect(sent).toHaveLength(1);
    const state = async () =>
      (
        await asOwner(a.engine, (c) =>
          c.query<{ state: string }>(`SELECT state::text FROM pgboss.job WHERE name = 'demo.purge' AND id = $1`, [
            sent[0],
          ]),
        )
      ).rows[0]?.state;
    const deadline = Date.now() + 20_000;
    while ((await state()) !== 'completed' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(await state()).toBe('completed');
  });

  it('/readyz says database_unavailable while the database refuses connections, and recovers', async () => {
    const admin = new pg.Client({ connectionString: adminUrl.replace(/\/[^/]+$/, '/postgres') });
    await admin.connect();
    const db = new URL(adminUrl).pathname.slice(1);
    try {
      await admin.query(`ALTER DATABASE ${pg.escapeIdentifier(db)} ALLOW_CONNECTIONS false`);
      await admin.query(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
        [db],
      );
      const down = await request(`${b.url}/readyz`);
      expect(down.status).toBe(503);
      expect(down.json).toMatchObject({ error: { code: 'database_unavailable' } });
      expect((await request(`${b.url}/healthz`)).status).toBe(200); // liveness is not readiness
    } finally {
      await admin.query(`ALTER DATABASE ${pg.escapeIdentifier(db)} ALLOW_CONNECTIONS true`);
      await admin.end();
    }
    expect((await request(`${b.url}/readyz`)).status).toBe(200);
  });

  it('SIGTERM-style close finishes an in-flight request, then refuses new connections', async () => {
    const c = direct(
      await node({ DATABASE_URL: adminUrl, CAPTO_MASTER_KEY: a.config.masterKey!, CAPTO_PUBLIC_URL: PUBLIC_URL }),
    );
    const user = await signUp(asServer(c));
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    // Hold the sessions table so the request is provably in flight when close() starts.
    await admin.query('BEGIN; LOCK TABLE auth.sessions IN ACCESS EXCLUSIVE MODE');
    const inFlight = request(`${c.url}/auth/sessions`, { token: user.accessToken });
    await new Promise((r) => setTimeout(r, 300));
    const closing = c.close();
    await new Promise((r) => setTimeout(r, 300));
    await expect(request(`${c.url}/healthz`)).rejects.toThrow();
    await admin.query('COMMIT');
    await admin.end();
    expect((await inFlight).status).toBe(200);
    await closing;
  }, 120_000);

  it('a real `capto start` process given SIGTERM finishes its in-flight request and exits 0', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, ['bin/capto.js', 'start'], {
      env: {
        PATH: process.env.PATH,
        CAPTO_ENV: 'test',
        HOST: '127.0.0.1',
        PORT: String(port),
        LOG_LEVEL: 'silent',
        DATABASE_URL: adminUrl,
        CAPTO_MASTER_KEY: a.config.masterKey!,
        CAPTO_PUBLIC_URL: PUBLIC_URL,
        CAPTO_DATA_DIR: path.join(scratch, 'proc'),
        HIBP_RANGE_URL: (await sharedFakeHibp()).url,
        CAPTO_SCAN_ON_START: 'off',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await new Promise<void>((resolve, reject) => {
        let out = '';
        child.stdout!.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('Capto is running')) resolve();
        });
        child.once('exit', (code) => reject(new Error(`capto start exited early (${code})`)));
      });
      const url = `https://127.0.0.1:${port}`;
      const user = await signUp({ url } as TestServer);
      const admin = new pg.Client({ connectionString: adminUrl });
      await admin.connect();
      await admin.query('BEGIN; LOCK TABLE auth.sessions IN ACCESS EXCLUSIVE MODE');
      const inFlight = request(`${url}/auth/sessions`, { token: user.accessToken });
      await new Promise((r) => setTimeout(r, 500));
      child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 500));
      await admin.query('COMMIT');
      await admin.end();
      expect((await inFlight).status).toBe(200);
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 240_000);
});
