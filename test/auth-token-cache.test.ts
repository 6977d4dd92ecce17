// The per-node cache of verified access tokens: a hit skips the ES256 verify, but never
// outlives the token's expiry or the publication of the key that signed it.
import { generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createAccessTokens } from '../src/auth/access-tokens.ts';
import type { SigningKeys } from '../src/auth/signing-keys.ts';

const ISSUER = 'https://capto.test';
const sub = '0b6f1c2e-8a4d-4c1e-9f3a-2d5e6f7a8b9c';
const sid = '1c7a2d3e-9b5e-4d2f-8a4b-3e6f7a8b9c0d';

let pair: { publicKey: CryptoKey; privateKey: CryptoKey };
beforeAll(async () => {
  pair = await generateKeyPair('ES256', { extractable: true });
});
afterEach(() => {
  vi.useRealTimers();
});

/** Signing keys whose published set the test controls, counting lookups. */
function fakeKeys() {
  const published = new Map<string, CryptoKey>([['k1', pair.publicKey]]);
  const keys: SigningKeys & { published: typeof published } = {
    published,
    current: async () => ({ kid: 'k1', key: pair.privateKey }),
    verificationKey: async (kid: string) => published.get(kid),
    jwks: async () => ({ keys: [] }),
    rotate: async () => 'k1',
  } as unknown as SigningKeys & { published: typeof published };
  return keys;
}

describe('verified access tokens are cached per node', () => {
  it('a token verifies again from the cache, and a different token is still checked in full', async () => {
    const keys = fakeKeys();
    const tokens = createAccessTokens(keys, ISSUER, 10);
    const { token } = await tokens.issue({ sub, sid });
    expect(await tokens.verify(token)).toEqual({ sub, sid });
    expect(await tokens.verify(token)).toEqual({ sub, sid });
    // The same claims, but not the string whose signature was checked: refused.
    const [h, p] = token.split('.');
    await expect(tokens.verify(`${h}.${p}.${'A'.repeat(86)}`)).rejects.toMatchObject({ code: 'invalid_token' });
    const other = await new SignJWT({ sid, role: 'authenticated' })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setIssuer(ISSUER)
      .setAudience('capto-api')
      .setSubject(sub)
      .setIssuedAt()
      .setExpirationTime('10m')
      .setJti('x')
      .sign((await generateKeyPair('ES256')).privateKey);
    await expect(tokens.verify(other)).rejects.toMatchObject({ code: 'invalid_token' });
  });

  it('a cached token stops working when it expires', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const tokens = createAccessTokens(fakeKeys(), ISSUER, 10);
    const { token } = await tokens.issue({ sub, sid });
    expect(await tokens.verify(token)).toEqual({ sub, sid });
    vi.setSystemTime(Date.now() + 9 * 60_000);
    expect(await tokens.verify(token)).toEqual({ sub, sid });
    vi.setSystemTime(Date.now() + 2 * 60_000);
    await expect(tokens.verify(token)).rejects.toMatchObject({ code: 'invalid_token' });
  });

  it('a cached token stops working as soon as its signing key is no longer published', async () => {
    const keys = fakeKeys();
    const tokens = createAccessTokens(keys, ISSUER, 10);
    const { token } = await tokens.issue({ sub, sid });
    expect(await tokens.verify(token)).toEqual({ sub, sid });
    keys.published.delete('k1');
    await expect(tokens.verify(token)).rejects.toMatchObject({ code: 'invalid_token' });
    // A different key under the same kid does not revive it either.
    keys.published.set('k1', (await generateKeyPair('ES256')).publicKey);
    await expect(tokens.verify(token)).rejects.toMatchObject({ code: 'invalid_token' });
  });

  it('callers get their own copy of the claims', async () => {
    const tokens = createAccessTokens(fakeKeys(), ISSUER, 10);
    const { token } = await tokens.issue({ sub, sid });
    const first = await tokens.verify(token);
    first.sub = 'tampered';
    expect(await tokens.verify(token)).toEqual({ sub, sid });
  });
});
