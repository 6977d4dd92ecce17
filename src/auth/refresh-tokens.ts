// Sessions and their opaque refresh tokens (P8, ASVS V7). A token is 256 random bits;
// only its SHA-256 is stored. Rotation runs in ONE transaction with the presented
// token's row locked FOR UPDATE, so racing
// refreshes serialise on the lock and cannot both mint a successor.
import { createHash, createHmac, randomBytes } from 'node:crypto';
import type { Tx } from '../db/index.ts';
import type { VaultKey } from '../vault/envelope.ts';

export const REFRESH_GRACE_SECONDS = 10;

export interface SessionLimits {
  maxAgeDays: number;
  idleDays: number;
}

export interface RequestMeta {
  ip: string | null;
  userAgent: string | null;
}

export const hashToken = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();
export const newOpaqueToken = (): string => randomBytes(32).toString('base64url');

/**
 * The successor of a refresh token is HMAC(successor key, token): two tabs racing
 * with the same token within the grace window get the SAME successor without the
 * plaintext ever being stored, and nobody without the server key can compute it —
 * a thief holding an old token after the window still has to present it and trips
 * reuse detection.
 */
export const successorOf = (key: VaultKey, token: string): string =>
  createHmac('sha256', key.bytes).update(`refresh-successor|${token}`).digest('base64url');

export async function createSession(
  tx: Tx,
  userId: string,
  meta: RequestMeta,
  limits: SessionLimits,
): Promise<{ sessionId: string; refreshToken: string }> {
  const s = await tx.query<{ id: string }>(
    `INSERT INTO auth.sessions (user_id, user_agent, ip, not_after, idle_timeout)
     VALUES ($1, $2, $3, now() + make_interval(days => $4), make_interval(days => $5)) RETURNING id`,
    [userId, meta.userAgent?.slice(0, 512) ?? null, meta.ip?.slice(0, 64) ?? null, limits.maxAgeDays, limits.idleDays],
  );
  const sessionId = s.rows[0]!.id;
  const refreshToken = newOpaqueToken();
  await tx.query('INSERT INTO auth.refresh_tokens (session_id, token_hash) VALUES ($1, $2)', [
    sessionId,
    hashToken(refreshToken),
  ]);
  return { sessionId, refreshToken };
}

export type RotationResult =
  | { kind: 'rotated'; userId: string; sessionId: string; refreshToken: string; replayed: boolean }
  | { kind: 'invalid' }
  | { kind: 'reused'; userId: string; sessionId: string };

interface TokenRow {
  id: string;
  session_id: string;
  user_id: string;
  rotated: boolean;
  revoked: boolean;
  in_grace: boolean;
  session_live: boolean;
}

export async function rotateRefreshToken(tx: Tx, token: string, successorKey: VaultKey): Promise<RotationResult> {
  const found = await tx.query<TokenRow>(
    `SELECT rt.id, rt.session_id, s.user_id,
            rt.rotated_at IS NOT NULL AS rotated,
            rt.revoked_at IS NOT NULL AS revoked,
            coalesce(now() - rt.rotated_at <= make_interval(secs => $2), false) AS in_grace,
            (s.revoked_at IS NULL AND s.not_after > now() AND s.refreshed_at + s.idle_timeout > now()) AS session_live
       FROM auth.refresh_tokens rt JOIN auth.sessions s ON s.id = rt.session_id
      WHERE rt.token_hash = $1
      FOR UPDATE OF rt`,
    [hashToken(token), REFRESH_GRACE_SECONDS],
  );
  const row = found.rows[0];
  if (!row || !row.session_live) return { kind: 'invalid' };
  const successor = successorOf(successorKey, token);
  if (!row.rotated && !row.revoked) {
    await tx.query('UPDATE auth.refresh_tokens SET rotated_at = now() WHERE id = $1', [row.id]);
    await tx.query('INSERT INTO auth.refresh_tokens (session_id, token_hash, parent_id) VALUES ($1, $2, $3)', [
      row.session_id,
      hashToken(successor),
      row.id,
    ]);
    await tx.query('UPDATE auth.sessions SET refreshed_at = now() WHERE id = $1', [row.session_id]);
    return {
      kind: 'rotated',
      userId: row.user_id,
      sessionId: row.session_id,
      refreshToken: successor,
      replayed: false,
    };
  }
  if (row.rotated && !row.revoked && row.in_grace) {
    // Two tabs racing with one token (the second waited on the row lock above): both
    // get the successor the first one minted, and no second live token exists.
    return { kind: 'rotated', userId: row.user_id, sessionId: row.session_id, refreshToken: successor, replayed: true };
  }
  // A rotated token presented after the grace window: either the legitimate client
  // or a thief holds a copy. We cannot tell which, so the whole session dies.
  await revokeSessions(tx, { sessionIds: [row.session_id] }, 'refresh_token_reused');
  return { kind: 'reused', userId: row.user_id, sessionId: row.session_id };
}

export type RevokeReason =
  | 'sign_out'
  | 'sign_out_global'
  | 'sign_out_others'
  | 'revoked_by_user'
  | 'refresh_token_reused'
  | 'password_changed'
  | 'password_reset';

/** Revoke sessions (and all their refresh tokens). Returns the ids actually revoked. */
export async function revokeSessions(
  tx: Tx,
  which: { sessionIds: string[] } | { userId: string; exceptSessionId?: string },
  reason: RevokeReason,
): Promise<string[]> {
  const r =
    'sessionIds' in which
      ? await tx.query<{ id: string }>(
          `UPDATE auth.sessions SET revoked_at = now(), revoked_reason = $2 WHERE id = ANY($1::uuid[]) AND revoked_at IS NULL RETURNING id`,
          [which.sessionIds, reason],
        )
      : await tx.query<{ id: string }>(
          `UPDATE auth.sessions SET revoked_at = now(), revoked_reason = $2
            WHERE user_id = $1 AND revoked_at IS NULL AND ($3::uuid IS NULL OR id <> $3::uuid) RETURNING id`,
          [which.userId, reason, which.exceptSessionId ?? null],
        );
  const ids = r.rows.map((x) => x.id);
  const all = 'sessionIds' in which ? which.sessionIds : ids;
  if (all.length > 0) {
    await tx.query(
      'UPDATE auth.refresh_tokens SET revoked_at = now() WHERE session_id = ANY($1::uuid[]) AND revoked_at IS NULL',
      [all],
    );
  }
  return ids;
}

/** The session a refresh token belongs to, if the token is known (sign-out by cookie). */
export async function sessionOfToken(
  tx: Tx,
  token: string,
): Promise<{ sessionId: string; userId: string } | undefined> {
  const r = await tx.query<{ session_id: string; user_id: string }>(
    `SELECT rt.session_id, s.user_id FROM auth.refresh_tokens rt JOIN auth.sessions s ON s.id = rt.session_id WHERE rt.token_hash = $1`,
    [hashToken(token)],
  );
  const row = r.rows[0];
  return row ? { sessionId: row.session_id, userId: row.user_id } : undefined;
}
