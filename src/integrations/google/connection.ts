// The business's Google connection: OAuth consent by an owner/admin with
// offline access (Gmail send + Business Profile), authorization code + PKCE (S256) +
// state + nonce via openid-client; a scope the connection lacks is added later by
// incremental consent (same flow, `include_granted_scopes`, merged into the connection). Access and refresh tokens exist only sealed in the
// vault; the refresh happens here, server-side; disconnect revokes the grant at
// Google (the revocation endpoint from discovery) and deletes the secret. Connect and
// disconnect are audited in the same transaction as the change.
//
// The flow is bound twice: the state names a server-side row (vault.oauth_flows: who,
// which business, the PKCE verifier), and the same state sits in an HttpOnly cookie
// of the browser that started it, so a victim who follows an attacker's consent link
// cannot attach her Google account to the attacker's business.
import { createHash, randomUUID } from 'node:crypto';
import * as oidc from 'openid-client';
import type { Config } from '../../config/index.ts';
import type { Database, Tx } from '../../db/index.ts';
import { recordIntegrationChange } from '../../audit/integration-events.ts';
import { AppError } from '../../shared/errors.ts';
import type { Vault } from '../../vault/secrets.ts';
import { assertCanManageIntegrations, type Actor } from '../permissions.ts';

export const GMAIL_SEND_SCOPE = 'https://www.googleapis.com/auth/gmail.send';
export const BUSINESS_MANAGE_SCOPE = 'https://www.googleapis.com/auth/business.manage';
export const GOOGLE_SCOPES = ['openid', 'email', GMAIL_SEND_SCOPE, BUSINESS_MANAGE_SCOPE];
/** Scopes an existing connection may add by incremental consent (docs/ARCHITECTURE.md §26). */
export const ADDABLE_SCOPES = [GMAIL_SEND_SCOPE, BUSINESS_MANAGE_SCOPE] as const;
export type AddableScope = (typeof ADDABLE_SCOPES)[number];

/** What each scope is for, as Settings shows it (the scope string Google grants, and what Capto does with it). */
export const SCOPE_PURPOSES: readonly { key: string; scope: string; label: string; purpose: string }[] = [
  {
    key: 'sign_in',
    scope: 'openid email',
    label: 'Sign-in identity',
    purpose: 'Which Google account is connected — shown here and in the audit log.',
  },
  {
    key: 'gmail_send',
    scope: GMAIL_SEND_SCOPE,
    label: 'Send email as you (Gmail)',
    purpose: 'Gmail email senders: 1:1 email and campaigns go out from this Gmail address. Capto cannot read mail.',
  },
  {
    key: 'business_manage',
    scope: BUSINESS_MANAGE_SCOPE,
    label: 'Business Profile',
    purpose: 'Attach your Business Profile location, publish posts, read reviews and post replies.',
  },
];
// Google answers `email` as its userinfo URL.
const EMAIL_SCOPES = ['email', 'https://www.googleapis.com/auth/userinfo.email'];
const holds = (held: readonly string[], scope: string) =>
  scope.split(' ').every((one) => (one === 'email' ? EMAIL_SCOPES.some((e) => held.includes(e)) : held.includes(one)));
export const CONNECT_COOKIE = 'capto_google_connect';
export const CALLBACK_PATH = '/api/integrations/google/callback';
const FLOW_TTL_MINUTES = 10;

interface StoredTokens {
  access_token: string;
  refresh_token?: string;
  /** epoch milliseconds */
  expires_at: number;
  scope?: string;
}

export interface ScopeAccess {
  key: string;
  scope: string;
  label: string;
  purpose: string;
  /** Granted to the connection. */
  held: boolean;
  /** Not held, and an owner/admin can add it to the connection (POST …/integrations/google/scopes). */
  addable: boolean;
}

export interface GoogleStatus {
  connected: boolean;
  google_email: string | null;
  scopes: string[];
  access: ScopeAccess[];
  connected_by: string | null;
  connected_by_email: string | null;
  connected_at: string | null;
}

interface Flow {
  business_id: string;
  user_id: string;
  code_verifier: string;
  nonce: string;
  ip: string | null;
  user_agent: string | null;
  connection_id: string | null;
  scopes: string[] | null;
}

export type FinishOutcome = 'connected' | 'scopes_added' | 'scope_declined';

const stateHash = (state: string) => createHash('sha256').update(state, 'utf8').digest();

export function createGoogleConnection(deps: { config: Config; db: Database; vault: Vault }) {
  const { config, db, vault } = deps;
  const { clientId, clientSecret, issuer } = config.google;
  const redirectUri = `${config.publicUrl}${CALLBACK_PATH}`;
  let discovered: Promise<oidc.Configuration> | undefined;

  function configuration(): Promise<oidc.Configuration> {
    // 404, not 501: for a tenant "no Google on this server" is an absent feature, not a server fault.
    if (!clientId || !clientSecret)
      return Promise.reject(new AppError('not_found', 'Google is not set up on this server'));
    discovered ??= oidc
      .discovery(new URL(issuer), clientId, undefined, oidc.ClientSecretPost(clientSecret), {
        // Plain-HTTP issuers exist only as local test providers; production refuses them.
        execute: !config.isProduction && new URL(issuer).protocol === 'http:' ? [oidc.allowInsecureRequests] : [],
        timeout: 5,
      })
      .catch((e: unknown) => {
        discovered = undefined;
        throw new AppError('upstream_error', 'Google is unavailable right now; try again shortly', { cause: e });
      });
    return discovered;
  }

  // Serialises refresh and disconnect of one business's connection (the service role
  // holds no UPDATE on the row, so no row lock: a transaction-scoped advisory lock).
  const lockConnection = (tx: Tx, businessId: string) =>
    tx.query(`SELECT pg_advisory_xact_lock(hashtextextended('capto.google:' || $1::text, 0))`, [businessId]);

  async function secretOf(tx: Tx, businessId: string, lock = false) {
    if (lock) await lockConnection(tx, businessId);
    const r = await tx.query<{ id: string; secret_id: string; google_email: string | null }>(
      'SELECT id, secret_id, google_email FROM app.google_connections WHERE business_id = $1',
      [businessId],
    );
    const row = r.rows[0];
    if (!row) return undefined;
    const tokens = JSON.parse(
      await vault.readSecret(tx, { businessId, id: row.secret_id, kind: 'google.oauth_tokens' }),
    ) as StoredTokens;
    return { ...row, tokens };
  }

  async function insertFlow(
    tx: Tx,
    f: {
      state: string;
      businessId: string;
      actor: Actor;
      verifier: string;
      nonce: string;
      connectionId?: string;
      scopes?: string[];
    },
  ) {
    await tx.query('DELETE FROM vault.oauth_flows WHERE expires_at < now()');
    await tx.query(
      `INSERT INTO vault.oauth_flows (state_hash, business_id, user_id, code_verifier, nonce, ip, user_agent, connection_id, scopes, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now() + make_interval(mins => ${FLOW_TTL_MINUTES}))`,
      [
        stateHash(f.state),
        f.businessId,
        f.actor.userId,
        f.verifier,
        f.nonce,
        f.actor.ip?.slice(0, 64) ?? null,
        f.actor.userAgent?.slice(0, 512) ?? null,
        f.connectionId ?? null,
        f.scopes ?? null,
      ],
    );
  }

  /**
   * The second half of incremental consent: Google granted `granted` (with include_granted_scopes,
   * the union of the old grant and the new one) to the same Google account; the connection's
   * scopes become the union, its sealed tokens the new ones, with the audit row, in one transaction.
   */
  async function mergeScopes(
    flow: Flow & { connection_id: string; scopes: string[] },
    tokens: StoredTokens,
    granted: string[],
    googleEmail: string | null,
  ): Promise<'scopes_added' | 'scope_declined'> {
    return db.asService('integrations.google.add-scopes', async (tx) => {
      // The starter must still be an owner/admin now, not only ten minutes ago.
      await assertCanManageIntegrations(tx, flow.business_id, flow.user_id);
      await lockConnection(tx, flow.business_id);
      const r = await tx.query<{ id: string; secret_id: string; google_email: string | null; scopes: string[] }>(
        'SELECT id, secret_id, google_email, scopes FROM app.google_connections WHERE business_id = $1',
        [flow.business_id],
      );
      const conn = r.rows[0];
      // Disconnected (and perhaps connected again) since the flow started: extend nothing.
      if (!conn || conn.id !== flow.connection_id)
        throw new AppError('oidc_failed', 'the Google connection changed meanwhile; start again');
      // Another Google account chosen at the consent screen: its tokens never join this connection.
      if (!googleEmail || googleEmail !== conn.google_email)
        throw new AppError(
          'google_account_mismatch',
          `choose ${conn.google_email ?? 'the connected account'} at Google`,
        );
      // None of the asked-for scopes granted (unticked on Google's screen): keep the connection as it is.
      if (!flow.scopes.some((sc) => holds(granted, sc))) return 'scope_declined';
      const added = [...new Set(granted)].filter((sc) => !conn.scopes.includes(sc));
      if (added.length === 0) return 'scopes_added'; // a concurrent consent added them already
      const merged = [...conn.scopes, ...added].slice(0, 20);
      await recordIntegrationChange(tx, {
        businessId: flow.business_id,
        actorUserId: flow.user_id,
        action: 'google.scopes_added',
        subjectId: conn.id,
        details: { google_email: conn.google_email ?? undefined, scopes_added: added.join(' ').slice(0, 500) },
        ip: flow.ip,
        userAgent: flow.user_agent,
      });
      await vault.replaceSecret(
        tx,
        { businessId: flow.business_id, id: conn.secret_id, kind: 'google.oauth_tokens' },
        JSON.stringify({ ...tokens, scope: merged.join(' ') } satisfies StoredTokens),
      );
      await tx.query('UPDATE app.google_connections SET scopes = $2 WHERE id = $1', [conn.id, merged]);
      return 'scopes_added';
    });
  }

  /** Google's consent URL: PKCE (S256), offline access with consent prompted (Google returns a
   *  refresh token only then), earlier grants included; `login_hint` pins the account. */
  const authorizationUrl = async (
    c: oidc.Configuration,
    f: { scopes: readonly string[]; state: string; nonce: string; verifier: string; loginHint?: string | null },
  ): Promise<URL> =>
    oidc.buildAuthorizationUrl(c, {
      redirect_uri: redirectUri,
      scope: f.scopes.join(' '),
      response_type: 'code',
      state: f.state,
      nonce: f.nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(f.verifier),
      code_challenge_method: 'S256',
      access_type: 'offline',
      prompt: 'consent',
      include_granted_scopes: 'true',
      ...(f.loginHint ? { login_hint: f.loginHint } : {}),
    });

  return {
    configured: Boolean(clientId && clientSecret),

    /** As the caller (any member): connection facts, never a token. */
    async status(tx: Tx, businessId: string): Promise<GoogleStatus> {
      const r = await tx.query<{
        google_email: string | null;
        scopes: string[];
        connected_by: string | null;
        connected_by_email: string | null;
        connected_at: Date;
      }>(
        `SELECT g.google_email, g.scopes, g.connected_by, g.connected_at,
                (SELECT u.email::text FROM auth.users u WHERE u.id = g.connected_by) AS connected_by_email
           FROM app.google_connections g WHERE g.business_id = $1`,
        [businessId],
      );
      const row = r.rows[0];
      const access = (held: string[] | undefined): ScopeAccess[] =>
        SCOPE_PURPOSES.map((p) => {
          const has = held ? holds(held, p.scope) : false;
          return { ...p, held: has, addable: Boolean(held) && !has && ADDABLE_SCOPES.some((a) => a === p.scope) };
        });
      if (!row)
        return {
          connected: false,
          google_email: null,
          scopes: [],
          access: access(undefined),
          connected_by: null,
          connected_by_email: null,
          connected_at: null,
        };
      return { connected: true, ...row, access: access(row.scopes), connected_at: row.connected_at.toISOString() };
    },

    /** Start consent: returns the authorization URL and the state for the browser-binding cookie. */
    async start(actor: Actor, businessId: string): Promise<{ url: string; state: string }> {
      // Role first: a member or outsider learns nothing about the server's setup.
      await db.asService('integrations.google.precheck', (tx) =>
        assertCanManageIntegrations(tx, businessId, actor.userId),
      );
      const c = await configuration();
      const state = oidc.randomState();
      const nonce = oidc.randomNonce();
      const verifier = oidc.randomPKCECodeVerifier();
      await db.asService('integrations.google.start', async (tx) => {
        await assertCanManageIntegrations(tx, businessId, actor.userId);
        const existing = await tx.query('SELECT 1 FROM app.google_connections WHERE business_id = $1', [businessId]);
        if (existing.rowCount > 0)
          throw new AppError('conflict', 'a Google account is already connected; disconnect it first');
        await insertFlow(tx, { state, businessId, actor, verifier, nonce });
      });
      const url = await authorizationUrl(c, { scopes: GOOGLE_SCOPES, state, nonce, verifier });
      return { url: url.href, state };
    },

    /**
     * Incremental consent (docs/ARCHITECTURE.md §26): ask Google for `scopes` on top of what the
     * connection holds, for the same account (`login_hint`), with `include_granted_scopes=true` so
     * the new grant covers the old scopes too. Same PKCE, state, nonce and browser binding as
     * `start`; the flow row names the connection it extends.
     */
    async startAddScopes(
      actor: Actor,
      businessId: string,
      scopes: readonly AddableScope[],
    ): Promise<{ url: string; state: string; requested: string[] }> {
      await db.asService('integrations.google.precheck', (tx) =>
        assertCanManageIntegrations(tx, businessId, actor.userId),
      );
      const c = await configuration();
      const state = oidc.randomState();
      const nonce = oidc.randomNonce();
      const verifier = oidc.randomPKCECodeVerifier();
      const { requested, loginHint } = await db.asService('integrations.google.start-add-scopes', async (tx) => {
        await assertCanManageIntegrations(tx, businessId, actor.userId);
        const r = await tx.query<{ id: string; google_email: string | null; scopes: string[] }>(
          'SELECT id, google_email, scopes FROM app.google_connections WHERE business_id = $1',
          [businessId],
        );
        const conn = r.rows[0];
        if (!conn) throw new AppError('google_not_connected', 'connect a Google account first');
        const missing = [...new Set(scopes)].filter((sc) => !conn.scopes.includes(sc));
        if (missing.length === 0) throw new AppError('conflict', 'the Google connection already has this access');
        await insertFlow(tx, { state, businessId, actor, verifier, nonce, connectionId: conn.id, scopes: missing });
        return { requested: missing, loginHint: conn.google_email };
      });
      const url = await authorizationUrl(c, {
        // openid email again: the ID token proves the same account consented (checked at the callback).
        scopes: ['openid', 'email', ...requested],
        state,
        nonce,
        verifier,
        loginHint,
      });
      return { url: url.href, state, requested };
    },

    /** Finish consent from the callback URL and the browser's cookie; returns the business connected. */
    async finish(
      callbackUrl: URL,
      cookieState: string | undefined,
    ): Promise<{ businessId: string; outcome: FinishOutcome }> {
      const state = callbackUrl.searchParams.get('state');
      if (!state || !cookieState || state !== cookieState)
        throw new AppError('oidc_failed', 'this Google connection was not started in this browser');
      // Single use: the flow row is consumed whatever happens next.
      const flow = await db.asService('integrations.google.flow', async (tx) => {
        const r = await tx.query<Flow>(
          `DELETE FROM vault.oauth_flows WHERE state_hash = $1 AND expires_at > now()
           RETURNING business_id, user_id, code_verifier, nonce, ip, user_agent, connection_id, scopes`,
          [stateHash(state)],
        );
        return r.rows[0];
      });
      if (!flow) throw new AppError('oidc_failed', 'this Google connection attempt expired; start again');
      const c = await configuration();
      let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
      try {
        tokens = await oidc.authorizationCodeGrant(c, callbackUrl, {
          pkceCodeVerifier: flow.code_verifier,
          expectedState: state,
          expectedNonce: flow.nonce,
          idTokenExpected: true,
        });
      } catch (e) {
        throw new AppError('oidc_failed', 'Google did not complete the connection; try again', { cause: e });
      }
      const claims = tokens.claims();
      const googleEmail = typeof claims?.email === 'string' ? claims.email.toLowerCase().slice(0, 254) : null;
      const stored: StoredTokens = {
        access_token: tokens.access_token,
        refresh_token: tokens.refresh_token,
        expires_at: Date.now() + (tokens.expiresIn() ?? 3600) * 1000,
        scope: tokens.scope,
      };
      if (flow.connection_id && flow.scopes) {
        // RFC 6749 §5.1: no `scope` in the answer means exactly the scopes asked for.
        const granted = (tokens.scope ?? ['openid', 'email', ...flow.scopes].join(' ')).split(' ').filter(Boolean);
        // Tokens refused below are dropped, not revoked: Google revokes a whole account's grant to
        // Capto's client, which may be another business's connection (or this one's).
        const outcome = await mergeScopes(
          { ...flow, connection_id: flow.connection_id, scopes: flow.scopes },
          stored,
          granted,
          googleEmail,
        );
        return { businessId: flow.business_id, outcome };
      }
      const scopes = (tokens.scope ?? GOOGLE_SCOPES.join(' ')).split(' ').filter(Boolean).slice(0, 20);
      await db.asService('integrations.google.connect', async (tx) => {
        // The starter must still be an owner/admin now, not only ten minutes ago.
        await assertCanManageIntegrations(tx, flow.business_id, flow.user_id);
        const id = randomUUID();
        await recordIntegrationChange(tx, {
          businessId: flow.business_id,
          actorUserId: flow.user_id,
          action: 'google.connected',
          subjectId: id,
          details: { google_email: googleEmail ?? undefined },
          ip: flow.ip,
          userAgent: flow.user_agent,
        });
        const secretId = await vault.putSecret(tx, {
          businessId: flow.business_id,
          kind: 'google.oauth_tokens',
          plaintext: JSON.stringify(stored),
        });
        await tx
          .query(
            `INSERT INTO app.google_connections (id, business_id, google_email, scopes, secret_id, connected_by) VALUES ($1, $2, $3, $4, $5, $6)`,
            [id, flow.business_id, googleEmail, scopes, secretId, flow.user_id],
          )
          .catch((e: { code?: string }) => {
            if (e.code === '23505')
              throw new AppError('conflict', 'a Google account is already connected; disconnect it first');
            throw e;
          });
      });
      return { businessId: flow.business_id, outcome: 'connected' };
    },

    /** Revoke at Google, then forget: audit row, connection and secret go in one transaction. */
    async disconnect(actor: Actor, businessId: string): Promise<{ revoked: boolean }> {
      const current = await db.asService('integrations.google.disconnect.read', async (tx) => {
        await assertCanManageIntegrations(tx, businessId, actor.userId);
        return secretOf(tx, businessId);
      });
      if (!current) throw new AppError('not_found', 'no Google account is connected');
      let revoked = false;
      try {
        const c = await configuration();
        // Revoking the refresh token ends the whole grant (RFC 7009; Google revokes both).
        await oidc.tokenRevocation(c, current.tokens.refresh_token ?? current.tokens.access_token);
        revoked = true;
      } catch {
        revoked = false; // forgetting the token is still right: nobody holds it afterwards
      }
      await db.asService('integrations.google.disconnect', async (tx) => {
        await assertCanManageIntegrations(tx, businessId, actor.userId);
        await lockConnection(tx, businessId);
        const row = await tx.query<{ id: string; secret_id: string; google_email: string | null }>(
          'SELECT id, secret_id, google_email FROM app.google_connections WHERE business_id = $1',
          [businessId],
        );
        const conn = row.rows[0];
        if (!conn) return;
        await recordIntegrationChange(tx, {
          businessId,
          actorUserId: actor.userId,
          action: 'google.disconnected',
          subjectId: conn.id,
          details: { google_email: conn.google_email ?? undefined, reason: revoked ? 'revoked' : 'revocation_failed' },
          ip: actor.ip,
          userAgent: actor.userAgent,
        });
        await tx.query('DELETE FROM app.google_connections WHERE id = $1', [conn.id]);
        await vault.deleteSecret(tx, { businessId, id: conn.secret_id });
      });
      return { revoked };
    },

    /**
     * A usable access token for server-side calls (Gmail, Business Profile), refreshed
     * when it expires within `minValiditySeconds`. The row lock serialises concurrent
     * refreshes, so a rotated refresh token is never overwritten by a stale one.
     */
    async accessToken(businessId: string, minValiditySeconds = 60): Promise<string> {
      return db.asService('integrations.google.token', async (tx) => {
        const cur = await secretOf(tx, businessId, true);
        if (!cur) throw new AppError('not_found', 'no Google account is connected');
        if (cur.tokens.expires_at - Date.now() > minValiditySeconds * 1000) return cur.tokens.access_token;
        if (!cur.tokens.refresh_token)
          throw new AppError('oidc_failed', 'the Google connection has expired; connect again');
        const c = await configuration();
        let fresh: Awaited<ReturnType<typeof oidc.refreshTokenGrant>>;
        try {
          fresh = await oidc.refreshTokenGrant(c, cur.tokens.refresh_token);
        } catch (e) {
          // invalid_grant: the user removed Capto's access at Google, or the grant expired. Only a
          // new consent helps, so callers stop retrying (docs/ARCHITECTURE.md §26).
          if (e instanceof oidc.ResponseBodyError && e.error === 'invalid_grant')
            throw new AppError('google_reauth_required', 'Google no longer accepts this connection; connect again', {
              cause: new Error(e.name),
            });
          throw new AppError('upstream_error', 'Google refused to refresh the connection', {
            cause: e instanceof Error ? new Error(e.name) : undefined,
          });
        }
        const next: StoredTokens = {
          access_token: fresh.access_token,
          refresh_token: fresh.refresh_token ?? cur.tokens.refresh_token,
          expires_at: Date.now() + (fresh.expiresIn() ?? 3600) * 1000,
          scope: fresh.scope ?? cur.tokens.scope,
        };
        await vault.replaceSecret(
          tx,
          { businessId, id: cur.secret_id, kind: 'google.oauth_tokens' },
          JSON.stringify(next),
        );
        return next.access_token;
      });
    },
  };
}

export type GoogleConnection = ReturnType<typeof createGoogleConnection>;
