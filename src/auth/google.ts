// Google sign-in with openid-client: authorization code + PKCE (S256) +
// state + nonce. The three secrets of one attempt travel in a short-lived HttpOnly
// cookie sealed with a vault subkey (AES-256-GCM: the browser can neither read the
// PKCE verifier nor forge the state). The ID token is checked for iss, aud, exp and
// nonce by openid-client; identities are keyed by (provider, sub), and an existing
// account is linked only when Google says the email is verified.
import * as oidc from 'openid-client';
import type { Config } from '../config/index.ts';
import type { Database } from '../db/index.ts';
import { AppError } from '../shared/errors.ts';
import { open, seal, isEnvelope, type VaultKey } from '../vault/envelope.ts';
import { recordAuthEvent } from './events.ts';
import { revokeSessions, type RequestMeta } from './refresh-tokens.ts';
import { publicUser, type AuthService, type SignedIn } from './service.ts';

export const OIDC_COOKIE = 'capto_oidc';
export const OIDC_COOKIE_PATH = '/auth/google';
const ATTEMPT_TTL_MS = 10 * 60_000;
const COOKIE_AAD = 'auth.google.attempt';

interface Attempt {
  state: string;
  nonce: string;
  verifier: string;
  exp: number;
}

export interface GoogleSignIn {
  readonly configured: boolean;
  /** The authorization URL to redirect to, and the sealed cookie value binding this attempt. */
  start(): Promise<{ url: string; cookie: string }>;
  /** Finish the flow from the callback URL and the attempt cookie. */
  finish(callbackUrl: URL, cookie: string | undefined, meta: RequestMeta): Promise<SignedIn>;
}

export function createGoogleSignIn(deps: {
  config: Config;
  db: Database;
  service: AuthService;
  cookieKey: VaultKey;
}): GoogleSignIn {
  const { config, db, service } = deps;
  const { clientId, clientSecret, issuer } = config.google;
  const redirectUri = `${config.publicUrl}/auth/google/callback`;
  let discovered: Promise<oidc.Configuration> | undefined;

  function configuration(): Promise<oidc.Configuration> {
    discovered ??= oidc
      .discovery(new URL(issuer), clientId!, undefined, oidc.ClientSecretPost(clientSecret), {
        // Plain-HTTP issuers exist only as local test providers; production refuses them.
        execute: !config.isProduction && new URL(issuer).protocol === 'http:' ? [oidc.allowInsecureRequests] : [],
        timeout: 5,
      })
      .catch((e: unknown) => {
        discovered = undefined;
        throw new AppError('upstream_error', 'Google sign-in is unavailable right now', { cause: e });
      });
    return discovered;
  }

  return {
    configured: Boolean(clientId && clientSecret),

    async start() {
      if (!clientId || !clientSecret)
        throw new AppError('google_not_configured', 'Google sign-in is not set up on this server');
      const c = await configuration();
      const attempt: Attempt = {
        state: oidc.randomState(),
        nonce: oidc.randomNonce(),
        verifier: oidc.randomPKCECodeVerifier(),
        exp: Date.now() + ATTEMPT_TTL_MS,
      };
      const url = oidc.buildAuthorizationUrl(c, {
        redirect_uri: redirectUri,
        scope: 'openid email profile',
        response_type: 'code',
        state: attempt.state,
        nonce: attempt.nonce,
        code_challenge: await oidc.calculatePKCECodeChallenge(attempt.verifier),
        code_challenge_method: 'S256',
        prompt: 'select_account',
      });
      const cookie = Buffer.from(JSON.stringify(seal(deps.cookieKey, JSON.stringify(attempt), COOKIE_AAD))).toString(
        'base64url',
      );
      return { url: url.href, cookie };
    },

    async finish(callbackUrl, cookie, meta) {
      if (!clientId || !clientSecret)
        throw new AppError('google_not_configured', 'Google sign-in is not set up on this server');
      const attempt = readAttempt(deps.cookieKey, cookie);
      const c = await configuration();
      let claims: oidc.IDToken | undefined;
      try {
        const tokens = await oidc.authorizationCodeGrant(c, callbackUrl, {
          pkceCodeVerifier: attempt.verifier,
          expectedState: attempt.state,
          expectedNonce: attempt.nonce,
          idTokenExpected: true,
        });
        claims = tokens.claims();
      } catch (e) {
        throw new AppError('oidc_failed', 'Google sign-in did not complete; try again', { cause: e });
      }
      if (!claims || typeof claims.sub !== 'string')
        throw new AppError('oidc_failed', 'Google did not identify the account');
      const sub = claims.sub;
      const email = typeof claims.email === 'string' ? claims.email.toLowerCase() : undefined;
      const emailVerified = claims.email_verified === true;

      const out = await db.asService('auth.google.signin', async (tx) => {
        const known = await tx.query<{ user_id: string }>(
          `SELECT user_id FROM auth.identities WHERE provider = 'google' AND subject = $1`,
          [sub],
        );
        let userId = known.rows[0]?.user_id;
        if (userId) {
          await tx.query(
            `UPDATE auth.identities SET last_sign_in_at = now(), email = $2 WHERE provider = 'google' AND subject = $1`,
            [sub, email ?? null],
          );
        } else {
          if (!email) return { refused: 'no_email' as const };
          const existing = await tx.query<{ id: string; verified: boolean }>(
            'SELECT id, email_verified_at IS NOT NULL AS verified FROM auth.users WHERE email = $1 FOR UPDATE',
            [email],
          );
          userId = existing.rows[0]?.id;
          if (userId && emailVerified && !existing.rows[0]!.verified) {
            // Account pre-hijacking: someone may have signed up with this address before
            // its owner. Whoever set that password never proved the address, so the
            // password and every session it opened end here; the owner (just proven by
            // Google) keeps the account and can set a password through "forgot password".
            await tx.query(
              'UPDATE auth.users SET password_hash = NULL, password_check_pending = false, must_change_password = false, updated_at = now() WHERE id = $1',
              [userId],
            );
            await revokeSessions(tx, { userId }, 'password_reset');
            await recordAuthEvent(tx, {
              type: 'session_revoked',
              userId,
              ...meta,
              details: { reason: 'unverified_account_claimed_by_google' },
            });
          }
          if (userId && !emailVerified) {
            // Linking on an unverified claim would let anyone who can type the victim's
            // address into an IdP account take over her Capto account.
            return { refused: 'unverified_email' as const };
          }
          if (!userId) {
            if (!emailVerified) return { refused: 'unverified_email' as const };
            const created = await tx.query<{ id: string }>(
              'INSERT INTO auth.users (email, email_verified_at) VALUES ($1, now()) RETURNING id',
              [email],
            );
            userId = created.rows[0]!.id;
            await recordAuthEvent(tx, { type: 'sign_up', userId, ...meta, details: { method: 'google' } });
          }
          await tx.query(
            `INSERT INTO auth.identities (user_id, provider, subject, email, last_sign_in_at) VALUES ($1, 'google', $2, $3, now())`,
            [userId, sub, email],
          );
          // Google vouched for the address: it counts as verified here too.
          await tx.query('UPDATE auth.users SET email_verified_at = coalesce(email_verified_at, now()) WHERE id = $1', [
            userId,
          ]);
          await recordAuthEvent(tx, { type: 'identity_linked', userId, ...meta, details: { provider: 'google' } });
        }
        const session = await service.signInUser(tx, userId, meta, 'google');
        const user = (
          await tx.query<{ id: string; email: string; email_verified_at: Date | null }>(
            'SELECT id, email::text AS email, email_verified_at FROM auth.users WHERE id = $1',
            [userId],
          )
        ).rows[0]!;
        return { user, ...session };
      });
      if ('refused' in out) {
        const reason: string = out.refused ?? 'refused';
        await db.asService('auth.google.refused', (tx) =>
          recordAuthEvent(tx, { type: 'sign_in_failed', ...meta, details: { method: 'google', reason } }),
        );
        throw new AppError(
          'oidc_failed',
          'Google did not confirm this email address; sign in with your password instead',
        );
      }
      return service.finish(publicUser(out.user), out.sessionId, out.refreshToken);
    },
  };
}

function readAttempt(key: VaultKey, cookie: string | undefined): Attempt {
  const fail = () =>
    new AppError('oidc_failed', 'the Google sign-in attempt expired or was started elsewhere; try again');
  if (!cookie || cookie.length > 4096) throw fail();
  let attempt: Attempt;
  try {
    const envelope: unknown = JSON.parse(Buffer.from(cookie, 'base64url').toString('utf8'));
    if (!isEnvelope(envelope)) throw fail();
    attempt = JSON.parse(open(key, envelope, COOKIE_AAD).toString('utf8')) as Attempt;
  } catch {
    throw fail();
  }
  if (typeof attempt.exp !== 'number' || attempt.exp < Date.now()) throw fail();
  return attempt;
}
