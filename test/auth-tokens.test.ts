// P8: access tokens are ES256 JWTs published at /.well-known/jwks.json; verification
// pins algorithm, issuer, audience and key set; a signed-out session is refused at once.
import { createHmac, createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { SignJWT, exportJWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asOwner } from '../src/db/engine.ts';
import { signUp, type SignedUpUser } from './support/auth.ts';
import { request } from './support/http.ts';
import { startTestServer, type TestServer } from './support/server.ts';

let s: TestServer;
let alice: SignedUpUser;

beforeAll(async () => {
  s = await startTestServer();
  alice = await signUp(s);
});
afterAll(async () => s?.stop());

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const partsOf = (token: string) => {
  const [h, p, sig] = token.split('.') as [string, string, string];
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString()),
    payload: JSON.parse(Buffer.from(p, 'base64url').toString()),
    h,
    p,
    sig,
  };
};
// A route that needs a live session: the caller's own sessions.
const whoami = (token: string) => request(`${s.url}/auth/sessions`, { token });

describe('access tokens', () => {
  it('carries iss, aud, sub, sid, role, iat, exp, jti and an ES256 kid header, and lasts 10 minutes', () => {
    const { header, payload } = partsOf(alice.accessToken);
    expect(header).toMatchObject({ alg: 'ES256', typ: 'JWT' });
    expect(typeof header.kid).toBe('string');
    expect(payload).toMatchObject({
      iss: s.config.publicUrl,
      aud: 'capto-api',
      sub: alice.userId,
      sid: alice.sessionId,
      role: 'authenticated',
    });
    expect(payload.exp - payload.iat).toBe(600);
    expect(typeof payload.jti).toBe('string');
  });

  it('publishes the public key at /.well-known/jwks.json, with no private part', async () => {
    const res = await request(`${s.url}/.well-known/jwks.json`);
    expect(res.status).toBe(200);
    const kid = partsOf(alice.accessToken).header.kid;
    const key = res.json.keys.find((k: { kid: string }) => k.kid === kid);
    expect(key).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    for (const k of res.json.keys) expect(k.d).toBeUndefined();
  });

  it('stores the private key only as a vault envelope', async () => {
    const rows = await asOwner(s.engine, (c) =>
      c.query<{ private_key: Record<string, unknown> }>('SELECT private_key FROM vault.jwt_signing_keys'),
    );
    expect(rows.rows.length).toBeGreaterThan(0);
    for (const r of rows.rows) {
      expect(r.private_key).toMatchObject({ alg: 'A256GCM', key_version: 1 });
      expect(JSON.stringify(r.private_key)).not.toMatch(/"d"\s*:/);
    }
  });

  it('accepts a genuine token (the positive case)', async () => {
    const res = await whoami(alice.accessToken);
    expect(res.status).toBe(200);
  });

  describe('rejects forged tokens with 401 invalid_token', () => {
    const expectRejected = async (token: string) => {
      const res = await whoami(token);
      expect(res.status).toBe(401);
      expect(res.json.error.code).toBe('invalid_token');
    };

    it('alg: none', async () => {
      const { header, payload } = partsOf(alice.accessToken);
      await expectRejected(`${b64({ ...header, alg: 'none' })}.${b64(payload)}.`);
    });

    it('HS256 signed with the public key as the HMAC secret', async () => {
      const { header, payload } = partsOf(alice.accessToken);
      const jwks = (await request(`${s.url}/.well-known/jwks.json`)).json;
      const pub = jwks.keys.find((k: { kid: string }) => k.kid === header.kid);
      for (const secret of [JSON.stringify(pub), Buffer.from(JSON.stringify(pub)).toString('base64url')]) {
        const h = b64({ ...header, alg: 'HS256' });
        const p = b64(payload);
        const sig = createHmac('sha256', secret).update(`${h}.${p}`).digest('base64url');
        await expectRejected(`${h}.${p}.${sig}`);
      }
    });

    it('an unknown kid, even with a valid ES256 signature', async () => {
      const { payload } = partsOf(alice.accessToken);
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const token = await new SignJWT(payload)
        .setProtectedHeader({ alg: 'ES256', kid: 'not-a-capto-key' })
        .sign(privateKey);
      await expectRejected(token);
    });

    it('a foreign key claiming a real kid', async () => {
      const { header, payload } = partsOf(alice.accessToken);
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      await expectRejected(
        await new SignJWT(payload).setProtectedHeader({ alg: 'ES256', kid: header.kid }).sign(privateKey),
      );
      void exportJWK;
      void createPrivateKey;
    });

    it('a tampered payload (sub swapped)', async () => {
      const { h, payload, sig } = partsOf(alice.accessToken);
      await expectRejected(`${h}.${b64({ ...payload, sub: '00000000-0000-4000-8000-000000000000' })}.${sig}`);
    });

    it('expired, wrong audience and wrong issuer (signed with the real key)', async () => {
      const { header, payload } = partsOf(alice.accessToken);
      const forge = await realSigner(header.kid);
      const now = Math.floor(Date.now() / 1000);
      await expectRejected(await forge({ ...payload, iat: now - 3600, exp: now - 60 }));
      await expectRejected(await forge({ ...payload, aud: 'someone-else' }));
      await expectRejected(await forge({ ...payload, iss: 'https://evil.example' }));
      // Positive control: the same signer with the genuine claims is accepted.
      expect((await whoami(await forge({ ...payload, jti: 'control' }))).status).toBe(200);
    });

    it('a malformed Authorization header', async () => {
      const res = await request(`${s.url}/auth/sessions`, { headers: { authorization: 'Bearer not-a-jwt' } });
      expect(res.status).toBe(401);
      expect(res.json.error.code).toBe('invalid_token');
    });
  });

  it("rejects a signed-out session's still-unexpired token at once", async () => {
    const bob = await signUp(s);
    expect((await whoami(bob.accessToken)).status).toBe(200);
    const out = await request(`${s.url}/auth/signout`, { method: 'POST', token: bob.accessToken });
    expect(out.status).toBe(204);
    const after = await whoami(bob.accessToken);
    expect(after.status).toBe(401);
    expect(after.json.error.code).toBe('session_expired');
  });
});

/** Signs with the server's own current private key (read through the vault, as a test fixture). */
async function realSigner(kid: string) {
  const { loadMasterKey } = await import('../src/vault/master-key.ts');
  const { open } = await import('../src/vault/envelope.ts');
  const { importJWK } = await import('jose');
  const row = await asOwner(s.engine, (c) =>
    c.query<{ private_key: never }>('SELECT private_key FROM vault.jwt_signing_keys WHERE kid = $1', [kid]),
  );
  const jwk = JSON.parse(
    open(
      loadMasterKey(s.config).current,
      row.rows[0]!.private_key,
      `vault.jwt_signing_keys|${kid}|private_key`,
    ).toString(),
  );
  const key = await importJWK(jwk, 'ES256');
  return (payload: Record<string, unknown>) =>
    new SignJWT(payload).setProtectedHeader({ alg: 'ES256', kid, typ: 'JWT' }).sign(key);
}
