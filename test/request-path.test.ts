// The request path's shortcuts keep its guarantees (docs/ARCHITECTURE.md §7, §8):
// - a route with `sessionInTransaction` (the contacts list, the pipeline, search, the contact
//   page, the inbox, tasks, the dashboard) checks the session only in its transaction's
//   set-up, yet a sign-out and a removed membership still win on the very next request, on
//   every such route; the caller is unreadable, and a success unsendable, before that check;
// - the list query as a named prepared statement (server engine) keeps RLS per caller,
//   also once PostgreSQL switches to its generic plan.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/index.ts';
import { listContacts } from '../src/crm/contact-list.ts';
import { asOwner } from '../src/db/engine.ts';
import { createLogger } from '../src/observability/logger.ts';
import { buildApp, type RouteModule } from '../src/server/app.ts';
import { BEARER_SECURITY, callerOf, sessionInTransactionRoutes } from '../src/server/authenticate.ts';
import { inBusiness } from '../src/server/scope.ts';
import { signIn, signUp } from './support/auth.ts';
import { createTestDatabase, type TestDatabase } from './support/engine.ts';
import { addMember, newBusiness, newUser } from './support/factories.ts';
import { request } from './support/http.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { createBusinessHttp } from './support/workspace.ts';

/** Every route declaring sessionInTransaction, as a request in a business with one contact and its thread. */
const DEFERRED: Record<string, (ids: { contact: string; conversation: string }) => string> = {
  'GET /api/businesses/:bid/contacts': () => 'contacts?limit=5',
  'GET /api/businesses/:bid/contacts/:id': (x) => `contacts/${x.contact}`,
  'GET /api/businesses/:bid/contacts/:id/timeline': (x) => `contacts/${x.contact}/timeline`,
  'GET /api/businesses/:bid/deals': () => 'deals',
  'GET /api/businesses/:bid/tasks': () => 'tasks?assignee=me&done=false',
  'GET /api/businesses/:bid/dashboard': () => 'dashboard',
  'GET /api/businesses/:bid/search': () => 'search?q=harbor',
  'GET /api/businesses/:bid/conversations': () => 'conversations',
  'GET /api/businesses/:bid/conversations/:id/messages': (x) => `conversations/${x.conversation}/messages`,
};

describe('the routes that check the session in their transaction', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(async () => s?.stop());

  /** A business with one contact, Quinn Harbor, and a text thread with her. */
  async function business(owner: Awaited<ReturnType<typeof signUp>>, name: string) {
    const bid = await createBusinessHttp(s, owner, name);
    const made = await request<{ id: string }>(`${s.url}/api/businesses/${bid}/contacts`, {
      token: owner.accessToken,
      body: { first_name: 'Quinn', last_name: 'Harbor' },
    });
    expect(made.status).toBe(201);
    const conversation = await asOwner(s.engine, async (c) => {
      const v = await c.query<{ id: string }>(
        `INSERT INTO app.conversations (business_id, contact_id, our_number) VALUES ($1, $2, '+14155550100') RETURNING id`,
        [bid, made.json.id],
      );
      return v.rows[0]!.id;
    });
    const ids = { contact: made.json.id, conversation };
    const urls = Object.values(DEFERRED).map((path) => `${s.url}/api/businesses/${bid}/${path(ids)}`);
    return { bid, urls };
  }
  /** Each URL's status and error code (and WWW-Authenticate on a 401) with this token. */
  const statuses = async (urls: string[], token: string) => {
    const out: string[] = [];
    for (const url of urls) {
      const r = await request<{ error?: { code: string } }>(url, { token });
      const www = r.status === 401 ? ` ${r.headers['www-authenticate']}` : '';
      out.push(`${url.split('/').slice(6).join('/')} ${r.status} ${r.json?.error?.code ?? ''}${www}`);
    }
    return out;
  };
  const every = (urls: string[], outcome: string) =>
    urls.map((url) => `${url.split('/').slice(6).join('/')} ${outcome}`);

  it('are these, every one covered below', async () => {
    const declared = sessionInTransactionRoutes().filter((r) => r.startsWith('GET /api/'));
    expect(declared).toEqual(Object.keys(DEFERRED).sort());
  });

  it('a sign-out takes effect on the next request, on each of them', async () => {
    const user = await signUp(s);
    const other = await signIn(s, user.email, user.password);
    const { urls } = await business(user, 'Revocation Mortgage');
    expect(await statuses(urls, user.accessToken)).toEqual(every(urls, '200 ')); // positive control
    expect(await statuses(urls, other.accessToken)).toEqual(every(urls, '200 '));
    const out = await request(`${s.url}/auth/signout`, { token: user.accessToken, body: {} });
    expect(out.status).toBeLessThan(300);
    expect(await statuses(urls, user.accessToken)).toEqual(
      every(urls, '401 session_expired Bearer error="invalid_token"'),
    );
    expect(await statuses(urls, other.accessToken)).toEqual(every(urls, '200 ')); // the other session lives on
  });

  it('a removed member is refused on the next request, on each of them', async () => {
    const owner = await signUp(s);
    const member = await signUp(s);
    const { bid, urls } = await business(owner, 'Membership Mortgage');
    await addMember(s.engine, bid, member.userId, 'member');
    expect(await statuses(urls, member.accessToken)).toEqual(every(urls, '200 ')); // positive control
    await asOwner(s.engine, (c) =>
      c.query('DELETE FROM app.memberships WHERE business_id = $1 AND user_id = $2', [bid, member.userId]),
    );
    expect(await statuses(urls, member.accessToken)).toEqual(every(urls, '404 not_found'));
    expect(await statuses(urls, owner.accessToken)).toEqual(every(urls, '200 '));
  });

  describe('guards', () => {
    let probe: FastifyInstance | undefined;
    afterAll(async () => probe?.close());
    it('the caller is unreadable, and a success unsendable, before the transaction checked the session', async () => {
      const owner = await newUser(s.engine);
      const business = await newBusiness(s.engine, owner.id);
      const live = await asOwner(s.engine, async (c) => {
        const id = randomUUID();
        await c.query(
          `INSERT INTO auth.sessions (id, user_id, not_after, idle_timeout) VALUES ($1, $2, now() + interval '1 hour', interval '1 hour')`,
          [id, owner.id],
        );
        return id;
      });
      const config = { config: { sessionInTransaction: true }, schema: { security: BEARER_SECURITY } };
      const routes: RouteModule = (app) => {
        app.get('/probe/early-caller', config, async (req) => ({ user: callerOf(req).sub }));
        app.get('/probe/no-transaction', config, async () => ({ ok: true }));
        app.get('/probe/in-business', config, async (req) =>
          inBusiness(s.db, req, business.id, async ({ tx }) => {
            await tx.query('SELECT 1');
            return { ok: true };
          }).then((r) => ({ ...r, user: callerOf(req).sub })),
        );
      };
      probe = (
        await buildApp({
          config: loadConfig({ CAPTO_ENV: 'test', LOG_LEVEL: 'silent' }),
          logger: createLogger({ logLevel: 'silent' }),
          db: s.db,
          modules: [routes],
          tokens: { verify: async (t) => ({ sub: owner.id, sid: t === 'live.x.y' ? live : randomUUID() }) },
        })
      ).app;
      const get = (url: string, token: string) =>
        probe!.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
      const ok = await get('/probe/in-business', 'live.x.y'); // positive control
      expect(ok.statusCode).toBe(200);
      expect(ok.json()).toEqual({ ok: true, user: owner.id });
      const dead = await get('/probe/in-business', 'dead.x.y');
      expect(dead.statusCode).toBe(401);
      expect(dead.json()).toMatchObject({ error: { code: 'session_expired' } });
      const early = await get('/probe/early-caller', 'live.x.y');
      expect(early.statusCode).toBe(500);
      expect(early.body).not.toContain(owner.id);
      const none = await get('/probe/no-transaction', 'live.x.y');
      expect(none.statusCode).toBe(500);
      expect(none.body).not.toContain('ok');
    });
  });
});

describe('the list query as a prepared statement', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase({ poolSize: 1 });
  });
  afterAll(async () => t?.close());

  it('keeps each caller to their own business, generic plan or not', async () => {
    const a = await newUser(t.engine);
    const b = await newUser(t.engine);
    const ba = await newBusiness(t.engine, a.id);
    const bb = await newBusiness(t.engine, b.id);
    await addMember(t.engine, bb.id, b.id, 'member').catch(() => undefined); // already owner: no-op
    await asOwner(t.engine, (c) =>
      c.query(
        `INSERT INTO app.contacts (business_id, first_name, last_name)
         SELECT bid, 'F' || g, 'L' || g FROM unnest($1::uuid[]) bid CROSS JOIN generate_series(1, 3) g`,
        [[ba.id, bb.id]],
      ),
    );
    const page = (user: string, bid: string) =>
      t.db.asUser({ sub: user }, (tx) => listContacts(tx, bid, { limit: 10, sort: 'name' }));
    // More than five executions: PostgreSQL may then keep a generic plan for the statement.
    for (let i = 0; i < 8; i++) {
      expect((await page(a.id, ba.id)).items).toHaveLength(3); // positive control
      expect((await page(b.id, ba.id)).items).toHaveLength(0);
      expect((await page(b.id, bb.id)).items).toHaveLength(3);
      expect((await page(a.id, bb.id)).items).toHaveLength(0);
    }
    const names = await t.db.asUser({ sub: a.id }, (tx) =>
      tx.query<{ name: string }>(`SELECT name FROM pg_prepared_statements WHERE name LIKE 'capto\\_%'`),
    );
    // One pooled connection: the statement was prepared once and reused (server engine only).
    expect(names.rows.length).toBe(t.engine.kind === 'server' ? 1 : 0);
  });
});
