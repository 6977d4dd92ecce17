// Rate limits on the shared Redis store: per account and per IP, 429 with
// Retry-After, an event, and recovery once the window has passed (no lockout).
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asOwner } from '../src/db/engine.ts';
import { freshEmail, signUp } from './support/auth.ts';
import { request } from './support/http.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const WINDOW_S = 5;
let s: TestServer;
let redis: Redis;

beforeAll(async () => {
  redis = new Redis(REDIS_URL);
  for (const key of await redis.keys('capto-rl:*')) await redis.del(key);
  s = await startTestServer({
    REDIS_URL,
    CAPTO_AUTH_RATE_WINDOW: String(WINDOW_S),
    CAPTO_AUTH_RATE_IP: '6',
    CAPTO_AUTH_RATE_ACCOUNT: '3',
  });
});
afterAll(async () => {
  await s?.stop();
  redis?.disconnect();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const signin = (email: string, password: string) => request(`${s.url}/auth/signin`, { body: { email, password } });

describe('auth rate limits', () => {
  it('limits sign-in per account with 429 and Retry-After, records the event, and recovers after the window', async () => {
    const u = await signUp(s);
    await sleep(WINDOW_S * 1000 + 100); // a fresh window for the IP counter too
    for (let i = 0; i < 3; i++) expect((await signin(u.email, `wrong-password-${i}-x`)).status).toBe(401);
    const limited = await signin(u.email, u.password); // even the right password waits
    expect(limited.status).toBe(429);
    expect(limited.json.error.code).toBe('rate_limited');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(limited.json.error.retry_after).toBe(Number(limited.headers['retry-after']));
    const events = await asOwner(s.engine, (c) =>
      c.query<{ n: number }>(`SELECT count(*)::int AS n FROM auth.audit_events WHERE type = 'rate_limited'`),
    );
    expect(events.rows[0]!.n).toBeGreaterThan(0);
    // The counters live in Redis (shared by every app node).
    expect((await redis.keys('capto-rl:*')).length).toBeGreaterThan(0);

    await sleep(WINDOW_S * 1000 + 200);
    expect((await signin(u.email, u.password)).status).toBe(200);
  });

  it('limits an endpoint per IP across different emails, then recovers', async () => {
    await sleep(WINDOW_S * 1000 + 100);
    const forgot = () => request(`${s.url}/auth/password/forgot`, { body: { email: freshEmail() } });
    for (let i = 0; i < 6; i++) expect((await forgot()).status).toBe(202);
    const limited = await forgot();
    expect(limited.status).toBe(429);
    expect(limited.json.error.code).toBe('rate_limited');
    expect(limited.headers['retry-after']).toBeDefined();
    expect(limited.json.error.retry_after).toBe(Number(limited.headers['retry-after']));
    await sleep(WINDOW_S * 1000 + 200);
    expect((await forgot()).status).toBe(202);
  });
});
