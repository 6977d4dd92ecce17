// Account flows after sign-in: password change, forgot/reset, email verification,
// the session list and revocation, and the user's own auth events. Reads of the
// caller's own rows run as capto_authenticated (RLS decides); writes as capto_service.
import type { Config } from '../config/index.ts';
import type { Claims, Database } from '../db/index.ts';
import type { Mailer } from '../mail/mailer.ts';
import { AppError } from '../shared/errors.ts';
import { recordAuthEvent } from './events.ts';
import type { BreachChecker } from './hibp.ts';
import { acceptNewPassword } from './new-password.ts';
import { consumeOneTimeToken, issueOneTimeToken } from './one-time-tokens.ts';
import { burnVerifyTime, verifyPassword } from './passwords.ts';
import { hashToken, revokeSessions, type RequestMeta } from './refresh-tokens.ts';
import type { AuthService } from './service.ts';

export interface AccountDeps {
  db: Database;
  config: Config;
  mailer: Mailer;
  breach: BreachChecker;
  service: AuthService;
}

/** Spend one account mail of an address (src/auth/rate-limits.ts). */
export type SpendMail = (address: string) => Promise<{ allowed: true } | { allowed: false; retryAfter: number }>;

export function createAccountService(deps: AccountDeps) {
  const { db, config } = deps;

  // ASVS 6.3.7: the owner of the address hears about every password change, so a
  // takeover does not go unnoticed. Sent in the background; never carries a secret.
  const notifyPasswordChanged = (to: string) =>
    void deps.mailer
      .send({
        to,
        subject: 'Your Capto password was changed',
        text: `The password of your Capto account was just changed. If this was you, there is nothing to do.\n\nIf it was not you, reset your password at ${config.publicUrl}/forgot-password and review your sessions under Settings.`,
      })
      .catch(() => undefined);

  return {
    /** Change the password: the current one is required; other sessions end unless kept (ASVS 7.4.3). */
    async changePassword(
      claims: Required<Claims>,
      current: string,
      next: string,
      keepOtherSessions: boolean,
      meta: RequestMeta,
    ): Promise<void> {
      const user = await db.asService(
        'auth.password.lookup',
        async (tx) =>
          (
            await tx.query<{ email: string; password_hash: string | null }>(
              'SELECT email::text AS email, password_hash FROM auth.users WHERE id = $1',
              [claims.sub],
            )
          ).rows[0],
      );
      if (!user) throw new AppError('unauthorized', 'sign in to continue');
      const ok = user.password_hash
        ? await verifyPassword(user.password_hash, current)
        : (await burnVerifyTime(current), false);
      if (!ok) throw new AppError('invalid_credentials', 'the current password is not correct');
      const accepted = await acceptNewPassword(next, user.email, deps.breach, config);
      await db.asService('auth.password.change', async (tx) => {
        await tx.query(
          `UPDATE auth.users SET password_hash = $2, password_check_pending = $3, must_change_password = false, password_changed_at = now(), updated_at = now() WHERE id = $1`,
          [claims.sub, accepted.hash, accepted.checkPending],
        );
        const revoked = keepOtherSessions
          ? []
          : await revokeSessions(tx, { userId: claims.sub, exceptSessionId: claims.sid }, 'password_changed');
        await recordAuthEvent(tx, {
          type: 'password_changed',
          userId: claims.sub,
          sessionId: claims.sid,
          ...meta,
          details: { other_sessions_revoked: revoked.length },
        });
        if (accepted.checkPending)
          await recordAuthEvent(tx, {
            type: 'password_check_pending',
            userId: claims.sub,
            ...meta,
            details: { at: 'password_change' },
          });
      });
      notifyPasswordChanged(user.email);
    },

    /**
     * Issue a reset token and mail it when `email` is registered; nothing otherwise. The
     * route answers "accepted" before calling this (ASVS 6.3.8: neither the answer nor
     * its timing tells a registered address from an unknown one).
     */
    async forgotPassword(email: string, meta: RequestMeta, spendMail: SpendMail): Promise<void> {
      const user = await db.asService(
        'auth.password.forgot.lookup',
        async (tx) =>
          (
            await tx.query<{ id: string; email: string }>(
              'SELECT id, email::text AS email FROM auth.users WHERE email = $1',
              [email],
            )
          ).rows[0],
      );
      if (!user) return;
      // Anyone may ask for a reset of any address: past the address's mail budget the
      // request is dropped (the answer is long gone, and was the same anyway), no new
      // token replaces the last one mailed, and the owner sees the refusal in her events.
      if (!(await spendMail(user.email)).allowed) {
        await db.asService('auth.password.forgot.limited', (tx) =>
          recordAuthEvent(tx, { type: 'rate_limited', userId: user.id, ...meta, details: { action: 'reset_mail' } }),
        );
        return;
      }
      const out = await db.asService('auth.password.forgot', async (tx) => {
        const token = await issueOneTimeToken(tx, user.id, user.email, 'password_reset');
        await recordAuthEvent(tx, { type: 'password_reset_requested', userId: user.id, ...meta });
        return { email: user.email, token };
      });
      if (!out) return;
      await deps.mailer.send({
        to: out.email,
        subject: 'Reset your Capto password',
        text: `Someone (hopefully you) asked to reset your Capto password. Open this link within 30 minutes to choose a new one:\n\n${config.publicUrl}/reset-password#token=${out.token}\n\nIf it was not you, ignore this message; your password stays as it is.`,
      });
    },

    /** Set a new password with a single-use reset token; every session of the user ends. */
    async resetPassword(token: string, next: string, meta: RequestMeta): Promise<void> {
      // Peek first (without consuming) so a rejected new password does not burn the link.
      const peek = await db.asService(
        'auth.password.reset.peek',
        async (tx) =>
          (
            await tx.query<{ email: string }>(
              `SELECT u.email::text AS email FROM auth.one_time_tokens t JOIN auth.users u ON u.id = t.user_id
            WHERE t.token_hash = $1 AND t.purpose = 'password_reset' AND t.used_at IS NULL AND t.expires_at > now()`,
              [hashToken(token)],
            )
          ).rows[0],
      );
      if (!peek) throw new AppError('token_invalid', 'this reset link is invalid or has expired; ask for a new one');
      const accepted = await acceptNewPassword(next, peek.email, deps.breach, config);
      const ok = await db.asService('auth.password.reset', async (tx) => {
        const used = await consumeOneTimeToken(tx, token, 'password_reset');
        if (!used) return false;
        await tx.query(
          `UPDATE auth.users SET password_hash = $2, password_check_pending = $3, must_change_password = false, password_changed_at = now(), updated_at = now(),
                  email_verified_at = coalesce(email_verified_at, CASE WHEN email = $4 THEN now() END) WHERE id = $1`,
          [used.userId, accepted.hash, accepted.checkPending, used.email],
        );
        const revoked = await revokeSessions(tx, { userId: used.userId }, 'password_reset');
        await recordAuthEvent(tx, {
          type: 'password_reset',
          userId: used.userId,
          ...meta,
          details: { sessions_revoked: revoked.length },
        });
        if (accepted.checkPending)
          await recordAuthEvent(tx, {
            type: 'password_check_pending',
            userId: used.userId,
            ...meta,
            details: { at: 'password_reset' },
          });
        return true;
      });
      if (!ok) throw new AppError('token_invalid', 'this reset link is invalid or has expired; ask for a new one');
      notifyPasswordChanged(peek.email);
    },

    async verifyEmail(token: string, meta: RequestMeta): Promise<void> {
      const ok = await db.asService('auth.email.verify', async (tx) => {
        const used = await consumeOneTimeToken(tx, token, 'email_verify');
        if (!used) return false;
        // Only the address the link was sent to is proven; a changed email stays unverified.
        const r = await tx.query(
          'UPDATE auth.users SET email_verified_at = coalesce(email_verified_at, now()), updated_at = now() WHERE id = $1 AND email = $2',
          [used.userId, used.email],
        );
        if (r.rowCount === 0) return false;
        await recordAuthEvent(tx, { type: 'email_verified', userId: used.userId, ...meta });
        return true;
      });
      if (!ok) throw new AppError('token_invalid', 'this verification link is invalid or has expired');
    },

    async resendVerification(claims: Required<Claims>, spendMail: SpendMail): Promise<void> {
      const u = await db.asService(
        'auth.email.resend.lookup',
        async (tx) =>
          (
            await tx.query<{ email: string; verified: boolean }>(
              'SELECT email::text AS email, email_verified_at IS NOT NULL AS verified FROM auth.users WHERE id = $1',
              [claims.sub],
            )
          ).rows[0],
      );
      if (!u || u.verified) return;
      // The address is not proven yet: it may be someone else's, so it gets few mails.
      const budget = await spendMail(u.email);
      if (!budget.allowed) {
        await db.asService('auth.email.resend.limited', (tx) =>
          recordAuthEvent(tx, { type: 'rate_limited', userId: claims.sub, details: { action: 'verify_mail' } }),
        );
        throw new AppError('rate_limited', 'too many verification mails to this address; try again later', {
          details: { retry_after: budget.retryAfter },
        });
      }
      const send = await db.asService('auth.email.resend', (tx) =>
        deps.service.sendVerification(tx, claims.sub, u.email),
      );
      await send();
    },

    async listSessions(claims: Required<Claims>) {
      return db.asUser(
        claims,
        async (tx) =>
          (
            await tx.query<{
              id: string;
              user_agent: string | null;
              ip: string | null;
              created_at: Date;
              refreshed_at: Date;
              not_after: Date;
            }>(
              `SELECT id, user_agent, ip, created_at, refreshed_at, not_after FROM auth.sessions
            WHERE revoked_at IS NULL AND not_after > now() AND refreshed_at + idle_timeout > now()
            ORDER BY created_at DESC LIMIT 100`,
            )
          ).rows.map((r) => ({ ...r, current: r.id === claims.sid })),
        { requireLiveSession: true },
      );
    },

    /** Revoke one of the caller's sessions. Someone else's session id is "not found", never "forbidden". */
    async revokeSession(claims: Required<Claims>, sessionId: string, meta: RequestMeta): Promise<void> {
      const own = await db.asUser(
        claims,
        async (tx) => (await tx.query('SELECT 1 FROM auth.sessions WHERE id = $1', [sessionId])).rowCount > 0,
        { requireLiveSession: true },
      );
      if (!own) throw new AppError('not_found', 'session not found');
      await db.asService('auth.session.revoke', async (tx) => {
        const revoked = await revokeSessions(tx, { sessionIds: [sessionId] }, 'revoked_by_user');
        if (revoked.length > 0)
          await recordAuthEvent(tx, {
            type: 'session_revoked',
            userId: claims.sub,
            sessionId,
            ...meta,
            details: { reason: 'revoked_by_user' },
          });
      });
    },

    async listEvents(claims: Required<Claims>, limit: number, includeRefreshes = false) {
      return db.asUser(
        claims,
        async (tx) =>
          (
            await tx.query<{
              id: string;
              type: string;
              ip: string | null;
              user_agent: string | null;
              details: unknown;
              created_at: Date;
            }>(
              `SELECT id, type, ip, user_agent, details, created_at FROM auth.audit_events
                WHERE $2 OR type <> 'token_refreshed' ORDER BY created_at DESC LIMIT $1`,
              [limit, includeRefreshes],
            )
          ).rows,
        { requireLiveSession: true },
      );
    },
  };
}

export type AccountService = ReturnType<typeof createAccountService>;
