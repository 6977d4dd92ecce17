// P2/P3 for the auth schema: the browser-facing role reads only her own sessions and
// events, never a password hash, a token hash or anything in schema vault; writes are
// the service role's. Plus the vault envelope and the shared, rotating signing keys.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccessTokens } from '../src/auth/access-tokens.ts';
import { createSession } from '../src/auth/refresh-tokens.ts';
import { createSigningKeys } from '../src/auth/signing-keys.ts';
import { asOwner } from '../src/db/engine.ts';
import { needsReseal, open, seal, VaultError } from '../src/vault/envelope.ts';
import { loadMasterKey, parseMasterKey } from '../src/vault/master-key.ts';
import { createTestDatabase, type TestDatabase } from './support/engine.ts';
import { newUser } from './support/factories.ts';

let t: TestDatabase;
let alice: { id: string; sid: string };
let bob: { id: string; sid: string };
const limits = { maxAgeDays: 30, idleDays: 7 };
const meta = { ip: '127.0.0.1', userAgent: 'vitest' };

beforeAll(async () => {
  t = await createTestDatabase();
  const a = await newUser(t.engine);
  const b = await newUser(t.engine);
  const sa = await t.db.asService('test.fixture', (tx) => createSession(tx, a.id, meta, limits));
  const sb = await t.db.asService('test.fixture', (tx) => createSession(tx, b.id, meta, limits));
  alice = { id: a.id, sid: sa.sessionId };
  bob = { id: b.id, sid: sb.sessionId };
  await asOwner(t.engine, async (c) => {
    await c.query(
      `UPDATE auth.users SET password_hash = '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA' WHERE id = ANY($1::uuid[])`,
      [[a.id, b.id]],
    );
    await c.query(`INSERT INTO auth.audit_events (user_id, type) VALUES ($1, 'sign_in'), ($2, 'sign_in')`, [
      a.id,
      b.id,
    ]);
  });
});
afterAll(async () => t?.close());

const asAlice = <T>(fn: Parameters<TestDatabase['db']['asUser']>[1]) =>
  t.db.asUser({ sub: alice.id, sid: alice.sid }, fn) as Promise<T>;

describe('auth schema row-level security', () => {
  it("lets a user read her own session and events, and not another user's", async () => {
    const rows = await asAlice<{ sessions: string[]; events: string[] }>(async (tx) => ({
      sessions: (await tx.query<{ user_id: string }>('SELECT user_id FROM auth.sessions')).rows.map((r) => r.user_id),
      events: (await tx.query<{ user_id: string }>('SELECT user_id FROM auth.audit_events')).rows.map((r) => r.user_id),
    }));
    expect(rows.sessions).toEqual([alice.id]);
    expect(rows.events).toEqual([alice.id]);
  });

  it('never shows a password hash, not even her own', async () => {
    await expect(
      asAlice((tx) => tx.query('SELECT password_hash FROM auth.users WHERE id = $1', [alice.id])),
    ).rejects.toMatchObject({ code: 'forbidden' });
    const own = await asAlice<{ rows: { email: string }[] }>((tx) =>
      tx.query('SELECT id, email FROM auth.users WHERE id = $1', [alice.id]),
    );
    expect(own.rows).toHaveLength(1);
  });

  it('refuses refresh tokens, one-time tokens, identities and the vault to the request roles', async () => {
    for (const table of ['auth.refresh_tokens', 'auth.one_time_tokens', 'auth.identities', 'vault.jwt_signing_keys']) {
      await expect(asAlice((tx) => tx.query(`SELECT 1 FROM ${table}`))).rejects.toMatchObject({ code: 'forbidden' });
      await expect(t.db.asAnon((tx) => tx.query(`SELECT 1 FROM ${table}`))).rejects.toMatchObject({
        code: 'forbidden',
      });
    }
  });

  it('refuses writes by the user role: no self-unrevoking, no forged events', async () => {
    await expect(
      asAlice((tx) => tx.query("UPDATE auth.sessions SET revoked_at = NULL, not_after = now() + interval '10 years'")),
    ).rejects.toMatchObject({ code: 'forbidden' });
    await expect(
      asAlice((tx) => tx.query(`INSERT INTO auth.audit_events (user_id, type) VALUES ($1, 'sign_in')`, [alice.id])),
    ).rejects.toMatchObject({ code: 'forbidden' });
    await expect(
      asAlice((tx) => tx.query(`UPDATE auth.users SET email_verified_at = now() WHERE id = $1`, [alice.id])),
    ).rejects.toMatchObject({ code: 'forbidden' });
  });

  it('keeps audit events append-only even for the service role', async () => {
    await expect(
      t.db.asService('test.tamper', (tx) => tx.query('DELETE FROM auth.audit_events')),
    ).rejects.toMatchObject({ code: 'forbidden' });
    await expect(
      t.db.asService('test.tamper', (tx) => tx.query(`UPDATE auth.audit_events SET type = 'sign_out'`)),
    ).rejects.toMatchObject({ code: 'forbidden' });
  });

  it("app.session_is_live() is true only for the claims' own, unrevoked session", async () => {
    const live = (claims: { sub: string; sid?: string }) =>
      t.db.asUser(claims, async () => true, { requireLiveSession: true }).catch((e: { code: string }) => e.code);
    expect(await live({ sub: alice.id, sid: alice.sid })).toBe(true);
    expect(await live({ sub: alice.id, sid: bob.sid })).toBe('session_expired'); // someone else's sid
    expect(await live({ sub: alice.id })).toBe('session_expired');
    await asOwner(t.engine, (c) =>
      c.query(`UPDATE auth.sessions SET revoked_at = now(), revoked_reason = 'sign_out' WHERE id = $1`, [bob.sid]),
    );
    expect(await live({ sub: bob.id, sid: bob.sid })).toBe('session_expired');
  });
});

describe('vault envelope and master key', () => {
  const key = { version: 1, bytes: randomBytes(32) };

  it("round-trips with the same AAD and fails with another row's AAD, a flipped bit or another key", () => {
    const env = seal(key, 'twilio-auth-token-123', 'business-a|secret-1|twilio|1');
    expect(env).toMatchObject({ key_version: 1, alg: 'A256GCM' });
    expect(env.ciphertext).not.toContain('twilio');
    expect(open(key, env, 'business-a|secret-1|twilio|1').toString()).toBe('twilio-auth-token-123');
    expect(() => open(key, env, 'business-b|secret-1|twilio|1')).toThrow(VaultError);
    const raw = Buffer.from(env.ciphertext, 'base64');
    raw[0] = raw[0]! ^ 1;
    expect(() => open(key, { ...env, ciphertext: raw.toString('base64') }, 'business-a|secret-1|twilio|1')).toThrow(
      VaultError,
    );
    expect(() => open({ version: 1, bytes: randomBytes(32) }, env, 'business-a|secret-1|twilio|1')).toThrow(VaultError);
    expect(seal(key, 'same', 'aad').nonce).not.toBe(seal(key, 'same', 'aad').nonce);
  });

  it('parses versioned master keys and flags envelopes of older versions for re-sealing', () => {
    const k2 = randomBytes(32).toString('base64');
    const k1 = randomBytes(32).toString('base64');
    const master = parseMasterKey(`2:${k2},1:${k1}`);
    expect(master.current.version).toBe(2);
    expect(master.version(1)?.bytes.toString('base64')).toBe(k1);
    expect(needsReseal(seal(master.version(1)!, 'x', 'a'), master.current)).toBe(true);
    expect(() => parseMasterKey(Buffer.alloc(16).toString('base64'))).toThrow(/32 bytes/);
  });

  it('generates a development key once, mode 0600, and refuses to in production', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'capto-mk-'));
    const a = loadMasterKey({ dataDir: dir, masterKey: undefined, isProduction: false });
    const b = loadMasterKey({ dataDir: dir, masterKey: undefined, isProduction: false });
    expect(a.current.bytes.equals(b.current.bytes)).toBe(true);
    expect(statSync(path.join(dir, 'master.key')).mode & 0o777).toBe(0o600);
    expect(() => loadMasterKey({ dataDir: dir, masterKey: undefined, isProduction: true })).toThrow(VaultError);
  });
});

describe('signing keys shared through the database', () => {
  it('two nodes agree on one key; after a rotation both verify old and new tokens', async () => {
    const master = parseMasterKey(randomBytes(32).toString('base64'));
    const nodeA = createSigningKeys(t.db, master, 600);
    const nodeB = createSigningKeys(t.db, master, 600);
    const [ka, kb] = await Promise.all([nodeA.current(), nodeB.current()]);
    expect(ka.kid).toBe(kb.kid);
    const tokensA = createAccessTokens(nodeA, 'https://capto.test', 10);
    const tokensB = createAccessTokens(nodeB, 'https://capto.test', 10);
    const before = await tokensA.issue({ sub: alice.id, sid: alice.sid });
    const newKid = await nodeA.rotate();
    expect(newKid).not.toBe(ka.kid);
    const after = await tokensA.issue({ sub: alice.id, sid: alice.sid });
    expect(JSON.parse(Buffer.from(after.token.split('.')[0]!, 'base64url').toString()).kid).toBe(newKid);
    // Node B has not reloaded yet: it meets the new kid and fetches it.
    await new Promise((r) => setTimeout(r, 5_100));
    expect(await tokensB.verify(after.token)).toEqual({ sub: alice.id, sid: alice.sid });
    expect(await tokensB.verify(before.token)).toEqual({ sub: alice.id, sid: alice.sid });
    const kids = (await nodeA.jwks()).keys.map((k) => k.kid);
    expect(kids).toEqual(expect.arrayContaining([ka.kid, newKid]));
    // Once the retired key's tokens have all expired, it leaves the JWKS.
    await asOwner(t.engine, (c) =>
      c.query(`UPDATE vault.jwt_signing_keys SET publish_until = now() - interval '1 second' WHERE kid = $1`, [ka.kid]),
    );
    const fresh = createSigningKeys(t.db, master, 600);
    expect((await fresh.jwks()).keys.map((k) => k.kid)).toEqual([newKid]);
  }, 30_000);
});
