// Incremental consent for the Google connection (migration 0126, docs/ARCHITECTURE.md §26) on the
// engine under test, against the OpenID fake (which grants like Google: granular consent and
// `include_granted_scopes`) and the Business Profile fake trusting its tokens: a connection made
// without business.manage answers 409 google_scope_missing pointing at the new endpoint; an admin
// adds the scope (same PKCE, state and browser binding as connect), the held scopes are merged
// and the new tokens replace the old ones in the vault, with a google.scopes_added row in the
// hash-chained log; members and other businesses are refused; the database refuses a scope change
// without that audit row.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordIntegrationChange } from '../src/audit/integration-events.ts';
import { verifyAuditChains } from '../src/audit/verify.ts';
import { asOwner } from '../src/db/engine.ts';
import { CONNECT_COOKIE } from '../src/integrations/google/connection.ts';
import { BUSINESS_MANAGE, startGoogleBusinessFake, type GoogleBusinessFake } from './fakes/google-business.ts';
import { startFakeOidc, type FakeOidc } from './fakes/oidc.ts';
import { signUp, type SignedUpUser } from './support/auth.ts';
import { ENGINE } from './support/engine.ts';
import { addMember, newBusiness } from './support/factories.ts';
import { request, type HttpResponse, type RequestOptions } from './support/http.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { probe } from './support/tenancy.ts';

const GMAIL_SEND = 'https://www.googleapis.com/auth/gmail.send';
const IDENTITY = { sub: 'g-office', email: 'Office@Lender.example', email_verified: true };
let idp: FakeOidc;
let gbp: GoogleBusinessFake;
let s: TestServer;
let owner: SignedUpUser, admin: SignedUpUser, member: SignedUpUser, otherAdmin: SignedUpUser;
let bid: string;
let otherBid: string;
const captured: string[] = [];

async function call<T = any>(path: string, options: RequestOptions = {}): Promise<HttpResponse<T>> {
  const res = await request<T>(path.startsWith('http') ? path : `${s.url}${path}`, options);
  captured.push(`${res.status} ${JSON.stringify(res.headers)} ${res.text}`);
  return res;
}

beforeAll(async () => {
  idp = await startFakeOidc();
  idp.setIdentity(IDENTITY);
  gbp = await startGoogleBusinessFake();
  gbp.trustIssuer(idp.issuer);
  gbp.addAccountWithLocation();
  s = await startTestServer({
    GOOGLE_CLIENT_ID: idp.clientId,
    GOOGLE_CLIENT_SECRET: idp.clientSecret,
    GOOGLE_ISSUER: idp.issuer,
    GOOGLE_API_BASE: gbp.url,
  });
  [owner, admin, member, otherAdmin] = (await Promise.all(
    Array.from({ length: 4 }, () => signUp(s, { verified: true })),
  )) as [SignedUpUser, SignedUpUser, SignedUpUser, SignedUpUser];
  bid = (await newBusiness(s.engine, owner.userId)).id;
  await addMember(s.engine, bid, admin.userId, 'admin');
  await addMember(s.engine, bid, member.userId, 'member');
  otherBid = (await newBusiness(s.engine, otherAdmin.userId)).id;
}, 300_000);
afterAll(async () => {
  await s?.stop();
  await gbp?.close();
  await idp?.close();
});

const base = () => `/api/businesses/${bid}/integrations/google`;

/** Play the browser: the API's consent URL, the provider's redirect, back to the callback with the cookie. */
async function consent(start: HttpResponse<any>, opts: { cookie?: boolean; rewrite?: (callback: URL) => void } = {}) {
  const setCookie = (start.headers['set-cookie'] ?? []).find((c) => c.startsWith(`${CONNECT_COOKIE}=`))!;
  expect(setCookie).toMatch(/HttpOnly/i);
  expect(setCookie).toMatch(/SameSite=Lax/i);
  const authorize = new URL(start.json.authorization_url);
  const atIdp = await fetch(authorize, { redirect: 'manual' });
  const callback = new URL(atIdp.headers.get('location')!);
  opts.rewrite?.(callback);
  const back = await call(callback.href, {
    headers: opts.cookie === false ? {} : { cookie: setCookie.split(';')[0]! },
  });
  expect(back.status).toBe(303);
  return { authorize, callback, back, cookie: setCookie.split(';')[0]! };
}

const addScopes = (user: SignedUpUser, businessId = bid, scopes = [BUSINESS_MANAGE]) =>
  call(`/api/businesses/${businessId}/integrations/google/scopes`, {
    method: 'POST',
    token: user.accessToken,
    body: { scopes },
  });

const connection = async () =>
  (
    await asOwner(s.engine, (c) =>
      c.query<{ scopes: string[]; secret_id: string; ciphertext: Buffer }>(
        `SELECT g.scopes, g.secret_id, v.ciphertext FROM app.google_connections g
           JOIN vault.secrets v ON v.id = g.secret_id WHERE g.business_id = $1`,
        [bid],
      ),
    )
  ).rows[0]!;
const actions = async () =>
  (await call(`/api/businesses/${bid}/integrations/audit`, { token: owner.accessToken })).json.items.map(
    (e: any) => e.action,
  );

describe(`Google incremental consent (${ENGINE})`, () => {
  it('a connection made without business.manage answers 409 google_scope_missing naming the endpoint', async () => {
    idp.declineScopes([BUSINESS_MANAGE]); // the person unticks Business Profile on Google's screen
    const { back } = await consent(await call(`${base()}/connect`, { token: admin.accessToken }));
    expect(back.headers.location).toContain('google=connected');
    const st = await call(base(), { token: member.accessToken });
    expect(st.json.scopes).toContain(GMAIL_SEND);
    expect(st.json.scopes).not.toContain(BUSINESS_MANAGE);
    expect(st.json.access.map((a: any) => [a.key, a.held, a.addable])).toEqual([
      ['sign_in', true, false],
      ['gmail_send', true, false],
      ['business_manage', false, true],
    ]);
    expect(st.json.access[2].purpose).toMatch(/Business Profile/);
    const res = await call(`/api/businesses/${bid}/google/locations`, { token: admin.accessToken });
    expect(res.status).toBe(409);
    expect(res.json.error).toMatchObject({
      code: 'google_scope_missing',
      missing_scope: BUSINESS_MANAGE,
      add_scope: {
        method: 'POST',
        path: `/api/businesses/${bid}/integrations/google/scopes`,
        body: { scopes: [BUSINESS_MANAGE] },
      },
    });
  });

  it('members and other businesses cannot start it; bad scopes are 400', async () => {
    const before = idp.authorizeRequests.length;
    const flows = async () =>
      (await asOwner(s.engine, (c) => c.query('SELECT 1 FROM vault.oauth_flows WHERE business_id = $1', [bid])))
        .rowCount;
    const pending = await flows();
    expect((await addScopes(member)).status).toBe(403);
    expect((await addScopes(otherAdmin)).status).toBe(404);
    expect((await addScopes(admin, otherBid)).status).toBe(404);
    expect((await addScopes(otherAdmin, otherBid)).json.error.code).toBe('google_not_connected');
    expect((await addScopes(admin, bid, ['https://mail.google.com/'])).status).toBe(400);
    expect((await addScopes(admin, bid, [])).status).toBe(400);
    expect(await flows()).toBe(pending);
    expect(idp.authorizeRequests.length).toBe(before);
  });

  it('asks for the new scope on top of those held, for the same account, with PKCE and state', async () => {
    const start = await addScopes(admin);
    expect(start.status).toBe(200);
    expect(start.json.requested_scopes).toEqual([BUSINESS_MANAGE]);
    const url = new URL(start.json.authorization_url);
    expect(url.searchParams.get('include_granted_scopes')).toBe('true');
    expect(url.searchParams.get('scope')!.split(' ').sort()).toEqual(['email', 'openid', BUSINESS_MANAGE].sort());
    expect(url.searchParams.get('login_hint')).toBe('office@lender.example');
    expect(url.searchParams.get('access_type')).toBe('offline');
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(url.searchParams.get('state')).toBeTruthy();
    expect(url.searchParams.get('nonce')).toBeTruthy();
  });

  it('unticking the scope again, or choosing another Google account, changes nothing', async () => {
    const held = await connection();
    // Still unticked on Google's screen (before any consent granted it: Google remembers grants).
    expect((await consent(await addScopes(admin))).back.headers.location).toContain('google=scope_declined');
    idp.declineScopes([]);
    idp.setIdentity({ sub: 'g-someone-else', email: 'someone@else.example', email_verified: true });
    try {
      expect((await consent(await addScopes(admin))).back.headers.location).toContain('google=account_mismatch');
    } finally {
      idp.setIdentity(IDENTITY);
    }
    const after = await connection();
    expect(after.scopes).toEqual(held.scopes);
    expect(after.ciphertext.equals(held.ciphertext)).toBe(true);
    expect(await actions()).toEqual(['google.connected']);
  });

  it('the callback extends nothing without the cookie, with another state, a wrong PKCE verifier, or twice', async () => {
    const held = await connection();
    idp.declineScopes([]);
    // No browser-binding cookie: a consent link sent to someone else does nothing.
    expect((await consent(await addScopes(admin), { cookie: false })).back.headers.location).toContain('google=failed');
    // The state in the URL must be the cookie's.
    const other = await consent(await addScopes(admin), {
      rewrite: (cb) => cb.searchParams.set('state', 'x'.repeat(43)),
    });
    expect(other.back.headers.location).toContain('google=failed');
    // A verifier that does not match the challenge Google saw (the fake checks PKCE).
    const start = await addScopes(admin);
    await asOwner(s.engine, (c) =>
      c.query(`UPDATE vault.oauth_flows SET code_verifier = $2 WHERE business_id = $1 AND connection_id IS NOT NULL`, [
        bid,
        'v'.repeat(64),
      ]),
    );
    const badPkce = await consent(start);
    expect(badPkce.back.headers.location).toContain('google=failed');
    // Replaying a consumed callback (single-use flow).
    expect((await call(badPkce.callback.href, { headers: { cookie: badPkce.cookie } })).headers.location).toContain(
      'google=failed',
    );
    const after = await connection();
    expect(after.scopes).toEqual(held.scopes);
    expect(after.ciphertext.equals(held.ciphertext)).toBe(true);
    expect(await actions()).toEqual(['google.connected']);
  });

  it('an admin adds Business Profile access: scopes merged, new tokens sealed, audited, and the API works', async () => {
    const held = await connection();
    const { back } = await consent(await addScopes(admin));
    expect(back.headers.location).toBe(
      `${s.config.publicUrl}/settings/integrations?business=${bid}&google=scopes_added`,
    );
    const after = await connection();
    expect(after.secret_id).toBe(held.secret_id); // the same sealed secret, replaced in place
    expect(after.ciphertext.equals(held.ciphertext)).toBe(false);
    for (const sc of held.scopes) expect(after.scopes).toContain(sc); // nothing held is lost
    expect(after.scopes).toContain(BUSINESS_MANAGE);
    const st = await call(base(), { token: member.accessToken });
    expect(st.json.access.every((a: any) => a.held && !a.addable)).toBe(true);
    const audit = await call(`/api/businesses/${bid}/integrations/audit`, { token: owner.accessToken });
    expect(audit.json.items[0]).toMatchObject({
      action: 'google.scopes_added',
      actor_email: admin.email,
      details: { google_email: 'office@lender.example', scopes_added: BUSINESS_MANAGE },
    });
    const report = await asOwner(s.engine, (c) => verifyAuditChains(c, bid));
    expect(report).toMatchObject({ rows: 2, broken: [] });
    // The Business Profile API now accepts the connection's (new) token.
    const locations = await call(`/api/businesses/${bid}/google/locations`, { token: admin.accessToken });
    expect(locations.status).toBe(200);
    expect(locations.json.items).toHaveLength(1);
    // Asking again for what is held is a conflict, not a consent screen.
    expect((await addScopes(owner)).status).toBe(409);
  });

  it('the database refuses a scope change without an owner/admin audit row, and any request-role write', async () => {
    const attempt = (actor: string | null, scopes: string[]) =>
      s.db
        .asService('test.google.scopes', async (tx) => {
          const conn = await tx.query<{ id: string }>('SELECT id FROM app.google_connections WHERE business_id = $1', [
            bid,
          ]);
          if (actor)
            await recordIntegrationChange(tx, {
              businessId: bid,
              actorUserId: actor,
              action: 'google.scopes_added',
              subjectId: conn.rows[0]!.id,
              details: {},
            });
          await tx.query('UPDATE app.google_connections SET scopes = $2 WHERE business_id = $1', [bid, scopes]);
          throw new Error('rollback');
        })
        .then(
          () => 'committed',
          (e: { code?: string; message?: string }) => e.code ?? e.message,
        );
    const { scopes } = await connection();
    const more = [...scopes, 'https://www.googleapis.com/auth/calendar'];
    expect(await attempt(null, more)).toMatch(/^(42501|forbidden)$/);
    expect(await attempt(member.userId, more)).toMatch(/^(42501|forbidden)$/);
    expect(await attempt(admin.userId, more)).toBe('rollback'); // allowed, then rolled back by the test
    expect(await attempt(admin.userId, ['openid'])).toMatch(/^(42501|forbidden)$/); // scopes only grow
    for (const who of [owner, admin, member])
      expect(
        await probe(s.db, who.userId, `UPDATE app.google_connections SET scopes = scopes || '{x}'::text[]`),
      ).toMatchObject({ kind: 'error', code: '42501' });
  });

  it('no response, header or log line carries a Google token', async () => {
    const secrets = await asOwner(s.engine, (c) =>
      c.query<{ n: number }>('SELECT count(*)::int AS n FROM vault.secrets WHERE business_id = $1', [bid]),
    );
    expect(secrets.rows[0]!.n).toBe(1);
    for (const text of captured) expect(text).not.toMatch(/"(access|refresh|id)_token"/);
  });
});
