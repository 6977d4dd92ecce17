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

export function createAccessTokens(keys: SigningKeys, issuer: string, ttlMinutes: number): AccessTokens {
  const ttl = ttlMinutes * 60;
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
      try {
        const { payload } = await jwtVerify(
          token,
          async (header: JWTHeaderParameters) => {
            const key = header.kid ? await keys.verificationKey(header.kid) : undefined;
            if (!key) throw new Error('unknown kid');
            return key;
          },
          { algorithms: ['ES256'], issuer, audience: ACCESS_TOKEN_AUDIENCE, requiredClaims: ['sub', 'exp', 'iat', 'jti'], clockTolerance: 5 },
        );
        const sid = payload.sid;
        if (typeof payload.sub !== 'string' || !UUID.test(payload.sub) || typeof sid !== 'string' || !UUID.test(sid) || payload.role !== 'authenticated') {
          throw new Error('claims malformed');
        }
        return { sub: payload.sub, sid };
      } catch (e) {
        // One answer for every failure: telling "expired" from "bad signature" helps only an attacker.
        throw new AppError('invalid_token', 'the access token is not valid', { cause: e });
      }
    },
  };
}
