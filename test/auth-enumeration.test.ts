// ASVS 6.3.8: sign-in and forgot-password answer the same for a registered and an
// unregistered email (status, body, cookies); only the registered one gets mail.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshEmail, signUp, strongPassword } from './support/auth.ts';
import { request, type HttpResponse } from './support/http.ts';
import { lastMailTo, readOutbox, tokenFromMail } from './support/outbox.ts';
import { asOwner } from '../src/db/engine.ts';
import { startTestServer, type TestServer } from './support/server.ts';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => s?.stop());

const shape = (r: HttpResponse) => ({
  status: r.status,
  body: r.json,
  cookie: r.headers['set-cookie'] ?? [],
  retry: r.headers['retry-after'],
});

describe('no endpoint tells registered from unregistered emails', () => {
  it('sign-in: a wrong password and an unknown email get identical answers', async () => {
    const u = await signUp(s);
    const known = await request(`${s.url}/auth/signin`, { body: { email: u.email, password: strongPassword() } });
    const unknown = await request(`${s.url}/auth/signin`, {
      body: { email: freshEmail('ghost'), password: strongPassword() },
    });
    expect(known.status).toBe(401);
    expect(shape(unknown)).toEqual(shape(known));
    // Positive control: the right password works, so the 401 above was not a broken endpoint.
    expect((await request(`${s.url}/auth/signin`, { body: { email: u.email, password: u.password } })).status).toBe(
      200,
    );
  });

  it('sign-in: a Google-only account (no password) answers like an unknown email', async () => {
    const email = freshEmail('google-only');
    await asOwner(s.engine, (c) => c.query('INSERT INTO auth.users (email) VALUES ($1)', [email]));
    const noPassword = await request(`${s.url}/auth/signin`, { body: { email, password: strongPassword() } });
    const unknown = await request(`${s.url}/auth/signin`, {
      body: { email: freshEmail('ghost'), password: strongPassword() },
    });
    expect(shape(noPassword)).toEqual(shape(unknown));
  });

  it('forgot-password: the same 202 either way, and mail only to the registered address', async () => {
    const u = await signUp(s);
    const ghost = freshEmail('ghost');
    const known = await request(`${s.url}/auth/password/forgot`, { body: { email: u.email } });
    const unknown = await request(`${s.url}/auth/password/forgot`, { body: { email: ghost } });
    expect(known.status).toBe(202);
    expect(shape(unknown)).toEqual(shape(known));
    await lastMailTo(s.config.dataDir, u.email, /reset/i);
    const mail = readOutbox(s.config.dataDir);
    expect(mail.some((m) => m.to === ghost)).toBe(false);
  });

  // Timing: a registered address used to cost a token, an event and a mail before the
  // answer, an unknown one a single lookup. Now the answer goes out before any of it.
  it('forgot-password answers before any lookup, token or mail work, and the mail still comes', async () => {
    const u = await signUp(s);
    const ghost = freshEmail('ghost');
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => (locked = r));
    // Hold auth.users: any lookup, token or event of the request would wait for this transaction.
    const holder = asOwner(s.engine, async (c) => {
      await c.query('LOCK TABLE auth.users IN ACCESS EXCLUSIVE MODE');
      locked();
      await held;
    });
    await isLocked;
    try {
      const forgot = (email: string) => request(`${s.url}/auth/password/forgot`, { body: { email } });
      const answered = await Promise.race([
        Promise.all([forgot(u.email), forgot(ghost)]),
        new Promise<'still waiting'>((r) => setTimeout(() => r('still waiting'), 20_000)),
      ]);
      if (answered === 'still waiting') expect.fail('forgot-password waited for the database before answering');
      const [known, unknown] = answered;
      expect(known.status).toBe(202);
      expect(shape(unknown)).toEqual(shape(known));
      // The work has not happened yet: it waits behind the lock, after the answers.
      expect(readOutbox(s.config.dataDir).filter((m) => m.to === u.email && /reset/i.test(m.subject))).toEqual([]);
    } finally {
      release();
      await holder;
    }
    // Positive case: once the database is free the registered address gets a working link.
    const token = tokenFromMail(await lastMailTo(s.config.dataDir, u.email, /reset/i, 15_000));
    const reset = await request(`${s.url}/auth/password/reset`, {
      body: { token, new_password: strongPassword() },
    });
    expect(reset.status).toBe(204);
    expect(readOutbox(s.config.dataDir).some((m) => m.to === ghost)).toBe(false);
  });

  it('verification and reset links: unknown or reused tokens get one generic answer', async () => {
    const bogus = 'A'.repeat(43);
    const verify = await request(`${s.url}/auth/verify`, { body: { token: bogus } });
    const reset = await request(`${s.url}/auth/password/reset`, {
      body: { token: bogus, new_password: strongPassword() },
    });
    expect(verify.json.error.code).toBe('token_invalid');
    expect(reset.json.error.code).toBe('token_invalid');
  });

  it('verifies an email through the mailed link exactly once', async () => {
    const u = await signUp(s);
    const token = tokenFromMail(await lastMailTo(s.config.dataDir, u.email, /confirm/i));
    expect((await request(`${s.url}/auth/verify`, { body: { token } })).status).toBe(204);
    expect((await request(`${s.url}/auth/verify`, { body: { token } })).json.error.code).toBe('token_invalid');
    const me = await request(`${s.url}/auth/token`, { method: 'POST', headers: { cookie: u.refreshCookie } });
    expect(me.json.user.email_verified).toBe(true);
    const events = await request(`${s.url}/auth/events`, { token: me.json.access_token });
    expect(events.json.events.map((e: { type: string }) => e.type)).toContain('email_verified');
  });
});

describe('API description', () => {
  it('documents the auth endpoints in /openapi.json', async () => {
    const doc = await request(`${s.url}/openapi.json`);
    expect(doc.status).toBe(200);
    const paths = Object.keys((doc.json as { paths: Record<string, unknown> }).paths);
    for (const p of [
      '/auth/signup',
      '/auth/signin',
      '/auth/token',
      '/auth/signout',
      '/auth/password',
      '/auth/password/forgot',
      '/auth/password/reset',
      '/auth/verify',
      '/auth/sessions',
      '/auth/sessions/{id}',
      '/auth/events',
    ]) {
      expect(paths).toContain(p);
    }
  });
});
