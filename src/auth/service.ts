// The core authentication flows: sign-up, sign-in, refresh, sign-out. Each multi-step
// write is one transaction as capto_service; events are recorded in the same one.
// Failures that must still leave a trace (a failed sign-in, a reused refresh token)
// commit their event first and throw afterwards.
import type { Config } from '../config/index.ts';
import type { Claims, Database, Tx } from '../db/index.ts';
import { AppError } from '../shared/errors.ts';
import type { VaultKey } from '../vault/envelope.ts';
import type { Mailer } from '../mail/mailer.ts';
import type { AccessTokens } from './access-tokens.ts';
import { recordAuthEvent } from './events.ts';
import type { BreachChecker } from './hibp.ts';
import { acceptNewPassword } from './new-password.ts';
import { issueOneTimeToken } from './one-time-tokens.ts';
import { burnVerifyTime, verifyPassword } from './passwords.ts';
import {
  createSession,
  revokeSessions,
  rotateRefreshToken,
  sessionOfToken,
  type RequestMeta,
} from './refresh-tokens.ts';

export interface AuthServiceDeps {
  db: Database;
  config: Config;
  mailer: Mailer;
  breach: BreachChecker;
  tokens: AccessTokens;
  successorKey: VaultKey;
}

export interface PublicUser {
  id: string;
  email: string;
  email_verified: boolean;
}

export interface SignedIn {
  user: PublicUser;
  sessionId: string;
  accessToken: string;
  expiresIn: number;
  refreshToken: string;
}

export type SignOutScope = 'local' | 'global' | 'others';

interface UserRow {
  id: string;
  email: string;
  password_hash: string | null;
  email_verified_at: Date | null;
  password_check_pending: boolean;
  must_change_password: boolean;
}

const USER_COLUMNS =
  'id, email::text AS email, password_hash, email_verified_at, password_check_pending, must_change_password';

export function createAuthService(deps: AuthServiceDeps) {
  const { db, config } = deps;
  const limits = { maxAgeDays: config.sessionMaxAgeDays, idleDays: config.sessionIdleDays };

  async function finish(user: PublicUser, sessionId: string, refreshToken: string): Promise<SignedIn> {
    const { token, expiresIn } = await deps.tokens.issue({ sub: user.id, sid: sessionId });
    return { user, sessionId, accessToken: token, expiresIn, refreshToken };
  }

  async function sendVerification(tx: Tx, userId: string, email: string): Promise<() => Promise<void>> {
    const token = await issueOneTimeToken(tx, userId, email, 'email_verify');
    return () =>
      deps.mailer.send({
        to: email,
        subject: 'Confirm your email address for Capto',
        text: `Confirm your email address by opening this link:\n\n${config.publicUrl}/verify-email#token=${token}\n\nThe link expires in 24 hours. If you did not sign up for Capto, ignore this message.`,
      });
  }

  return {
    /** A new account with a password. The verification link goes out by mail. */
    async signUp(email: string, password: string, meta: RequestMeta): Promise<SignedIn> {
      const accepted = await acceptNewPassword(password, email, deps.breach, config);
      const out = await db.asService('auth.signup', async (tx) => {
        const inserted = await tx.query<{ id: string; email: string }>(
          `INSERT INTO auth.users (email, password_hash, password_check_pending, password_changed_at)
           VALUES ($1, $2, $3, now()) ON CONFLICT (email) DO NOTHING RETURNING id, email::text AS email`,
          [email, accepted.hash, accepted.checkPending],
        );
        const user = inserted.rows[0];
        if (!user) return undefined;
        await recordAuthEvent(tx, { type: 'sign_up', userId: user.id, ...meta });
        if (accepted.checkPending)
          await recordAuthEvent(tx, {
            type: 'password_check_pending',
            userId: user.id,
            ...meta,
            details: { at: 'sign_up' },
          });
        const { sessionId, refreshToken } = await createSession(tx, user.id, meta, limits);
        await recordAuthEvent(tx, {
          type: 'sign_in',
          userId: user.id,
          sessionId,
          ...meta,
          details: { method: 'sign_up' },
        });
        const mail = await sendVerification(tx, user.id, user.email);
        return { user: { id: user.id, email: user.email, email_verified: false }, sessionId, refreshToken, mail };
      });
      // Sign-up cannot hide that an address is taken without breaking "sign up and you
      // are in"; the per-IP rate limit bounds how fast anyone can probe (docs/ARCHITECTURE.md).
      if (!out)
        throw new AppError('email_taken', 'an account with this email already exists; sign in or reset your password');
      await out.mail().catch(() => undefined);
      return finish(out.user, out.sessionId, out.refreshToken);
    },

    /** Email + password. Unknown email and wrong password are indistinguishable, in body and in time. */
    async signIn(email: string, password: string, meta: RequestMeta): Promise<SignedIn> {
      const user = await db.asService(
        'auth.signin.lookup',
        async (tx) =>
          (await tx.query<UserRow>(`SELECT ${USER_COLUMNS} FROM auth.users WHERE email = $1`, [email])).rows[0],
      );
      const ok = user?.password_hash
        ? await verifyPassword(user.password_hash, password)
        : (await burnVerifyTime(password), false);
      if (!user || !ok) {
        await db.asService('auth.signin.failed', (tx) =>
          recordAuthEvent(tx, {
            type: 'sign_in_failed',
            userId: user?.id ?? null,
            ...meta,
            details: { reason: 'invalid_credentials' },
          }),
        );
        throw invalidCredentials();
      }
      let mustChange = user.must_change_password;
      let stillPending = user.password_check_pending;
      if (user.password_check_pending) {
        // The plaintext is at hand only now: finish the HIBP check an outage postponed.
        const verdict = await deps.breach.check(password);
        if (verdict !== 'unavailable') {
          stillPending = false;
          if (verdict === 'breached') mustChange = true;
        }
      }
      const out = await db.asService('auth.signin', async (tx) => {
        if (stillPending !== user.password_check_pending || mustChange !== user.must_change_password) {
          await tx.query(
            'UPDATE auth.users SET password_check_pending = $2, must_change_password = $3, updated_at = now() WHERE id = $1',
            [user.id, stillPending, mustChange],
          );
        }
        if (mustChange) {
          await recordAuthEvent(tx, {
            type: 'sign_in_failed',
            userId: user.id,
            ...meta,
            details: { reason: 'password_change_required' },
          });
          return { resetToken: await issueOneTimeToken(tx, user.id, user.email, 'password_reset') };
        }
        const { sessionId, refreshToken } = await createSession(tx, user.id, meta, limits);
        await recordAuthEvent(tx, {
          type: 'sign_in',
          userId: user.id,
          sessionId,
          ...meta,
          details: { method: 'password' },
        });
        return { sessionId, refreshToken };
      });
      if ('resetToken' in out) {
        // The password was found in a breach: the only thing it still buys is a reset.
        throw new AppError(
          'password_change_required',
          'this password appears in a known data breach; choose a new one to continue',
          {
            details: { reset_token: out.resetToken },
          },
        );
      }
      return finish(publicUser(user), out.sessionId, out.refreshToken);
    },

    /** Rotate a refresh token (P8): the successor and a fresh access token. */
    async refresh(token: string, meta: RequestMeta): Promise<SignedIn> {
      const result = await db.asService('auth.refresh', async (tx) => {
        const r = await rotateRefreshToken(tx, token, deps.successorKey);
        if (r.kind === 'reused') {
          await recordAuthEvent(tx, {
            type: 'refresh_token_reused',
            userId: r.userId,
            sessionId: r.sessionId,
            ...meta,
          });
          await recordAuthEvent(tx, {
            type: 'session_revoked',
            userId: r.userId,
            sessionId: r.sessionId,
            ...meta,
            details: { reason: 'refresh_token_reused' },
          });
          return { r };
        }
        if (r.kind === 'invalid') return { r };
        if (!r.replayed)
          await recordAuthEvent(tx, { type: 'token_refreshed', userId: r.userId, sessionId: r.sessionId, ...meta });
        const user = (await tx.query<UserRow>(`SELECT ${USER_COLUMNS} FROM auth.users WHERE id = $1`, [r.userId]))
          .rows[0]!;
        return { r, user };
      });
      const r = result.r;
      if (r.kind === 'reused')
        throw new AppError('refresh_token_reused', 'this sign-in was ended for your protection; sign in again');
      if (r.kind === 'invalid' || !result.user) throw new AppError('refresh_token_invalid', 'sign in again');
      return finish(publicUser(result.user), r.sessionId, r.refreshToken);
    },

    /** End the caller's session (local), all her sessions (global) or all but this one (others). */
    async signOut(
      who: { claims?: Claims | null; refreshToken?: string },
      scope: SignOutScope,
      meta: RequestMeta,
    ): Promise<void> {
      await db.asService('auth.signout', async (tx) => {
        let userId = who.claims?.sub;
        let sessionId = who.claims?.sid;
        if (!userId && who.refreshToken) {
          const s = await sessionOfToken(tx, who.refreshToken);
          userId = s?.userId;
          sessionId = s?.sessionId;
        }
        if (!userId || !sessionId) return;
        const reason = scope === 'local' ? 'sign_out' : scope === 'global' ? 'sign_out_global' : 'sign_out_others';
        const revoked =
          scope === 'local'
            ? await revokeSessions(tx, { sessionIds: [sessionId] }, reason)
            : await revokeSessions(tx, { userId, exceptSessionId: scope === 'others' ? sessionId : undefined }, reason);
        await recordAuthEvent(tx, {
          type: 'sign_out',
          userId,
          sessionId,
          ...meta,
          details: { scope, sessions: revoked.length },
        });
      });
    },

    /** Sign a user in after an external identity proved who she is (Google). */
    async signInUser(
      tx: Tx,
      userId: string,
      meta: RequestMeta,
      method: string,
    ): Promise<{ sessionId: string; refreshToken: string }> {
      const s = await createSession(tx, userId, meta, limits);
      await recordAuthEvent(tx, { type: 'sign_in', userId, sessionId: s.sessionId, ...meta, details: { method } });
      return s;
    },

    finish,
    sendVerification,
  };
}

export type AuthService = ReturnType<typeof createAuthService>;

export function publicUser(row: { id: string; email: string; email_verified_at: Date | null }): PublicUser {
  return { id: row.id, email: row.email, email_verified: row.email_verified_at !== null };
}

export const invalidCredentials = () => new AppError('invalid_credentials', 'the email or password is not correct');
