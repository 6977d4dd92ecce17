// P7: argon2id hashes; passwords found in Have I Been Pwned are refused at sign-up,
// change and reset; the range request carries only 5 hex characters and asks for
// padding; an outage falls back to the offline common list and re-checks later.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/index.ts';
import { asOwner } from '../src/db/engine.ts';
import { createBreachChecker } from '../src/auth/hibp.ts';
import { acceptNewPassword } from '../src/auth/new-password.ts';
import { isSimilarToEmail } from '../src/auth/passwords.ts';
import { sharedFakeHibp, type FakeHibp } from './fakes/hibp.ts';
import { freshEmail, signIn, signUp, strongPassword } from './support/auth.ts';
import { request } from './support/http.ts';
import { lastMailTo, tokenFromMail } from './support/outbox.ts';
import { startTestServer, type TestServer } from './support/server.ts';

let s: TestServer;
let hibp: FakeHibp;
beforeAll(async () => {
  hibp = await sharedFakeHibp();
  s = await startTestServer();
});
afterAll(async () => s?.stop());
beforeEach(() => hibp.setMode('up'));

const signup = (email: string, password: string) => request(`${s.url}/auth/signup`, { body: { email, password } });
const owner = <T>(sql: string, params: unknown[] = []) =>
  asOwner(s.engine, async (c) => (await c.query(sql, params)).rows as T[]);

describe('password rules', () => {
  it('stores an argon2id hash at OWASP parameters (m=19456, t=2, p=1)', async () => {
    const u = await signUp(s);
    const [row] = await owner<{ password_hash: string }>('SELECT password_hash FROM auth.users WHERE id = $1', [
      u.userId,
    ]);
    expect(row!.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(row!.password_hash).not.toContain(u.password);
  });

  it('refuses too short, too long and email-like passwords with their codes, and keeps long ones untruncated', async () => {
    const email = freshEmail('jordan.miles');
    expect((await signup(email, 'Ab1!xyz')).json.error.code).toBe('password_too_short');
    expect((await signup(email, 'x'.repeat(129))).json.error.code).toBe('password_too_long');
    expect((await signup(email, `${email.split('@')[0]}!`)).json.error.code).toBe('password_similar_to_email');
    expect(isSimilarToEmail('Jordan.Miles99', 'jordan.miles@example.test')).toBe(true);
    expect(isSimilarToEmail('violet-harbor-lantern', 'jordan.miles@example.test')).toBe(false);
    expect(isSimilarToEmail('example.test', 'jordan.miles@example.test')).toBe(true);
    expect(isSimilarToEmail('jordanmiles-violet-harbor', 'jordan.miles@example.test')).toBe(false);
    // 128 characters is allowed, and the 128th character matters (no truncation).
    const long = `${strongPassword()}${'q'.repeat(100)}`.slice(0, 127);
    const u = await signUp(s, { password: `${long}A` });
    expect((await request(`${s.url}/auth/signin`, { body: { email: u.email, password: `${long}B` } })).status).toBe(
      401,
    );
    expect((await request(`${s.url}/auth/signin`, { body: { email: u.email, password: `${long}A` } })).status).toBe(
      200,
    );
  });
});

describe('Have I Been Pwned', () => {
  it('rejects a breached password at sign-up with password_breached', async () => {
    const pw = `breached-${strongPassword()}`;
    hibp.addBreached(pw);
    const res = await signup(freshEmail(), pw);
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('password_breached');
  });

  it('sends only the 5-hex-character SHA-1 prefix, with Add-Padding, and ignores padding lines', async () => {
    const pw = strongPassword();
    const before = hibp.requests.length;
    const res = await signup(freshEmail(), pw);
    expect(res.status).toBe(201);
    const sent = hibp.requests.slice(before);
    expect(sent).toHaveLength(1);
    const sha1 = createHash('sha1').update(pw).digest('hex').toUpperCase();
    expect(sent[0]!.path).toBe(`/range/${sha1.slice(0, 5)}`);
    expect(sent[0]!.headers['add-padding']).toBe('true');
    expect(JSON.stringify(sent[0]!)).not.toContain(sha1.slice(5));
    expect(JSON.stringify(sent[0]!)).not.toContain(pw);
  });

  it('treats a count-0 (padding) line for the suffix as clean, and a positive count as breached', async () => {
    const checker = createBreachChecker(hibp.url);
    const padded = strongPassword();
    hibp.addBreached(padded, 0);
    expect(await checker.check(padded)).toBe('clean');
    hibp.addBreached(padded, 3);
    expect(await checker.check(padded)).toBe('breached');
  });

  it('rejects a breached password at password change, and accepts a clean one', async () => {
    const u = await signUp(s);
    const bad = `breached-${strongPassword()}`;
    hibp.addBreached(bad);
    const change = (new_password: string) =>
      request(`${s.url}/auth/password`, { token: u.accessToken, body: { current_password: u.password, new_password } });
    expect((await change(bad)).json.error.code).toBe('password_breached');
    const wrong = await request(`${s.url}/auth/password`, {
      token: u.accessToken,
      body: { current_password: 'not-my-password-1', new_password: strongPassword() },
    });
    expect(wrong.json.error.code).toBe('invalid_credentials');
    const good = strongPassword();
    expect((await change(good)).status).toBe(204);
    expect((await signIn(s, u.email, good)).userId).toBe(u.userId);
  });

  it('a password change ends the other sessions unless the user keeps them', async () => {
    const u = await signUp(s);
    const other = await signIn(s, u.email, u.password);
    const sessions = (token: string) => request(`${s.url}/auth/sessions`, { token });
    const kept = strongPassword();
    expect(
      (
        await request(`${s.url}/auth/password`, {
          token: u.accessToken,
          body: { current_password: u.password, new_password: kept, keep_other_sessions: true },
        })
      ).status,
    ).toBe(204);
    expect((await sessions(other.accessToken)).status).toBe(200);
    expect(
      (
        await request(`${s.url}/auth/password`, {
          token: u.accessToken,
          body: { current_password: kept, new_password: strongPassword() },
        })
      ).status,
    ).toBe(204);
    expect((await sessions(other.accessToken)).json.error.code).toBe('session_expired');
    expect((await sessions(u.accessToken)).status).toBe(200);
    const notice = await lastMailTo(s.config.dataDir, u.email, /password was changed/i);
    expect(notice.text).not.toContain(kept);
  });

  it('rejects a breached password at reset; a clean one resets, ends every session and burns the link', async () => {
    const u = await signUp(s);
    expect((await request(`${s.url}/auth/password/forgot`, { body: { email: u.email } })).status).toBe(202);
    const token = tokenFromMail(await lastMailTo(s.config.dataDir, u.email, /reset/i));
    const bad = `breached-${strongPassword()}`;
    hibp.addBreached(bad);
    const reset = (new_password: string) => request(`${s.url}/auth/password/reset`, { body: { token, new_password } });
    expect((await reset(bad)).json.error.code).toBe('password_breached');
    const good = strongPassword();
    expect((await reset(good)).status).toBe(204);
    expect((await request(`${s.url}/auth/sessions`, { token: u.accessToken })).json.error.code).toBe('session_expired');
    expect((await reset(strongPassword())).json.error.code).toBe('token_invalid');
    expect((await signIn(s, u.email, good)).userId).toBe(u.userId);
  });

  it('never asks HIBP when signing in with an unknown email', async () => {
    const before = hibp.requests.length;
    const res = await request(`${s.url}/auth/signin`, {
      body: { email: freshEmail('nobody'), password: strongPassword() },
    });
    expect(res.status).toBe(401);
    expect(hibp.requests.length).toBe(before);
  });
});

describe('when HIBP is down', () => {
  it('rejects a top-common password from the offline list', async () => {
    hibp.setMode('error');
    const res = await signup(freshEmail(), 'football');
    expect(res.json.error.code).toBe('password_breached');
  });

  it('accepts a strong password as check-pending, then forces a change at sign-in once HIBP reports it', async () => {
    hibp.setMode('hang'); // the 2-second timeout fires
    const pw = strongPassword();
    const u = await signUp(s, { password: pw });
    const [row] = await owner<{ password_check_pending: boolean }>(
      'SELECT password_check_pending FROM auth.users WHERE id = $1',
      [u.userId],
    );
    expect(row!.password_check_pending).toBe(true);
    const events = await owner<{ type: string }>('SELECT type FROM auth.audit_events WHERE user_id = $1', [u.userId]);
    expect(events.map((e) => e.type)).toContain('password_check_pending');

    hibp.setMode('up');
    hibp.addBreached(pw);
    const res = await request(`${s.url}/auth/signin`, { body: { email: u.email, password: pw } });
    expect(res.status).toBe(403);
    expect(res.json.error.code).toBe('password_change_required');
    expect(res.headers['set-cookie'] ?? []).toHaveLength(0);
    expect(res.json.access_token).toBeUndefined();
    const fresh = strongPassword();
    expect(
      (
        await request(`${s.url}/auth/password/reset`, {
          body: { token: res.json.error.reset_token, new_password: fresh },
        })
      ).status,
    ).toBe(204);
    expect((await signIn(s, u.email, fresh)).userId).toBe(u.userId);
  }, 20_000);

  it('clears the pending flag at sign-in when HIBP says the password is clean', async () => {
    hibp.setMode('error');
    const u = await signUp(s);
    hibp.setMode('up');
    await signIn(s, u.email, u.password);
    const [row] = await owner<{ password_check_pending: boolean; must_change_password: boolean }>(
      'SELECT password_check_pending, must_change_password FROM auth.users WHERE id = $1',
      [u.userId],
    );
    expect(row).toEqual({ password_check_pending: false, must_change_password: false });
  });

  it('blocks new passwords when HIBP_FAILURE_MODE=reject', async () => {
    hibp.setMode('error');
    const config = loadConfig({ HIBP_RANGE_URL: hibp.url, HIBP_FAILURE_MODE: 'reject' });
    await expect(
      acceptNewPassword(strongPassword(), 'a@example.test', createBreachChecker(hibp.url), config),
    ).rejects.toMatchObject({ code: 'password_check_unavailable' });
  });
});
