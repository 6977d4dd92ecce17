// Who is calling, in which business: the transactions a route opens for its caller (who
// went through the authentication step, authenticate.ts). `userTx` runs the handler as
// the caller (RLS applies; the session's liveness is re-checked in the transaction's
// set-up round trip, so even a sign-out between the step and the transaction wins).
// `inBusiness` also confines it to one business: RLS already hides other businesses'
// rows; the membership check turns "a business you are not in" into the same 404 as "no
// such business", before any service runs, so list endpoints never answer a foreign
// business id with an empty 200 (which would confirm it exists). It rides in the same
// set-up round trip. GET and HEAD run READ ONLY. On a route declaring
// `config: { sessionInTransaction: true }` this set-up's liveness check is the only one
// (the step skipped its own round trip, authenticate.ts): the caller becomes readable by
// `callerOf` once it has passed.
import type { FastifyRequest } from 'fastify';
import type { Database, Tx } from '../db/index.ts';
import { callerForTransaction } from './authenticate.ts';

export interface BusinessTx {
  tx: Tx;
  businessId: string;
  userId: string;
}

export function userTx<T>(
  db: Database,
  request: FastifyRequest,
  fn: (tx: Tx) => Promise<T>,
  options: { memberOf?: string } = {},
): Promise<T> {
  // GET and HEAD never change anything (RFC 9110 §9.2.1): their transactions are READ ONLY.
  const readOnly = request.method === 'GET' || request.method === 'HEAD';
  const { caller, checked, ended } = callerForTransaction(request);
  return db.asUser(caller, fn, { requireLiveSession: true, memberOf: options.memberOf, readOnly }).then(
    (out) => {
      checked();
      return out;
    },
    (e: unknown) => {
      ended(e);
      throw e;
    },
  );
}

export function inBusiness<T>(
  db: Database,
  request: FastifyRequest,
  businessId: string,
  fn: (s: BusinessTx) => Promise<T>,
): Promise<T> {
  const { sub } = callerForTransaction(request).caller;
  return userTx(db, request, (tx) => fn({ tx, businessId, userId: sub }), { memberOf: businessId });
}
