// A local OpenID provider (oauth2-mock-server 8) standing in for Google: discovery,
// JWKS, /authorize (redirects at once with a code) and /token (checks the PKCE
// verifier, returns an ID token with the nonce it was given). Tests set the claims
// of the next ID token and can tamper with it (a wrong nonce) to test the client.
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
  close(): Promise<void>;
}

export async function startFakeOidc(): Promise<FakeOidc> {
  const server = new OAuth2Server();
  await server.issuer.keys.generate('RS256');
  await server.start(0, '127.0.0.1');
  const clientId = 'capto-test-client';
  let identity: IdentityClaims = { sub: 'google-sub-default', email: 'default@example.test', email_verified: true };
  let nextNonce: string | undefined;
  server.service.on('beforeTokenSigning', (token: { payload: Record<string, unknown> }) => {
    // The ID token is the one addressed to the client (the access token carries a scope).
    if (token.payload.aud !== clientId || 'scope' in token.payload) return;
    Object.assign(token.payload, identity);
    if (nextNonce !== undefined) {
      token.payload.nonce = nextNonce;
      nextNonce = undefined;
    }
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
    close: () => server.stop(),
  };
}
