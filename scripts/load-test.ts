// `npm run test:load`: LOAD_CLIENTS (200) concurrent clients for
// LOAD_SECONDS (60) against a Capto server process on loopback, mixing sign-in, refresh,
// list, search, create contact and send SMS (to the local Twilio fake). Reports p50/p99
// per operation, errors (goal 0) and the server's RSS before/after (goal ≤ +20%).
// Bounded in time and count; server PostgreSQL when it answers, else the embedded engine.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startFakeHibp } from '../test/fakes/hibp.ts';
import { startTwilioFake } from '../test/fakes/twilio.ts';
import { freePort } from '../test/support/server.ts';

const CLIENTS = Number(process.env.LOAD_CLIENTS ?? 200);
const SECONDS = Number(process.env.LOAD_SECONDS ?? 60);
const USERS = Math.min(20, CLIENTS);
const ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const agent = new https.Agent({ keepAlive: true, rejectUnauthorized: false, maxSockets: CLIENTS + 10 });

interface Res {
  status: number;
  body: any;
  setCookie: string[];
}
function call(
  base: string,
  method: string,
  p: string,
  opts: { token?: string; body?: unknown; cookie?: string } = {},
): Promise<Res> {
  const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  const headers: Record<string, string> = { origin: base };
  if (payload)
    Object.assign(headers, {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(payload)),
    });
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.cookie) headers.cookie = opts.cookie;
  return new Promise((resolve, reject) => {
    const req = https.request(`${base}${p}`, { method, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown;
        try {
          body = text ? JSON.parse(text) : undefined;
        } catch {
          body = text;
        }
        resolve({ status: res.statusCode ?? 0, body, setCookie: res.headers['set-cookie'] ?? [] });
      });
    });
    req.on('error', reject);
    if (payload) req.write(payload);
    req.end();
  });
}
const cookieOf = (r: Res) => r.setCookie.map((c) => /^capto_refresh=([^;]+)/.exec(c)?.[1]).find(Boolean);

async function databaseEnv(): Promise<{ env: Record<string, string>; drop(): Promise<void>; engine: string }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'capto-load-'));
  const admin = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 2000 });
  try {
    await admin.connect();
  } catch {
    return {
      env: { CAPTO_DATA_DIR: dir },
      engine: 'embedded',
      drop: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  const name = `capto_load_${randomBytes(3).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    env: { DATABASE_URL: url.toString(), CAPTO_DATA_DIR: dir },
    engine: 'server',
    async drop() {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
      await admin.end();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const rssOf = (pid: number) =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

const hibp = await startFakeHibp();
const twilio = await startTwilioFake({ autoStatusCallbacks: false });
const db = await databaseEnv();
const port = await freePort();
const base = `https://127.0.0.1:${port}`;
const child = spawn(process.execPath, ['bin/capto.js', 'start'], {
  env: {
    ...process.env,
    ...db.env,
    CAPTO_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: String(port),
    CAPTO_PUBLIC_URL: base,
    LOG_LEVEL: 'warn',
    HIBP_RANGE_URL: hibp.url,
    TWILIO_API_BASE: twilio.url,
    CAPTO_DB_POOL_SIZE: '20',
    CAPTO_AUTH_RATE_IP: '1000000',
    CAPTO_AUTH_RATE_ACCOUNT: '1000000',
  },
  stdio: ['ignore', 'pipe', 'inherit'],
});
let exitCode = 1;
try {
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('Capto is running')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`server exited early (${code})`)));
  });
  console.log(`load test: ${CLIENTS} clients × ${SECONDS} s against ${base} (${db.engine} engine)`);

  // Setup: USERS accounts, each with a business, a Twilio configuration, contacts and a conversation.
  const users: { email: string; password: string; bid: string; conversation: string }[] = [];
  for (let i = 0; i < USERS; i++) {
    const email = `load-${i}-${randomBytes(3).toString('hex')}@example.test`;
    const password = `Load-${randomBytes(9).toString('base64url')}-7`;
    const up = await call(base, 'POST', '/auth/signup', { body: { email, password } });
    const token = up.body.access_token as string;
    const biz = await call(base, 'POST', '/api/businesses', { token, body: { name: `Load ${i}` } });
    const bid = (biz.body.id ?? biz.body.business?.id) as string;
    const account = twilio.addAccount();
    const cfg = await call(base, 'POST', `/api/businesses/${bid}/integrations/twilio`, {
      token,
      body: {
        friendly_name: 'Main',
        account_sid: account.sid,
        auth_token: account.authToken,
        phone_number: `+1202555${String(1000 + i).slice(-4)}`,
      },
    });
    if (cfg.status !== 201) throw new Error(`twilio config: ${cfg.status} ${JSON.stringify(cfg.body)}`);
    const contact = await call(base, 'POST', `/api/businesses/${bid}/contacts`, {
      token,
      body: { first_name: 'Smith', last_name: `Seed${i}`, phone: `+1312555${String(1000 + i).slice(-4)}` },
    });
    const conv = await call(base, 'POST', `/api/businesses/${bid}/conversations`, {
      token,
      body: { contact_id: contact.body.id },
    });
    if (conv.status !== 201) throw new Error(`conversation: ${conv.status} ${JSON.stringify(conv.body)}`);
    users.push({ email, password, bid, conversation: conv.body.id as string });
  }

  const ops = [
    'list',
    'list',
    'list',
    'list',
    'search',
    'search',
    'create',
    'create',
    'sms',
    'refresh',
    'signin',
  ] as const;
  const latencies = new Map<string, number[]>();
  const errors: string[] = [];
  let created = 0;
  const rssIdle = rssOf(child.pid!);
  const deadline = Date.now() + SECONDS * 1000;
  // Memory growth is judged in steady state: the first sample is taken after a warm-up
  // (200 TLS connections, JIT, pool buffers), the second after the load; a leak grows
  // between the two, a warm-up does not.
  let rssBefore = rssIdle;
  const warmup = setTimeout(
    () => {
      rssBefore = rssOf(child.pid!);
    },
    Math.min(10, SECONDS / 4) * 1000,
  );

  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, c) => {
      const u = users[c % USERS]!;
      const first = await call(base, 'POST', '/auth/signin', { body: { email: u.email, password: u.password } });
      let token = first.body.access_token as string;
      let cookie = cookieOf(first);
      let k = c;
      while (Date.now() < deadline) {
        const op = ops[k++ % ops.length]!;
        const t0 = performance.now();
        let r: Res;
        switch (op) {
          case 'list':
            r = await call(base, 'GET', `/api/businesses/${u.bid}/contacts?limit=50`, { token });
            break;
          case 'search':
            r = await call(base, 'GET', `/api/businesses/${u.bid}/contacts?q=smi&limit=20`, { token });
            break;
          case 'create':
            r = await call(base, 'POST', `/api/businesses/${u.bid}/contacts`, {
              token,
              body: {
                first_name: 'Load',
                last_name: `C${c}-${created++}`,
                email: `l${c}-${k}-${randomBytes(3).toString('hex')}@example.test`,
              },
            });
            break;
          case 'sms':
            r = await call(base, 'POST', `/api/businesses/${u.bid}/conversations/${u.conversation}/messages`, {
              token,
              body: { body: `hello ${k}` },
            });
            break;
          case 'refresh':
            r = await call(base, 'POST', '/auth/token', { cookie: `capto_refresh=${cookie}` });
            if (r.status === 200) {
              token = r.body.access_token;
              cookie = cookieOf(r) ?? cookie;
            }
            break;
          case 'signin':
            r = await call(base, 'POST', '/auth/signin', { body: { email: u.email, password: u.password } });
            if (r.status === 200) {
              token = r.body.access_token;
              cookie = cookieOf(r) ?? cookie;
            }
            break;
        }
        const ms = performance.now() - t0;
        (latencies.get(op) ?? latencies.set(op, []).get(op)!).push(ms);
        if (r.status >= 400) errors.push(`${op} → ${r.status} ${JSON.stringify(r.body).slice(0, 120)}`);
      }
    }),
  );
  clearTimeout(warmup);
  await new Promise((r) => setTimeout(r, 2000));
  const rssAfter = rssOf(child.pid!);

  let total = 0;
  const all: number[] = [];
  for (const [op, xs] of latencies) {
    xs.sort((a, b) => a - b);
    total += xs.length;
    all.push(...xs);
    console.log(
      `  ${op.padEnd(8)} ${String(xs.length).padStart(7)} requests  p50 ${xs[Math.floor(xs.length * 0.5)]!.toFixed(1)} ms  p99 ${xs[Math.floor(xs.length * 0.99)]!.toFixed(1)} ms`,
    );
  }
  all.sort((a, b) => a - b);
  const growth = (rssAfter - rssBefore) / rssBefore;
  console.log(
    `  total    ${total} requests (${(total / SECONDS).toFixed(0)}/s), p99 ${all[Math.floor(all.length * 0.99)]?.toFixed(1)} ms, errors ${errors.length}`,
  );
  console.log(
    `  server RSS idle ${rssIdle.toFixed(0)} MiB; after warm-up ${rssBefore.toFixed(0)} MiB → after the load ${rssAfter.toFixed(0)} MiB (${(growth * 100).toFixed(1)}%; goal ≤ 20%)`,
  );
  console.log(`  Twilio fake accepted ${twilio.messages.length} messages`);
  for (const e of [...new Set(errors)].slice(0, 10)) console.log(`  error: ${e}`);
  exitCode = errors.length === 0 && growth <= 0.2 ? 0 : 1;
  console.log(`load: ${exitCode === 0 ? 1 : 0} passed, ${exitCode} failed`);
} finally {
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  await db.drop();
  await twilio.close();
  await hibp.close();
}
process.exit(exitCode);
