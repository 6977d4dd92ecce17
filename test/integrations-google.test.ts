// The Google connection against a local OpenID provider: consent with
// PKCE + state + nonce bound to the starting browser, tokens only in the vault,
// server-side refresh, revocation at disconnect, audit rows for both changes, and no
// token in any response or log line.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OAuth2Server } from 'oauth2-mock-server';
import { asOwner } from '../src/db/engine.ts';
import { createGoogleConnection, CONNECT_COOKIE } from '../src/integrations/google/connection.ts';
import { parseMasterKey } from '../src/vault/master-key.ts';
import { createVault } from '../src/vault/secrets.ts';
import { signUp, type SignedUpUser } from './support/auth.ts';
import { startCapturingServer, type CapturingServer } from './support/capturing-server.ts';
import { addMember, newBusiness } from './support/factories.ts';
import { request as rawRequest, type HttpResponse, type RequestOptions } from './support/http.ts';

const MASTER = Buffer.alloc(32, 5).toString('base64');
const CLIENT_ID = 'capto-google-test';
let idp: OAuth2Server;
let s: CapturingServer;
let owner: SignedUpUser;
let admin: SignedUpUser;
let member: SignedUpUser;
let bid: string;
const issued: string[] = []; // every access/refresh/id token the provider handed out
const revoked: string[] = [];
const captured: string[] = [];

async function call<T = any>(path: string, options: RequestOptions = {}): Promise<HttpResponse<T>> {
  const res = await rawRequest<T>(path.startsWith('http') ? path : `${s.url}${path}`, options);
  captured.push(`${res.status} ${JSON.stringify(res.headers)} ${res.text}`);
  return res;
}

beforeAll(async () => {
  idp = new OAuth2Server();
  await idp.issuer.keys.generate('RS256');
  await idp.start(0, '127.0.0.1');
  idp.service.on('beforeTokenSigning', (token: { payload: Record<string, unknown> }) => {
    if (token.payload.aud === CLIENT_ID && !('scope' in token.payload))
      Object.assign(token.payload, { sub: 'g-123', email: 'Office@Lender.example', email_verified: true });
  });
  idp.service.on('beforeResponse', (res: { body: Record<string, unknown> }) => {
    for (const k of ['access_token', 'refresh_token', 'id_token'])
      if (typeof res.body[k] === 'string') issued.push(res.body[k] as string);
  });
  // The mock's /revoke route has no body parser: read the form body off the stream.
  idp.service.on('beforeRevoke', (_res: unknown, req: NodeJS.ReadableStream & { body?: Record<string, string> }) => {
    if (req.body?.token) return void revoked.push(req.body.token);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => revoked.push(new URLSearchParams(Buffer.concat(chunks).toString('utf8')).get('token') ?? ''));
  });
  s = await startCapturingServer({
    GOOGLE_CLIENT_ID: CLIENT_ID,
    GOOGLE_CLIENT_SECRET: 'not-a-real-secret-0123456789',
    GOOGLE_ISSUER: idp.issuer.url!,
    CAPTO_MASTER_KEY: MASTER,
  });
  owner = await signUp(s, { verified: true });
  admin = await signUp(s, { verified: true });
  member = await signUp(s, { verified: true });
  bid = (await newBusiness(s.engine, owner.userId)).id;
  await addMember(s.engine, bid, admin.userId, 'admin');
  await addMember(s.engine, bid, member.userId, 'member');
});
afterAll(async () => {
  await s?.stop();
  await idp?.stop();
});

const base = () => `/api/businesses/${bid}/integrations/google`;

/** Play the browser: start, follow the provider's redirect, return to the callback with (or without) the cookie. */
async function consent(user: SignedUpUser, opts: { withCookie?: boolean } = {}) {
  const start = await call(`${base()}/connect`, { token: user.accessToken });
  if (start.status !== 200) return { start };
  const setCookie = (start.headers['set-cookie'] ?? []).find((c) => c.startsWith(`${CONNECT_COOKIE}=`))!;
  expect(setCookie).toMatch(/HttpOnly/i);
  expect(setCookie).toMatch(/SameSite=Lax/i);
  const authorize = new URL(start.json.authorization_url);
  const atIdp = await fetch(authorize, { redirect: 'manual' });
  const callback = atIdp.headers.get('location')!;
  const back = await call(callback, { headers: opts.withCookie === false ? {} : { cookie: setCookie.split(';')[0]! } });
  return { start, authorize, back };
}

describe('Google connection', () => {
  it('members see the status but cannot connect', async () => {
    const st = await call(base(), { token: member.accessToken });
    expect(st.status).toBe(200);
    expect(st.json).toMatchObject({ configured: true, connected: false });
    expect((await call(`${base()}/connect`, { token: member.accessToken })).status).toBe(403);
  });

  it('asks for offline access with Gmail send and Business Profile scopes, PKCE and state', async () => {
    const { authorize, back } = await consent(admin, { withCookie: false });
    expect(authorize!.searchParams.get('access_type')).toBe('offline');
    expect(authorize!.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorize!.searchParams.get('state')).toBeTruthy();
    expect(authorize!.searchParams.get('nonce')).toBeTruthy();
    expect(authorize!.searchParams.get('scope')).toContain('https://www.googleapis.com/auth/gmail.send');
    expect(authorize!.searchParams.get('scope')).toContain('https://www.googleapis.com/auth/business.manage');
    // Without the browser-binding cookie the callback connects nothing.
    expect(back!.status).toBe(303);
    expect(back!.headers.location).toContain('google=failed');
    expect((await call(base(), { token: owner.accessToken })).json.connected).toBe(false);
  });

  it('an admin connects; the tokens are only in the vault; the change is audited', async () => {
    const { back } = await consent(admin);
    expect(back!.status).toBe(303);
    expect(back!.headers.location).toBe(`${s.config.publicUrl}/settings/integrations?business=${bid}&google=connected`);
    const st = await call(base(), { token: member.accessToken });
    expect(st.json).toMatchObject({
      connected: true,
      google_email: 'office@lender.example',
      connected_by: admin.userId,
      connected_by_email: admin.email,
    });
    expect(st.json.scopes.length).toBeGreaterThan(0);
    const secrets = await asOwner(s.engine, (c) =>
      c.query<{ kind: string }>('SELECT kind FROM vault.secrets WHERE business_id = $1', [bid]),
    );
    expect(secrets.rows).toEqual([{ kind: 'google.oauth_tokens' }]);
    const audit = await call(`/api/businesses/${bid}/integrations/audit`, { token: owner.accessToken });
    expect(audit.json.items.map((e: any) => [e.action, e.actor_email, e.details.google_email])).toEqual([
      ['google.connected', admin.email, 'office@lender.example'],
    ]);
    // A second connection is refused while one exists.
    expect((await call(`${base()}/connect`, { token: owner.accessToken })).status).toBe(409);
  });

  it('refreshes the access token server-side and keeps it sealed', async () => {
    const google = createGoogleConnection({ config: s.config, db: s.db, vault: createVault(parseMasterKey(MASTER)) });
    const first = await google.accessToken(bid);
    expect(issued).toContain(first);
    const before = issued.length;
    const refreshed = await google.accessToken(bid, 10 * 24 * 3600); // force: "expires too soon"
    expect(issued.length).toBeGreaterThan(before); // a refresh grant happened at the provider
    expect(issued.slice(before)).toContain(refreshed);
    const after = issued.length;
    expect(await google.accessToken(bid)).toBe(refreshed); // stored for the next caller, no new grant
    expect(issued.length).toBe(after);
  });

  it('members cannot disconnect; an admin disconnects, revoking at Google and deleting the secret', async () => {
    expect((await call(base(), { method: 'DELETE', token: member.accessToken })).status).toBe(403);
    const res = await call(base(), { method: 'DELETE', token: admin.accessToken });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ revoked: true });
    expect(revoked).toHaveLength(1);
    expect(issued).toContain(revoked[0]);
    const secrets = await asOwner(s.engine, (c) =>
      c.query('SELECT 1 FROM vault.secrets WHERE business_id = $1', [bid]),
    );
    expect(secrets.rowCount).toBe(0);
    const audit = await call(`/api/businesses/${bid}/integrations/audit`, { token: admin.accessToken });
    expect(audit.json.items.map((e: any) => e.action)).toEqual(['google.disconnected', 'google.connected']);
    expect((await call(base(), { method: 'DELETE', token: admin.accessToken })).status).toBe(404);
  });

  it('no response, header or log line contains a Google token', async () => {
    expect(issued.length).toBeGreaterThanOrEqual(4);
    const haystacks = [...captured, ...s.logLines];
    for (const token of issued) for (const text of haystacks) expect(text.includes(token)).toBe(false);
  });
});
