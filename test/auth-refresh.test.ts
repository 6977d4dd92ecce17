// P8 refresh tokens: opaque, stored hashed, rotated on every use; racing tabs share one
// successor; reuse after the grace window revokes the whole session. Plus session
// limits, the Origin check, sign-out scopes, the session list and the event list.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asOwner } from '../src/db/engine.ts';
import { refresh, refreshCookieFrom, signIn, signUp } from './support/auth.ts';
import { request } from './support/http.ts';
import { startTestServer, type TestServer } from './support/server.ts';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => s?.stop());

const tokenOf = (cookie: string) => cookie.split('=')[1]!;
const sha = (t: string) => createHash('sha256').update(t).digest();
const owner = <T>(sql: string, params: unknown[] = []) =>
  asOwner(s.engine, async (c) => (await c.query(sql, params)).rows as T[]);
const liveTokens = async (sessionId: string) =>
  (
    await owner<{ n: number }>(
      'SELECT count(*)::int AS n FROM auth.refresh_tokens WHERE session_id = $1 AND rotated_at IS NULL AND revoked_at IS NULL',
      [sessionId],
    )
  )[0]!.n;
const sessions = (token: string) => request(`${s.url}/auth/sessions`, { token });

describe('refresh token rotation', () => {
  it('sets an HttpOnly, Secure, SameSite=Strict cookie scoped to /auth, and stores only its SHA-256', async () => {
    const res = await request(`${s.url}/auth/signin`, { body: await credentials() });
    const cookie = (res.headers['set-cookie'] ?? []).find((c) => c.startsWith('capto_refresh='))!;
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/Secure/i);
    expect(cookie).toMatch(/SameSite=Strict/i);
    expect(cookie).toMatch(/Path=\/auth(;|$)/);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(JSON.stringify(res.json)).not.toContain(tokenOf(refreshCookieFrom(res)!));
    const token = tokenOf(refreshCookieFrom(res)!);
    expect(Buffer.from(token, 'base64url')).toHaveLength(32);
    expect(await owner('SELECT 1 FROM auth.refresh_tokens WHERE token_hash = $1', [sha(token)])).toHaveLength(1);
  });

  it('rotates: a new token and a working access token each time', async () => {
    const u = await signUp(s);
    const r1 = await refresh(s, u.refreshCookie);
    expect(r1.status).toBe(200);
    expect(r1.json).toMatchObject({ token_type: 'bearer', expires_in: 600, user: { id: u.userId } });
    const next = refreshCookieFrom(r1)!;
    expect(next).not.toBe(u.refreshCookie);
    expect((await sessions(r1.json.access_token)).status).toBe(200);
    expect((await refresh(s, next)).status).toBe(200);
    const events = await owner<{ type: string }>(
      `SELECT type FROM auth.audit_events WHERE user_id = $1 AND type = 'token_refreshed'`,
      [u.userId],
    );
    expect(events).toHaveLength(2);
  });

  // concurrent tabs refresh with the same token
  it('answers 20 parallel refreshes of one token with the same successor, leaving exactly one live token', async () => {
    const u = await signUp(s);
    const results = await Promise.all(Array.from({ length: 20 }, () => refresh(s, u.refreshCookie)));
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(200));
    const successors = new Set(results.map((r) => refreshCookieFrom(r)));
    expect(successors.size).toBe(1);
    expect([...successors][0]).not.toBe(u.refreshCookie);
    expect(await liveTokens(u.sessionId)).toBe(1);
    // The one live token is that successor.
    const live = await owner<{ token_hash: Buffer }>(
      'SELECT token_hash FROM auth.refresh_tokens WHERE session_id = $1 AND rotated_at IS NULL AND revoked_at IS NULL',
      [u.sessionId],
    );
    expect(Buffer.compare(live[0]!.token_hash, sha(tokenOf([...successors][0]!)))).toBe(0);
  });

  it('treats reuse after the grace window as theft: session revoked, event recorded, successor dead', async () => {
    const u = await signUp(s);
    const r1 = await refresh(s, u.refreshCookie);
    const successor = refreshCookieFrom(r1)!;
    // The rotation happened 11 s ago (beyond the 10 s grace window).
    await owner(`UPDATE auth.refresh_tokens SET rotated_at = now() - interval '11 seconds' WHERE token_hash = $1`, [
      sha(tokenOf(u.refreshCookie)),
    ]);
    const reuse = await refresh(s, u.refreshCookie);
    expect(reuse.status).toBe(401);
    expect(reuse.json.error.code).toBe('refresh_token_reused');
    const [session] = await owner<{ revoked_reason: string }>(
      'SELECT revoked_reason FROM auth.sessions WHERE id = $1',
      [u.sessionId],
    );
    expect(session!.revoked_reason).toBe('refresh_token_reused');
    const events = await owner<{ type: string }>(
      'SELECT type FROM auth.audit_events WHERE user_id = $1 ORDER BY created_at',
      [u.userId],
    );
    expect(events.map((e) => e.type)).toContain('refresh_token_reused');
    const dead = await refresh(s, successor);
    expect(dead.status).toBe(401);
    expect(dead.json.error.code).toBe('refresh_token_invalid');
    expect((await sessions(r1.json.access_token)).json.error.code).toBe('session_expired');
  });

  it('refuses a session past its absolute limit or idle too long', async () => {
    const a = await signUp(s);
    const b = await signUp(s);
    await owner(`UPDATE auth.sessions SET not_after = now() - interval '1 second' WHERE id = $1`, [a.sessionId]);
    await owner(`UPDATE auth.sessions SET refreshed_at = now() - interval '8 days' WHERE id = $1`, [b.sessionId]);
    for (const u of [a, b]) {
      expect((await refresh(s, u.refreshCookie)).json.error.code).toBe('refresh_token_invalid');
      expect((await sessions(u.accessToken)).json.error.code).toBe('session_expired');
    }
  });

  it('refuses a cookie refresh from a foreign Origin, and accepts the app origin', async () => {
    const u = await signUp(s);
    const foreign = await refresh(s, u.refreshCookie, { origin: 'https://evil.example' });
    expect(foreign.status).toBe(403);
    expect(foreign.json.error.code).toBe('origin_not_allowed');
    expect((await refresh(s, u.refreshCookie, { 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await refresh(s, u.refreshCookie, { origin: new URL(s.config.publicUrl).origin })).status).toBe(200);
  });

  it('answers a missing or unknown cookie with refresh_token_invalid', async () => {
    expect((await request(`${s.url}/auth/token`, { method: 'POST' })).json.error.code).toBe('refresh_token_invalid');
    expect((await refresh(s, `capto_refresh=${'A'.repeat(43)}`)).json.error.code).toBe('refresh_token_invalid');
  });
});

describe('sign-out scopes and sessions', () => {
  it('local ends only this session; others keeps this one; global ends all', async () => {
    const u = await signUp(s);
    const second = await signIn(s, u.email, u.password);
    const third = await signIn(s, u.email, u.password);
    expect(
      (await request(`${s.url}/auth/signout?scope=others`, { method: 'POST', token: third.accessToken })).status,
    ).toBe(204);
    expect((await sessions(third.accessToken)).status).toBe(200);
    expect((await sessions(u.accessToken)).status).toBe(401);
    expect((await sessions(second.accessToken)).status).toBe(401);
    const fourth = await signIn(s, u.email, u.password);
    expect(
      (await request(`${s.url}/auth/signout?scope=global`, { method: 'POST', token: fourth.accessToken })).status,
    ).toBe(204);
    expect((await sessions(third.accessToken)).status).toBe(401);
    expect((await refresh(s, third.refreshCookie)).status).toBe(401);
    const scopes = await owner<{ scope: string }>(
      `SELECT details->>'scope' AS scope FROM auth.audit_events WHERE user_id = $1 AND type = 'sign_out' ORDER BY created_at`,
      [u.userId],
    );
    expect(scopes.map((e) => e.scope)).toEqual(['others', 'global']);
  });

  it('signs out with only the refresh cookie (expired access token)', async () => {
    const u = await signUp(s);
    const out = await request(`${s.url}/auth/signout`, { method: 'POST', headers: { cookie: u.refreshCookie } });
    expect(out.status).toBe(204);
    expect((await sessions(u.accessToken)).status).toBe(401);
  });

  it("lists her own live sessions and revokes one; another user's session is not found", async () => {
    const u = await signUp(s);
    const other = await signIn(s, u.email, u.password);
    const stranger = await signUp(s);
    const list = await sessions(u.accessToken);
    expect(list.status).toBe(200);
    const ids = list.json.sessions.map((x: { id: string }) => x.id);
    expect(new Set(ids)).toEqual(new Set([u.sessionId, other.sessionId]));
    expect(list.json.sessions.find((x: { id: string }) => x.id === u.sessionId).current).toBe(true);
    const foreign = await request(`${s.url}/auth/sessions/${stranger.sessionId}`, {
      method: 'DELETE',
      token: u.accessToken,
    });
    expect(foreign.status).toBe(404);
    expect((await sessions(stranger.accessToken)).status).toBe(200);
    const own = await request(`${s.url}/auth/sessions/${other.sessionId}`, { method: 'DELETE', token: u.accessToken });
    expect(own.status).toBe(204);
    expect((await sessions(other.accessToken)).json.error.code).toBe('session_expired');
    const revoked = await owner<{ session_id: string }>(
      `SELECT session_id FROM auth.audit_events WHERE user_id = $1 AND type = 'session_revoked'`,
      [u.userId],
    );
    expect(revoked.map((e) => e.session_id)).toEqual([other.sessionId]);
  });

  it("GET /auth/events returns the caller's own events and nobody else's", async () => {
    const u = await signUp(s);
    const stranger = await signUp(s);
    await request(`${s.url}/auth/signin`, { body: { email: stranger.email, password: 'wrong-password-123' } });
    const res = await request(`${s.url}/auth/events`, { token: u.accessToken });
    expect(res.status).toBe(200);
    const types = res.json.events.map((e: { type: string }) => e.type);
    expect(types).toContain('sign_up');
    expect(types).not.toContain('sign_in_failed');
    const theirs = await request(`${s.url}/auth/events`, { token: stranger.accessToken });
    expect(theirs.json.events.map((e: { type: string }) => e.type)).toContain('sign_in_failed');
    expect(JSON.stringify(res.json)).not.toContain(stranger.userId);
  });
});

async function credentials() {
  const u = await signUp(s);
  return { email: u.email, password: u.password };
}
