// A signed-out access token is dead on every authenticated route (docs/SECURITY.md,
// "Sessions and revocation"). The list of routes is not written here: it is every
// operation /openapi.json describes with bearer security, so a route added tomorrow is
// covered the day it is added. For each of three ways a session ends — sign-out, "sign
// out everywhere" from another session, a password reset — the same token is first
// shown to pass the authentication step on every operation (positive control: anything
// but 401), then refused with 401 on every operation. The guard that makes the step
// impossible to skip (a route that reads the caller without declaring bearer security
// fails; an authenticated route cannot be hidden from the OpenAPI) is tested below.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/index.ts';
import { createLogger } from '../src/observability/logger.ts';
import { buildApp, type RouteModule } from '../src/server/app.ts';
import { BEARER_SECURITY, callerOf } from '../src/server/authenticate.ts';
import { signIn, signUp, strongPassword, type SignedUpUser } from './support/auth.ts';
import { request } from './support/http.ts';
import { lastMailTo, tokenFromMail } from './support/outbox.ts';
import { startTestServer, type TestServer } from './support/server.ts';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => s?.stop());

interface Operation {
  method: string;
  path: string;
}

/** Every operation of /openapi.json whose security names the bearer scheme. */
async function authenticatedOperations(): Promise<Operation[]> {
  const doc = (await s.app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
    paths: Record<string, Record<string, { security?: Record<string, unknown>[] }>>;
  };
  const ops: Operation[] = [];
  for (const [path, methods] of Object.entries(doc.paths))
    for (const [method, op] of Object.entries(methods))
      if (op.security?.some((entry) => 'bearer' in entry)) ops.push({ method: method.toUpperCase(), path });
  return ops;
}

// A route whose session check is its transaction's set-up (sessionInTransaction) validates
// its query first (docs/ARCHITECTURE.md §8): it is called with a valid one, so that the
// refusal it gives is the session's, not the validation's.
const QUERY: Record<string, string> = { '/api/businesses/{bid}/search': '?q=harbor' };

/** The operation called with `token`: the business is the caller's own, other ids are fresh. */
async function call(op: Operation, token: string, bid: string): Promise<{ status: number; body: string }> {
  const url =
    op.path.replace(/\{(\w+)\}/g, (_m, name: string) => (name === 'bid' ? bid : randomUUID())) + (QUERY[op.path] ?? '');
  const withBody = ['POST', 'PUT', 'PATCH'].includes(op.method);
  const res = await s.app.inject({
    method: op.method as 'GET',
    url,
    headers: {
      authorization: `Bearer ${token}`,
      origin: s.url,
      ...(withBody ? { 'content-type': 'application/json' } : {}),
    },
    ...(withBody ? { payload: '{}' } : {}),
  });
  return { status: res.statusCode, body: res.body };
}

const isSignOut = (op: Operation) => op.path === '/auth/signout';
// An event stream never ends, so inject() cannot wait for it: its positive control (a live
// token gets 200 and events) is in test/notifications.test.ts; the refusal is checked here.
const isStream = (op: Operation) => op.path === '/api/notifications/stream';

/** A user with her own business, signed in. */
async function ownerWithBusiness(): Promise<{ user: SignedUpUser; bid: string }> {
  const user = await signUp(s, { verified: true });
  const res = await request(`${s.url}/api/businesses`, {
    token: user.accessToken,
    body: { name: 'Revocation Lending' },
  });
  if (res.status !== 201) throw new Error(`business: ${res.status} ${res.text}`);
  return { user, bid: (res.json as { id: string }).id };
}

/** Positive control: the live token passes the step everywhere (signing out is the ending itself). */
async function expectAccepted(ops: Operation[], token: string, bid: string): Promise<void> {
  const refused: string[] = [];
  for (const op of ops) {
    if (isSignOut(op) || isStream(op)) continue;
    const r = await call(op, token, bid);
    if (r.status === 401 || r.status >= 500)
      refused.push(`${op.method} ${op.path} → ${r.status} ${r.body.slice(0, 120)}`);
  }
  expect(refused).toEqual([]);
}

async function expectRefused(ops: Operation[], token: string, bid: string): Promise<void> {
  const accepted: string[] = [];
  for (const op of ops) {
    const r = await call(op, token, bid);
    const code = r.status === 401 ? (JSON.parse(r.body) as { error: { code: string } }).error.code : undefined;
    if (r.status !== 401 || code !== 'session_expired')
      accepted.push(`${op.method} ${op.path} → ${r.status} ${r.body.slice(0, 120)}`);
  }
  expect(accepted).toEqual([]);
}

describe('a signed-out token is refused by every authenticated operation', () => {
  let ops: Operation[];
  beforeAll(async () => {
    ops = await authenticatedOperations();
  });

  it('the OpenAPI description lists the authenticated operations, the service-role ones among them', () => {
    const names = ops.map((o) => `${o.method} ${o.path}`);
    expect(names.length).toBeGreaterThan(60);
    expect(names).toEqual(
      expect.arrayContaining([
        'POST /api/businesses/{bid}/integrations/twilio',
        'POST /api/businesses/{bid}/integrations/twilio/{id}/default',
        'DELETE /api/businesses/{bid}/integrations/twilio/{id}',
        'GET /api/businesses/{bid}/integrations/google/connect',
        'DELETE /api/businesses/{bid}/integrations/google',
        'POST /auth/password',
        'POST /auth/verify/resend',
        'POST /auth/signout',
        'GET /api/me',
      ]),
    );
  });

  it('after sign-out', async () => {
    const { user, bid } = await ownerWithBusiness();
    await expectAccepted(ops, user.accessToken, bid);
    const out = await request(`${s.url}/auth/signout`, {
      method: 'POST',
      token: user.accessToken,
      headers: { origin: s.url },
    });
    expect(out.status).toBe(204);
    await expectRefused(ops, user.accessToken, bid);
  });

  it('after "sign out everywhere" from another session', async () => {
    const { user, bid } = await ownerWithBusiness();
    const other = await signIn(s, user.email, user.password);
    await expectAccepted(ops, user.accessToken, bid);
    const out = await request(`${s.url}/auth/signout?scope=global`, {
      method: 'POST',
      token: other.accessToken,
      headers: { origin: s.url },
    });
    expect(out.status).toBe(204);
    await expectRefused(ops, user.accessToken, bid);
  });

  it('after a password reset', async () => {
    const { user, bid } = await ownerWithBusiness();
    await expectAccepted(ops, user.accessToken, bid);
    expect((await request(`${s.url}/auth/password/forgot`, { body: { email: user.email } })).status).toBe(202);
    const token = tokenFromMail(await lastMailTo(s.config.dataDir, user.email, /reset/i));
    const reset = await request(`${s.url}/auth/password/reset`, { body: { token, new_password: strongPassword() } });
    expect(reset.status).toBe(204);
    await expectRefused(ops, user.accessToken, bid);
  });
});

describe('the authentication step cannot be skipped', () => {
  let probe: FastifyInstance | undefined;
  afterAll(async () => probe?.close());
  const base = {
    config: loadConfig({ CAPTO_ENV: 'test', LOG_LEVEL: 'silent' }),
    logger: createLogger({ logLevel: 'silent' }),
  };

  it('a route that reads the caller without declaring bearer security fails instead of acting', async () => {
    const sneaky: RouteModule = (app) => {
      app.get('/probe/sneaky', async (req) => ({ user: callerOf(req).sub }));
      app.get('/probe/declared', { schema: { security: BEARER_SECURITY } }, async (req) => ({
        user: callerOf(req).sub,
      }));
    };
    probe = (
      await buildApp({
        ...base,
        db: s.db,
        modules: [sneaky],
        tokens: { verify: async () => ({ sub: randomUUID(), sid: randomUUID() }) },
      })
    ).app;
    const sneakyRes = await probe.inject({
      method: 'GET',
      url: '/probe/sneaky',
      headers: { authorization: 'Bearer a.b.c' },
    });
    expect(sneakyRes.statusCode).toBe(500);
    expect(sneakyRes.body).not.toContain('user');
    // The declared route runs the step: a token whose session does not exist is refused.
    const declared = await probe.inject({
      method: 'GET',
      url: '/probe/declared',
      headers: { authorization: 'Bearer a.b.c' },
    });
    expect(declared.statusCode).toBe(401);
    expect(declared.json()).toMatchObject({ error: { code: 'session_expired' } });
    const anonymous = await probe.inject({ method: 'GET', url: '/probe/declared' });
    expect(anonymous.statusCode).toBe(401);
  });

  it('an authenticated route cannot be hidden from the OpenAPI description', async () => {
    const hidden: RouteModule = async (app) => {
      app.get('/probe/hidden', { schema: { hide: true, security: BEARER_SECURITY } }, async () => ({}));
    };
    await expect(
      buildApp({
        ...base,
        db: s.db,
        modules: [hidden],
        tokens: { verify: async () => ({ sub: randomUUID(), sid: randomUUID() }) },
      }),
    ).rejects.toThrow(/must not be hidden/);
  });
});
