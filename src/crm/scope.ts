// Every CRM route runs in the caller's transaction AND inside one business. RLS already
// hides other businesses' rows; this check turns "a business you are not in" into the
// same 404 as "no such business", before any service runs, so list endpoints never
// answer a foreign business id with an empty 200 (which would confirm it exists).
import type { FastifyRequest } from 'fastify';
import type { Database, Tx } from '../db/index.ts';
import { requireClaims, userTx } from '../server/auth-context.ts';
import { AppError } from '../shared/errors.ts';

export interface BusinessTx {
  tx: Tx;
  businessId: string;
  userId: string;
}

export async function assertMember(tx: Tx, businessId: string): Promise<void> {
  const r = await tx.query<{ ok: boolean }>('SELECT app.is_member($1) AS ok', [businessId]);
  if (r.rows[0]?.ok !== true) throw new AppError('not_found', 'business not found');
}

export function inBusiness<T>(
  db: Database,
  request: FastifyRequest,
  businessId: string,
  fn: (s: BusinessTx) => Promise<T>,
): Promise<T> {
  const claims = requireClaims(request);
  // The membership check rides in the transaction's set-up round trip (userTx memberOf).
  return userTx(db, request, (tx) => fn({ tx, businessId, userId: claims.sub }), { memberOf: businessId });
}
