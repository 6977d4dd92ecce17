// Single-use tokens for links sent by mail (email verification, password reset) and for
// the forced password change. Stored as SHA-256; consuming one is an UPDATE … WHERE
// used_at IS NULL, so two requests racing with the same link cannot both succeed.
import type { Tx } from '../db/index.ts';
import { hashToken, newOpaqueToken } from './refresh-tokens.ts';

export type OneTimePurpose = 'email_verify' | 'password_reset';

export const ONE_TIME_TTL_MINUTES: Record<OneTimePurpose, number> = {
  email_verify: 24 * 60,
  password_reset: 30, // minutes, as the reset mail says
};

export async function issueOneTimeToken(
  tx: Tx,
  userId: string,
  email: string,
  purpose: OneTimePurpose,
): Promise<string> {
  const token = newOpaqueToken();
  // A new link supersedes older unused ones of the same purpose.
  await tx.query(
    `UPDATE auth.one_time_tokens SET used_at = now() WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL`,
    [userId, purpose],
  );
  await tx.query(
    `INSERT INTO auth.one_time_tokens (user_id, purpose, token_hash, email, expires_at)
     VALUES ($1, $2, $3, $4, now() + make_interval(mins => $5))`,
    [userId, purpose, hashToken(token), email, ONE_TIME_TTL_MINUTES[purpose]],
  );
  return token;
}

/** Mark the token used and return its user, or undefined when unknown, used or expired. */
export async function consumeOneTimeToken(
  tx: Tx,
  token: string,
  purpose: OneTimePurpose,
): Promise<{ userId: string; email: string } | undefined> {
  const r = await tx.query<{ user_id: string; email: string }>(
    `UPDATE auth.one_time_tokens SET used_at = now()
      WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > now()
      RETURNING user_id, email::text`,
    [hashToken(token), purpose],
  );
  const row = r.rows[0];
  return row ? { userId: row.user_id, email: row.email } : undefined;
}
