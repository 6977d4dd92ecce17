// Master-key rotation cannot lock anyone out (docs/OPERATIONS.md §4):
// - ONE list of sealed kinds (src/vault/sealed-kinds.ts), and this file fails when a
//   table grows a sealed-looking column the list does not name;
// - `capto keys rotate` re-wraps every master-sealed kind (data keys AND JWT signing
//   keys), reports per kind, and refuses to call itself complete while anything is
//   still sealed under an old version;
// - the whole drill with two nodes on server PostgreSQL: `1:old` → `2:new,1:old`
//   (rolling restart) → `capto keys rotate` → `2:new` only (rolling restart) → sign-in,
//   the JWKS, tokens and tenant secrets all still work on both nodes.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSigningKeys } from '../src/auth/signing-keys.ts';
import { loadConfig } from '../src/config/index.ts';
import { asOwner } from '../src/db/engine.ts';
import { startCapto, type RunningCapto } from '../src/main.ts';
import { parseMasterKey } from '../src/vault/master-key.ts';
import { rotateMasterKey } from '../src/vault/rotate.ts';
import { SEALED_KINDS } from '../src/vault/sealed-kinds.ts';
import { createVault } from '../src/vault/secrets.ts';
import { sharedFakeHibp } from './fakes/hibp.ts';
import { signIn, signUp } from './support/auth.ts';
import { createBlankDatabase, createTestDatabase, ENGINE, type TestDatabase } from './support/engine.ts';
import { newBusiness, newUser } from './support/factories.ts';
import { request } from './support/http.ts';
import { freePort, type TestServer } from './support/server.ts';

const b64 = () => randomBytes(32).toString('base64');

/**
 * Columns that look sealed, from the catalog: a jsonb column whose CHECK names
 * 'ciphertext' (the envelope shape), or a jsonb/bytea/text column named like
 * ciphertext / wrapped / private_key / sealed / encrypted, in any non-system schema.
 */
const SEALED_LOOKING_SQL = `
  SELECT DISTINCT n.nspname || '.' || c.relname AS tbl, a.attname AS col
    FROM pg_catalog.pg_attribute a
    JOIN pg_catalog.pg_class c ON c.oid = a.attrelid AND c.relkind IN ('r', 'p')
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
   WHERE a.attnum > 0 AND NOT a.attisdropped
     AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname NOT LIKE 'pg_temp%'
     AND ((a.atttypid IN ('jsonb'::regtype, 'bytea'::regtype, 'text'::regtype)
           AND a.attname ~* '(ciphertext|wrapped|private_key|sealed|encrypted)')
          OR (a.atttypid = 'jsonb'::regtype AND EXISTS (
                SELECT 1 FROM pg_catalog.pg_constraint k
                 WHERE k.conrelid = c.oid AND k.contype = 'c' AND a.attnum = ANY (k.conkey)
                   AND pg_catalog.pg_get_constraintdef(k.oid) LIKE '%ciphertext%')))
   ORDER BY 1, 2`;

describe('the one list of sealed kinds', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
  });
  afterAll(async () => t?.close());

  it('names every table column that holds sealed data, and only real ones', async () => {
    const found = await asOwner(t.engine, (c) => c.query<{ tbl: string; col: string }>(SEALED_LOOKING_SQL));
    const inCatalog = found.rows.map((r) => `${r.tbl}.${r.col}`);
    const listed = SEALED_KINDS.map((k) => `${k.table}.${k.column}`);
    // A new table with a sealed column must be added to src/vault/sealed-kinds.ts —
    // master-sealed kinds are re-wrapped by `capto keys rotate`, data-key-sealed ones are not.
    expect(inCatalog.filter((x) => !listed.includes(x))).toEqual([]);
    expect(listed.filter((x) => !inCatalog.includes(x))).toEqual([]);
    expect(inCatalog).toContain('vault.jwt_signing_keys.private_key'); // positive control
  });

  it('the detector sees a new envelope column (so the check above can fail)', async () => {
    const found = await asOwner(t.engine, async (c) => {
      await c.query('BEGIN');
      try {
        await c.query('CREATE SCHEMA scratch_sealed');
        await c.query(
          `CREATE TABLE scratch_sealed.tokens (id int PRIMARY KEY, blob jsonb CHECK (blob ? 'ciphertext' AND blob ? 'nonce'))`,
        );
        return (await c.query<{ tbl: string; col: string }>(SEALED_LOOKING_SQL)).rows;
      } finally {
        await c.query('ROLLBACK');
      }
    });
    expect(found).toContainEqual({ tbl: 'scratch_sealed.tokens', col: 'blob' });
  });
});

describe('keys rotate on one database', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
  });
  afterAll(async () => t?.close());

  it('re-wraps data keys and JWT signing keys, and is not complete while the old version is missing', async () => {
    const k1 = b64();
    const old = parseMasterKey(`1:${k1}`);
    const owner = await newUser(t.engine);
    const biz = await newBusiness(t.engine, owner.id);
    const secretId = await t.db.asService('test', (tx) =>
      createVault(old).putSecret(tx, { businessId: biz.id, kind: 'twilio.auth_token', plaintext: 'tok-123' }),
    );
    const signing = createSigningKeys(t.db, old, 600);
    await signing.current(); // the first signing key, sealed under version 1
    await signing.rotate(); // and a second: the first stays published, retired

    // The old key is not listed: nothing can be opened, and the run says so.
    const blind = await rotateMasterKey(t.db, parseMasterKey(`2:${b64()}`));
    expect(blind.complete).toBe(false);
    expect(blind.failed.map((f) => f.kind).sort()).toEqual([
      'JWT signing keys',
      'JWT signing keys',
      'per-business data keys',
    ]);
    expect(blind.kinds.every((k) => k.remaining > 0 && k.remainingVersions.includes(1))).toBe(true);

    const both = parseMasterKey(`2:${b64()},1:${k1}`);
    const r = await rotateMasterKey(t.db, both);
    expect(r.complete).toBe(true);
    expect(r.failed).toEqual([]);
    const by = Object.fromEntries(r.kinds.map((k) => [k.table, k]));
    expect(by['vault.data_keys']).toMatchObject({ rewrapped: 1, remaining: 0 });
    expect(by['vault.jwt_signing_keys']).toMatchObject({ rewrapped: 2, remaining: 0 });
    // With the new key alone, the secret opens and a fresh loader signs with the current JWT key.
    const onlyNew = parseMasterKey(`2:${both.current.bytes.toString('base64')}`);
    const read = await t.db.asService('test', (tx) =>
      createVault(onlyNew).readSecret(tx, { businessId: biz.id, id: secretId, kind: 'twilio.auth_token' }),
    );
    expect(read).toBe('tok-123');
    await expect(createSigningKeys(t.db, onlyNew, 600).current()).resolves.toMatchObject({ kid: expect.any(String) });
    // Idempotent: a second run re-wraps nothing and is complete.
    const again = await rotateMasterKey(t.db, both);
    expect(again.kinds.map((k) => k.rewrapped)).toEqual([0, 0]);
    expect(again.complete).toBe(true);
  });
});

// ---------------------------------------------------------------------------
// The operator's drill, exactly as docs/OPERATIONS.md §4 writes it.
// ---------------------------------------------------------------------------
const SKIP = ENGINE !== 'server';
describe.skipIf(SKIP)('the rotation drill with two nodes on server PostgreSQL', () => {
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'capto-rotate-'));
  const PUBLIC_URL = 'https://capto.example.test';
  let dbEnv: Record<string, string>;
  let drop: () => Promise<void>;
  const nodes: RunningCapto[] = [];

  async function node(masterKey: string): Promise<RunningCapto> {
    const port = await freePort();
    const running = await startCapto(
      loadConfig({
        CAPTO_ENV: 'test',
        HOST: '127.0.0.1',
        PORT: String(port),
        LOG_LEVEL: 'silent',
        CAPTO_DB_POOL_SIZE: '3',
        HIBP_RANGE_URL: (await sharedFakeHibp()).url,
        CAPTO_AUTH_RATE_IP: '100000',
        CAPTO_AUTH_RATE_ACCOUNT: '100000',
        CAPTO_DATA_DIR: path.join(scratch, String(port)),
        CAPTO_PUBLIC_URL: PUBLIC_URL,
        CAPTO_SCAN_ON_START: 'off',
        CAPTO_MASTER_KEY: masterKey,
        ...dbEnv,
      }),
    );
    nodes.push(running);
    return Object.assign(running, { url: `https://127.0.0.1:${running.port}` });
  }
  /** Rolling restart: one node at a time gets the new CAPTO_MASTER_KEY. */
  async function rollingRestart(current: RunningCapto[], masterKey: string): Promise<RunningCapto[]> {
    const next: RunningCapto[] = [];
    for (const n of current) {
      await n.close();
      next.push(await node(masterKey));
    }
    return next;
  }
  const capto = (args: string[], masterKey: string) =>
    spawnSync(process.execPath, ['bin/capto.js', ...args], {
      encoding: 'utf8',
      env: {
        ...process.env,
        LOG_LEVEL: 'silent',
        CAPTO_ENV: 'test',
        CAPTO_DATA_DIR: scratch,
        CAPTO_MASTER_KEY: masterKey,
        ...dbEnv,
      },
      timeout: 120_000,
    });

  beforeAll(async () => {
    const blank = await createBlankDatabase();
    dbEnv = blank.env;
    drop = blank.drop;
  }, 120_000);
  afterAll(async () => {
    for (const n of nodes) await n.close().catch(() => undefined);
    await drop?.();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('1:old → 2:new,1:old → capto keys rotate → 2:new only: everything keeps working on both nodes', async () => {
    const oldKey = b64();
    const newKey = b64();
    let a = await node(`1:${oldKey}`);
    let b = await node(`1:${oldKey}`);

    // Life before the rotation: a user, a business with a tenant secret, a rotated JWT key.
    const user = await signUp(a as TestServer, { verified: true });
    const biz = await newBusiness(a.engine, user.userId);
    const secretId = await a.db.asService('test', (tx) =>
      createVault(parseMasterKey(`1:${oldKey}`)).putSecret(tx, {
        businessId: biz.id,
        kind: 'twilio.auth_token',
        plaintext: 'twilio-secret',
      }),
    );
    expect(capto(['keys', 'rotate-jwt'], `1:${oldKey}`).status).toBe(0);

    // Step 1: the new key first, the old one still listed, on every node (rolling).
    [a, b] = (await rollingRestart([a, b], `2:${newKey},1:${oldKey}`)) as [RunningCapto, RunningCapto];
    expect(
      (await request(`${b.url}/auth/signin`, { body: { email: user.email, password: user.password } })).status,
    ).toBe(200);

    // Step 2: capto keys rotate — reports both kinds, complete.
    const rotated = capto(['keys', 'rotate'], `2:${newKey},1:${oldKey}`);
    expect(rotated.stderr).toBe('');
    expect(rotated.status).toBe(0);
    expect(rotated.stdout).toMatch(/per-business data keys \(vault\.data_keys\): re-wrapped 1,/);
    expect(rotated.stdout).toMatch(/JWT signing keys \(vault\.jwt_signing_keys\): re-wrapped 2,/);
    expect(rotated.stdout).toMatch(/^complete: /m);
    const left = await asOwner(a.engine, (c) =>
      c.query<{ n: string }>(
        `SELECT (SELECT count(*) FROM vault.data_keys WHERE (wrapped->>'key_version')::int <> 2)
              + (SELECT count(*) FROM vault.jwt_signing_keys WHERE (private_key->>'key_version')::int <> 2) AS n`,
      ),
    );
    expect(Number(left.rows[0]!.n)).toBe(0);

    // Step 4: remove the old key (rolling restart). Nothing may depend on it any more.
    [a, b] = (await rollingRestart([a, b], `2:${newKey}`)) as [RunningCapto, RunningCapto];
    for (const n of [a, b]) {
      const signedIn = await request<{ access_token: string }>(`${n.url}/auth/signin`, {
        body: { email: user.email, password: user.password },
      });
      expect(signedIn.status).toBe(200);
      const me = await request(`${n === a ? b.url : a.url}/api/me`, { token: signedIn.json.access_token });
      expect(me.status).toBe(200); // a token of one node is accepted by the other
      const jwks = await request<{ keys: unknown[] }>(`${n.url}/.well-known/jwks.json`);
      expect(jwks.status).toBe(200);
      expect(jwks.json.keys.length).toBeGreaterThanOrEqual(2);
      expect((await request(`${n.url}/readyz`)).status).toBe(200);
    }
    const again = await signIn(a as TestServer, user.email, user.password);
    expect(again.accessToken).toBeTruthy();
    const secret = await b.db.asService('test', (tx) =>
      createVault(parseMasterKey(`2:${newKey}`)).readSecret(tx, {
        businessId: biz.id,
        id: secretId,
        kind: 'twilio.auth_token',
      }),
    );
    expect(secret).toBe('twilio-secret');
    // A second rotate with the new key alone finds nothing to do and is complete.
    const idle = capto(['keys', 'rotate'], `2:${newKey}`);
    expect(idle.status).toBe(0);
    expect(idle.stdout).toMatch(/re-wrapped 0,.*\n.*re-wrapped 0,/);
  }, 240_000);
});
