// The tenancy triggers and app.accept_invitation refuse with P0001 and HINT = one of
// our stable error codes (migrations/0003): translate those into AppErrors, so a rule
// enforced by the database reaches the client as the same clear 4xx code.
import type { Database, Tx } from '../db/index.ts';
import type { FastifyRequest } from 'fastify';
import { userTx } from '../server/scope.ts';
import { AppError, ERROR_STATUS, type ErrorCode } from '../shared/errors.ts';

const RAISED_CODES = new Set<ErrorCode>([
  'last_owner',
  'demo_restricted',
  'email_not_verified',
  'invitation_invalid',
  'invitation_expired',
  'invitation_revoked',
  'invitation_accepted',
  'invitation_email_mismatch',
]);

export function translateRaised(e: unknown): unknown {
  if (!e || typeof e !== 'object' || e instanceof AppError) return e;
  const { code, hint, message } = e as { code?: string; hint?: string; message?: string };
  if (code === 'P0001' && hint && hint in ERROR_STATUS && RAISED_CODES.has(hint as ErrorCode)) {
    // The message is ours (written in the migration), safe for the client.
    return new AppError(hint as ErrorCode, message ?? hint, { cause: e });
  }
  return e;
}

/** userTx (live session required) with the tenancy triggers' refusals translated. */
export async function tenancyTx<T>(db: Database, request: FastifyRequest, fn: (tx: Tx) => Promise<T>): Promise<T> {
  try {
    return await userTx(db, request, fn);
  } catch (e) {
    throw translateRaised(e);
  }
}
