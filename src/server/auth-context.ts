// How route handlers learn who is calling. The auth module's onRequest hook verifies
// the bearer token and sets `request.claims`; handlers then open their transaction
// with `userTx`, which also checks in the same round trip that the session is live,
// so sign-out and revocation take effect at once (issue 3 §5).
import type { FastifyRequest } from 'fastify';
import type { Claims, Database, Tx } from '../db/index.ts';
import { AppError } from '../shared/errors.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Verified access-token claims, or null for an anonymous request. */
    claims: Claims | null;
  }
}

export function requireClaims(request: FastifyRequest): Claims {
  if (!request.claims) throw new AppError('unauthorized', 'sign in to continue');
  return request.claims;
}

/**
 * Run `fn` as the signed-in caller, refusing revoked or expired sessions; with
 * `memberOf`, also answer 404 `not_found` unless the caller belongs to that business
 * (same round trip). GET and HEAD run READ ONLY.
 */
export function userTx<T>(
  db: Database,
  request: FastifyRequest,
  fn: (tx: Tx) => Promise<T>,
  options: { memberOf?: string } = {},
): Promise<T> {
  // GET and HEAD never change anything (RFC 9110 §9.2.1): their transactions are READ ONLY.
  const readOnly = request.method === 'GET' || request.method === 'HEAD';
  return db.asUser(requireClaims(request), fn, { requireLiveSession: true, memberOf: options.memberOf, readOnly });
}
