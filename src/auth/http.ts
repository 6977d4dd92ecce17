// HTTP details of the auth endpoints: the refresh cookie, the Origin check on
// cookie-authenticated endpoints, and the request metadata recorded with events.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../shared/errors.ts';
import type { RequestMeta } from './refresh-tokens.ts';
import type { SignedIn } from './service.ts';

export const REFRESH_COOKIE = 'capto_refresh';
export const REFRESH_COOKIE_PATH = '/auth';

export function requestMeta(request: FastifyRequest): RequestMeta {
  const ua = request.headers['user-agent'];
  return { ip: request.ip ?? null, userAgent: typeof ua === 'string' ? ua.slice(0, 512) : null };
}

/**
 * The refresh cookie is the one credential a browser attaches by itself, so every
 * endpoint that reads it refuses a foreign Origin (ASVS 3.5.x, CSRF). SameSite=Strict
 * is the first wall; this is the second, for same-site-but-cross-origin pages.
 * Non-browser clients send no Origin and cannot be driven by another site.
 */
export function assertSameOrigin(request: FastifyRequest, publicUrl: string): void {
  const origin = request.headers.origin;
  const site = request.headers['sec-fetch-site'];
  if (site === 'cross-site') throw originError();
  if (origin === undefined) return;
  if (origin !== new URL(publicUrl).origin) throw originError();
}

const originError = () => new AppError('origin_not_allowed', 'this request must come from the Capto app itself');

export function setRefreshCookie(reply: FastifyReply, token: string, maxAgeDays: number): void {
  reply.setCookie(REFRESH_COOKIE, token, {
    httpOnly: true,
    secure: true,
    sameSite: 'strict',
    path: REFRESH_COOKIE_PATH,
    maxAge: maxAgeDays * 86_400,
  });
}

export function clearRefreshCookie(reply: FastifyReply): void {
  reply.clearCookie(REFRESH_COOKIE, { httpOnly: true, secure: true, sameSite: 'strict', path: REFRESH_COOKIE_PATH });
}

export function refreshCookieOf(request: FastifyRequest): string | undefined {
  const v = request.cookies?.[REFRESH_COOKIE];
  return typeof v === 'string' && /^[A-Za-z0-9_-]{43}$/.test(v) ? v : undefined;
}

/** The body of sign-in, sign-up and refresh responses (docs/ARCHITECTURE.md §15). The refresh token goes only in the cookie. */
export function tokenResponse(s: SignedIn) {
  return { access_token: s.accessToken, token_type: 'bearer' as const, expires_in: s.expiresIn, user: s.user };
}
