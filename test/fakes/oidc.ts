// A local OpenID provider (oauth2-mock-server 8) standing in for Google: discovery,
// JWKS, /authorize (redirects at once with a code) and /token (checks the PKCE
// verifier, returns an ID token with the nonce it was given). Tests set the claims
// of the next ID token and can tamper with it (a wrong nonce) to test the client.
//
// Scopes as Google grants them: each consent grants the scopes asked for (less those the
// test has the person untick, `declineScopes`); with `include_granted_scopes=true` the code,
// its tokens and their refreshes cover the union of everything this account granted the
// client before and now (incremental authorization). The token answer's `scope` and the
// access token's `scope` claim say what was granted.
import { OAuth2Server } from 'oauth2-mock-server';

export interface IdentityClaims {
  sub: string;
  email?: string;
  email_verified?: boolean;
  name?: string;
}

export interface FakeOidc {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Claims of the next ID token(s) until changed. */
  setIdentity(claims: IdentityClaims): void;
  /** Replace the nonce of the next ID token (simulates a replayed/mismatched token). */
  tamperNextNonce(nonce: string): void;
  /** The person unticks these scopes on the consent screen(s) from now on (granular consent). */
  declineScopes(scopes: string[]): void;
  /** Every scope this account has granted so far. */
  grantedTo(sub: string): string[];
  /** The query of each /authorize request, in order. */
  authorizeRequests: URLSearchParams[];
  close(): Promise<void>;
}

interface TokenRequest {
  body?: { grant_type?: string; code?: string; refresh_token?: string };
}

/** `port`: where to listen on 127.0.0.1 (default: any free port). */
export async function startFakeOidc(options: { port?: number } = {}): Promise<FakeOidc> {
  const server = new OAuth2Server();
  await server.issuer.keys.generate('RS256');
  await server.start(options.port ?? 0, '127.0.0.1');
  const clientId = 'capto-test-client';
  let identity: IdentityClaims = { sub: 'google-sub-default', email: 'default@example.test', email_verified: true };
  let nextNonce: string | undefined;
  let declined: string[] = [];
  const granted = new Map<string, Set<string>>(); // sub → every scope granted to the client
  const codeScopes = new Map<string, string>();
  const refreshScopes = new Map<string, string>();
  const authorizeRequests: URLSearchParams[] = [];

  const scopeOf = (req: TokenRequest): string | undefined => {
    if (req.body?.grant_type === 'authorization_code' && req.body.code) return codeScopes.get(req.body.code);
    if (req.body?.grant_type === 'refresh_token' && req.body.refresh_token)
      return refreshScopes.get(req.body.refresh_token);
    return undefined;
  };

  server.service.on(
    'beforeAuthorizeRedirect',
    (redirect: { url: URL }, req: { url?: string; query?: Record<string, unknown> }) => {
      const query = new URLSearchParams(
        Object.entries(req.query ?? {}).filter((e): e is [string, string] => typeof e[1] === 'string'),
      );
      authorizeRequests.push(query);
      const code = redirect.url.searchParams.get('code');
      if (!code) return;
      const asked = (query.get('scope') ?? '').split(' ').filter(Boolean);
      const now = asked.filter((s) => !declined.includes(s));
      const before = granted.get(identity.sub) ?? new Set<string>();
      const all = new Set([...before, ...now]);
      granted.set(identity.sub, all);
      const covered = query.get('include_granted_scopes') === 'true' ? [...all] : now;
      codeScopes.set(code, covered.join(' '));
    },
  );
  server.service.on('beforeTokenSigning', (token: { payload: Record<string, unknown> }, req: TokenRequest) => {
    // The access token carries a scope: make it the one granted.
    if ('scope' in token.payload) {
      const scope = scopeOf(req);
      if (scope !== undefined) token.payload.scope = scope;
      return;
    }
    // The ID token is the one addressed to the client.
    if (token.payload.aud !== clientId) return;
    Object.assign(token.payload, identity);
    if (nextNonce !== undefined) {
      token.payload.nonce = nextNonce;
      nextNonce = undefined;
    }
  });
  server.service.on('beforeResponse', (res: { body: Record<string, unknown> }, req: TokenRequest) => {
    const scope = scopeOf(req);
    if (scope === undefined) return;
    res.body.scope = scope;
    if (typeof res.body.refresh_token === 'string') refreshScopes.set(res.body.refresh_token, scope);
    if (req.body?.grant_type === 'authorization_code' && req.body.code) codeScopes.delete(req.body.code);
  });
  return {
    issuer: server.issuer.url!,
    clientId,
    clientSecret: 'capto-test-secret-not-real',
    setIdentity(claims) {
      identity = claims;
    },
    tamperNextNonce(nonce) {
      nextNonce = nonce;
    },
    declineScopes(scopes) {
      declined = [...scopes];
    },
    grantedTo: (sub) => [...(granted.get(sub) ?? [])],
    authorizeRequests,
    close: () => server.stop(),
  };
}
