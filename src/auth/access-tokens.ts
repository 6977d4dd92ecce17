// Access tokens (P8): ES256 JWTs, short-lived, with iss/aud/sub/sid/role/iat/exp/jti
// and a kid header. Verification pins the algorithm, issuer, audience and key set
// (RFC 8725 §3.1): `alg: none`, HS256 keyed with the public key, foreign kids and
// tampered payloads all fail here before any handler runs.
import { randomUUID } from 'node:crypto';
import { SignJWT, jwtVerify, type JWTHeaderParameters } from 'jose';
import type { Claims } from '../db/index.ts';
import { AppError } from '../shared/errors.ts';
import type { SigningKeys } from './signing-keys.ts';

export const ACCESS_TOKEN_AUDIENCE = 'capto-api';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface AccessTokens {
  issue(claims: Required<Claims>): Promise<{ token: string; expiresIn: number }>;
  verify(token: string): Promise<Required<Claims>>;
}

/** Verified tokens remembered per node: an ES256 verify costs ~0.2 ms of CPU per request. */
const VERIFIED_CACHE_MAX = 10_000;
const CLOCK_TOLERANCE_S = 5;

interface Verified {
  claims: Required<Claims>;
  exp: number;
  kid: string;
  key: unknown;
}

export function createAccessTokens(keys: SigningKeys, issuer: string, ttlMinutes: number): AccessTokens {
  const ttl = ttlMinutes * 60;
  // Keyed by the whole compact token, so a hit is the very string whose signature was
  // checked. A hit still re-checks expiry and that the signing key is still published
  // (a removed key stops its tokens at once); the session's liveness is checked by the
  // database on every request regardless.
  const verified = new Map<string, Verified>();

  async function cached(token: string): Promise<Required<Claims> | undefined> {
    const hit = verified.get(token);
    if (!hit) return undefined;
    if (hit.exp + CLOCK_TOLERANCE_S > Date.now() / 1000 && (await keys.verificationKey(hit.kid)) === hit.key)
      return { ...hit.claims };
    verified.delete(token);
    return undefined;
  }

  function remember(token: string, entry: Verified): void {
    if (verified.size >= VERIFIED_CACHE_MAX) {
      // Oldest first (Map keeps insertion order): drop the expired, else the oldest.
      const now = Date.now() / 1000;
      for (const [t, v] of verified) {
        if (v.exp + CLOCK_TOLERANCE_S <= now || verified.size >= VERIFIED_CACHE_MAX) verified.delete(t);
        else break;
      }
    }
    verified.set(token, entry);
  }

  return {
    async issue({ sub, sid }) {
      const { kid, key } = await keys.current();
      const token = await new SignJWT({ sid, role: 'authenticated' })
        .setProtectedHeader({ alg: 'ES256', kid, typ: 'JWT' })
        .setIssuer(issuer)
        .setAudience(ACCESS_TOKEN_AUDIENCE)
        .setSubject(sub)
        .setIssuedAt()
        .setExpirationTime(`${ttl}s`)
        .setJti(randomUUID())
        .sign(key);
      return { token, expiresIn: ttl };
    },
    async verify(token) {
      const hit = await cached(token);
      if (hit) return hit;
      try {
        let kid = '';
        let key: Awaited<ReturnType<SigningKeys['verificationKey']>>;
        const { payload } = await jwtVerify(
          token,
          async (header: JWTHeaderParameters) => {
            key = header.kid ? await keys.verificationKey(header.kid) : undefined;
            if (!key) throw new Error('unknown kid');
            kid = header.kid!;
            return key;
          },
          {
            algorithms: ['ES256'],
            issuer,
            audience: ACCESS_TOKEN_AUDIENCE,
            requiredClaims: ['sub', 'exp', 'iat', 'jti'],
            clockTolerance: CLOCK_TOLERANCE_S,
          },
        );
        const sid = payload.sid;
        if (
          typeof payload.sub !== 'string' ||
          !UUID.test(payload.sub) ||
          typeof sid !== 'string' ||
          !UUID.test(sid) ||
          payload.role !== 'authenticated'
        ) {
          throw new Error('claims malformed');
        }
        const claims = { sub: payload.sub, sid };
        remember(token, { claims, exp: payload.exp!, kid, key });
        return { ...claims };
      } catch (e) {
        // One answer for every failure: telling "expired" from "bad signature" helps only an attacker.
        throw new AppError('invalid_token', 'the access token is not valid', { cause: e });
      }
    },
  };
}
