// Google sign-in against a local OpenID provider: the full code + PKCE + state + nonce
// flow, and each check failing on its own; an unverified email is never linked.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asOwner } from '../src/db/engine.ts';
import { startFakeOidc, type FakeOidc } from './fakes/oidc.ts';
import { refresh, refreshCookieFrom, signUp } from './support/auth.ts';
import { request, type HttpResponse } from './support/http.ts';
import { startTestServer, type TestServer } from './support/server.ts';

let s: TestServer;
let idp: FakeOidc;
beforeAll(async () => {
  idp = await startFakeOidc();
  s = await startTestServer({
    GOOGLE_CLIENT_ID: idp.clientId,
    GOOGLE_CLIENT_SECRET: idp.clientSecret,
    GOOGLE_ISSUER: idp.issuer,
  });
});
afterAll(async () => {
  await s?.stop();
  await idp?.close();
});

const cookieOf = (res: HttpResponse, name: string) =>
  (res.headers['set-cookie'] ?? []).map((c) => new RegExp(`^${name}=([^;]+)`).exec(c)?.[1]).find(Boolean);

/** Start at Capto, follow the provider's redirect, and return the callback URL plus the attempt cookie. */
async function startFlow() {
  const start = await request(`${s.url}/auth/google/start`);
  expect(start.status).toBe(302);
  const authorize = new URL(start.headers.location!);
  const oidcCookie = cookieOf(start, 'capto_oidc')!;
  const fromIdp = await request(authorize.href);
  expect(fromIdp.status).toBe(302);
  const callback = new URL(fromIdp.headers.location!);
  return {
    authorize,
    oidcCookie,
    callback,
    startCookieHeader: (start.headers['set-cookie'] ?? []).find((c) => c.startsWith('capto_oidc='))!,
  };
}

const callback = (url: URL, oidcCookie: string | undefined) =>
  request(`${s.url}${url.pathname}${url.search}`, {
    headers: oidcCookie ? { cookie: `capto_oidc=${oidcCookie}` } : {},
  });

describe('Google sign-in', () => {
  it('runs the full flow: S256 PKCE, state and nonce sent, a new verified user signed in', async () => {
    const email = `g-${Date.now()}@example.test`;
    idp.setIdentity({ sub: `sub-${Date.now()}`, email, email_verified: true });
    const flow = await startFlow();
    expect(flow.authorize.searchParams.get('code_challenge_method')).toBe('S256');
    expect(flow.authorize.searchParams.get('state')).toBeTruthy();
    expect(flow.authorize.searchParams.get('nonce')).toBeTruthy();
    expect(flow.authorize.searchParams.get('redirect_uri')).toBe(`${s.config.publicUrl}/auth/google/callback`);
    expect(flow.startCookieHeader).toMatch(/HttpOnly/i);
    expect(flow.startCookieHeader).toMatch(/Secure/i);
    expect(flow.startCookieHeader).toMatch(/Path=\/auth\/google/);
    // The attempt cookie is sealed: neither the state nor the verifier is readable in it.
    expect(Buffer.from(flow.oidcCookie, 'base64url').toString()).not.toContain(
      flow.authorize.searchParams.get('state')!,
    );

    const done = await callback(flow.callback, flow.oidcCookie);
    expect(done.status).toBe(302);
    expect(done.headers.location).toBe('/app');
    const refreshCookie = refreshCookieFrom(done)!;
    const tokens = await refresh(s, refreshCookie);
    expect(tokens.status).toBe(200);
    expect(tokens.json.user).toMatchObject({ email, email_verified: true });
    const ids = await asOwner(s.engine, (c) =>
      c.query(`SELECT provider FROM auth.identities WHERE user_id = $1`, [tokens.json.user.id]),
    );
    expect(ids.rows).toEqual([{ provider: 'google' }]);
  });

  it('signs the same Google subject into the same account the next time', async () => {
    const sub = `sub-again-${Date.now()}`;
    idp.setIdentity({ sub, email: `again-${Date.now()}@example.test`, email_verified: true });
    const first = await refresh(s, refreshCookieFrom(await callbackOf(await startFlow()))!);
    idp.setIdentity({ sub, email: `changed-${Date.now()}@example.test`, email_verified: true });
    const second = await refresh(s, refreshCookieFrom(await callbackOf(await startFlow()))!);
    expect(second.json.user.id).toBe(first.json.user.id);
  });

  it('links an existing password account when the email is verified', async () => {
    const u = await signUp(s, { verified: true });
    idp.setIdentity({ sub: `link-${Date.now()}`, email: u.email, email_verified: true });
    const done = await callbackOf(await startFlow());
    expect(done.headers.location).toBe('/app');
    expect((await refresh(s, refreshCookieFrom(done)!)).json.user.id).toBe(u.userId);
    const events = await asOwner(s.engine, (c) =>
      c.query<{ type: string }>(`SELECT type FROM auth.audit_events WHERE user_id = $1`, [u.userId]),
    );
    expect(events.rows.map((e) => e.type)).toContain('identity_linked');
    // A verified account keeps its password and its other sessions.
    expect((await request(`${s.url}/auth/signin`, { body: { email: u.email, password: u.password } })).status).toBe(
      200,
    );
    expect((await request(`${s.url}/auth/sessions`, { token: u.accessToken })).status).toBe(200);
  });

  it('when it links an account whose email was never verified, the unproven password and its sessions end', async () => {
    // Account pre-hijacking: an attacker signs up first with the victim's address.
    const squatter = await signUp(s);
    idp.setIdentity({ sub: `owner-${Date.now()}`, email: squatter.email, email_verified: true });
    const done = await callbackOf(await startFlow());
    expect((await refresh(s, refreshCookieFrom(done)!)).json.user.id).toBe(squatter.userId);
    expect((await request(`${s.url}/auth/sessions`, { token: squatter.accessToken })).status).toBe(401);
    const signin = await request(`${s.url}/auth/signin`, {
      body: { email: squatter.email, password: squatter.password },
    });
    expect(signin.status).toBe(401);
  });

  it('does not link an existing account when the email is not verified', async () => {
    const u = await signUp(s);
    idp.setIdentity({ sub: `unverified-${Date.now()}`, email: u.email, email_verified: false });
    const done = await callbackOf(await startFlow());
    expect(done.headers.location).toBe('/signin?error=oidc_failed');
    expect(refreshCookieFrom(done)).toBeUndefined();
    const ids = await asOwner(s.engine, (c) => c.query(`SELECT 1 FROM auth.identities WHERE user_id = $1`, [u.userId]));
    expect(ids.rowCount).toBe(0);
  });

  it('refuses a state mismatch', async () => {
    idp.setIdentity({ sub: `state-${Date.now()}`, email: `state-${Date.now()}@example.test`, email_verified: true });
    const flow = await startFlow();
    flow.callback.searchParams.set('state', 'forged-state-value');
    const done = await callback(flow.callback, flow.oidcCookie);
    expect(done.headers.location).toBe('/signin?error=oidc_failed');
    expect(refreshCookieFrom(done)).toBeUndefined();
  });

  it("refuses a callback carrying another attempt's cookie (login CSRF), and one without a cookie", async () => {
    idp.setIdentity({ sub: `csrf-${Date.now()}`, email: `csrf-${Date.now()}@example.test`, email_verified: true });
    const victim = await startFlow();
    const attacker = await startFlow();
    expect((await callback(attacker.callback, victim.oidcCookie)).headers.location).toBe('/signin?error=oidc_failed');
    expect((await callback(victim.callback, undefined)).headers.location).toBe('/signin?error=oidc_failed');
  });

  it('refuses a nonce mismatch in the ID token', async () => {
    idp.setIdentity({ sub: `nonce-${Date.now()}`, email: `nonce-${Date.now()}@example.test`, email_verified: true });
    const flow = await startFlow();
    idp.tamperNextNonce('a-different-nonce');
    const done = await callback(flow.callback, flow.oidcCookie);
    expect(done.headers.location).toBe('/signin?error=oidc_failed');
    expect(refreshCookieFrom(done)).toBeUndefined();
  });

  it('refuses a PKCE verifier that does not match the challenge', async () => {
    idp.setIdentity({ sub: `pkce-${Date.now()}`, email: `pkce-${Date.now()}@example.test`, email_verified: true });
    // Attempt A's code (bound to A's challenge) redeemed with attempt B's cookie, i.e.
    // B's verifier. State and nonce are made to match B so that only PKCE differs.
    const a = await startFlow();
    const b = await startFlow();
    const crossed = new URL(a.callback.href);
    crossed.searchParams.set('state', b.callback.searchParams.get('state')!);
    idp.tamperNextNonce(b.authorize.searchParams.get('nonce')!);
    const done = await callback(crossed, b.oidcCookie);
    expect(done.headers.location).toBe('/signin?error=oidc_failed');
    expect(refreshCookieFrom(done)).toBeUndefined();
    // Positive control: B's own code with B's own cookie completes.
    expect((await callback(b.callback, b.oidcCookie)).headers.location).toBe('/app');
  });
});

function callbackOf(flow: Awaited<ReturnType<typeof startFlow>>) {
  return callback(flow.callback, flow.oidcCookie);
}
