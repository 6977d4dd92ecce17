// Signing users up and in through the real HTTP API, for every module's tests.
import { randomBytes } from 'node:crypto';
import { asOwner } from '../../src/db/engine.ts';
import { request, type HttpResponse } from './http.ts';
import type { TestServer } from './server.ts';

export interface SignedUpUser {
  userId: string;
  email: string;
  password: string;
  accessToken: string;
  /** `capto_refresh=<token>`, ready for a Cookie header. */
  refreshCookie: string;
  sessionId: string;
}

export const strongPassword = (): string => `Cpt-${randomBytes(12).toString('base64url')}-9`;
export const freshEmail = (label = 'user'): string => `${label}-${randomBytes(5).toString('hex')}@example.test`;

/** The `capto_refresh=…` pair from a response's Set-Cookie, or undefined. */
export function refreshCookieFrom(res: HttpResponse): string | undefined {
  const cookies = res.headers['set-cookie'] ?? [];
  for (const c of cookies) {
    const m = /^capto_refresh=([^;]*)/.exec(c);
    if (m && m[1]) return `capto_refresh=${m[1]}`;
  }
  return undefined;
}

/** The session id inside an access token (no verification: tests only). */
export function sessionIdOf(accessToken: string): string {
  const payload = JSON.parse(Buffer.from(accessToken.split('.')[1]!, 'base64url').toString('utf8')) as { sid: string };
  return payload.sid;
}

export async function signUp(
  server: TestServer,
  opts: { email?: string; password?: string; verified?: boolean } = {},
): Promise<SignedUpUser> {
  const email = opts.email ?? freshEmail();
  const password = opts.password ?? strongPassword();
  const res = await request(`${server.url}/auth/signup`, { body: { email, password } });
  if (res.status !== 201) throw new Error(`sign-up failed: ${res.status} ${res.text}`);
  const body = res.json as { access_token: string; user: { id: string } };
  if (opts.verified) {
    await asOwner(server.engine, (c) =>
      c.query('UPDATE auth.users SET email_verified_at = now() WHERE id = $1', [body.user.id]),
    );
  }
  return {
    userId: body.user.id,
    email: email.toLowerCase(),
    password,
    accessToken: body.access_token,
    refreshCookie: refreshCookieFrom(res)!,
    sessionId: sessionIdOf(body.access_token),
  };
}

export async function signIn(
  server: TestServer,
  email: string,
  password: string,
): Promise<{ accessToken: string; refreshCookie: string; sessionId: string; userId: string }> {
  const res = await request(`${server.url}/auth/signin`, { body: { email, password } });
  if (res.status !== 200) throw new Error(`sign-in failed: ${res.status} ${res.text}`);
  const body = res.json as { access_token: string; user: { id: string } };
  return {
    accessToken: body.access_token,
    refreshCookie: refreshCookieFrom(res)!,
    sessionId: sessionIdOf(body.access_token),
    userId: body.user.id,
  };
}

/** POST /auth/token with a refresh cookie. */
export function refresh(
  server: TestServer,
  refreshCookie: string,
  headers: Record<string, string> = {},
): Promise<HttpResponse<any>> {
  return request(`${server.url}/auth/token`, { method: 'POST', headers: { cookie: refreshCookie, ...headers } });
}
