// Who is calling, in which business: the one helper every business route uses. It runs
// the handler in the caller's transaction (userTx: live session, RLS as the caller) AND
// inside one business. RLS already hides other businesses' rows; the membership check
// turns "a business you are not in" into the same 404 as "no such business", before any
// service runs, so list endpoints never answer a foreign business id with an empty 200
// (which would confirm it exists). The check rides in the transaction's set-up round trip.
import type { FastifyRequest } from 'fastify';
import type { Database, Tx } from '../db/index.ts';
import { requireClaims, userTx } from './auth-context.ts';

export interface BusinessTx {
  tx: Tx;
  businessId: string;
  userId: string;
}

export function inBusiness<T>(
  db: Database,
  request: FastifyRequest,
  businessId: string,
  fn: (s: BusinessTx) => Promise<T>,
): Promise<T> {
  const claims = requireClaims(request);
  return userTx(db, request, (tx) => fn({ tx, businessId, userId: claims.sub }), { memberOf: businessId });
}
