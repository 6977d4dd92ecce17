// P2/P5: tenant secrets are AES-256-GCM ciphertext under per-business data keys;
// request roles cannot touch any vault object; a ciphertext moved to another row or
// business does not open; master key rotation keeps every secret readable.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asOwner } from '../src/db/engine.ts';
import { VaultError } from '../src/vault/envelope.ts';
import { parseMasterKey } from '../src/vault/master-key.ts';
import { rotateMasterKey } from '../src/vault/rotate.ts';
import { createVault } from '../src/vault/secrets.ts';
import { createTestDatabase, type TestDatabase } from './support/engine.ts';
import { newBusiness, newUser, twoBusinesses } from './support/factories.ts';

const key = () => randomBytes(32).toString('base64');
const k1 = key();
const master1 = parseMasterKey(`1:${k1}`);
const vault = createVault(master1);

let t: TestDatabase;
let w: Awaited<ReturnType<typeof twoBusinesses>>;
beforeAll(async () => {
  t = await createTestDatabase();
  w = await twoBusinesses(t.engine);
});
afterAll(async () => t?.close());

const put = (businessId: string, plaintext: string) =>
  t.db.asService('test.vault', (tx) => vault.putSecret(tx, { businessId, kind: 'twilio.auth_token', plaintext }));
const read = (businessId: string, id: string, v = vault) =>
  t.db.asService('test.vault', (tx) => v.readSecret(tx, { businessId, id, kind: 'twilio.auth_token' }));

describe('vault secrets', () => {
  it('stores only ciphertext and opens it again in a service transaction', async () => {
    const token = randomBytes(16).toString('hex');
    const id = await put(w.a.business.id, token);
    expect(await read(w.a.business.id, id)).toBe(token);
    const raw = await asOwner(t.engine, (c) =>
      c.query('SELECT nonce, ciphertext, key_version FROM vault.secrets WHERE id = $1', [id]),
    );
    const row = raw.rows[0] as { ciphertext: Buffer; nonce: Buffer; key_version: number };
    expect(row.ciphertext.toString('latin1')).not.toContain(token);
    expect(row.nonce).toHaveLength(12);
    const dk = await asOwner(t.engine, (c) =>
      c.query('SELECT wrapped::text AS w FROM vault.data_keys WHERE business_id = $1', [w.a.business.id]),
    );
    expect(dk.rows).toHaveLength(1);
    expect(String((dk.rows[0] as { w: string }).w)).toContain('A256GCM');
  });

  it('refuses every vault object to capto_authenticated and capto_anon (no USAGE on the schema)', async () => {
    const objects = await asOwner(t.engine, (c) =>
      c.query<{
        name: string;
      }>(`SELECT format('%I.%I', n.nspname, c.relname) AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                                  WHERE n.nspname = 'vault' AND c.relkind IN ('r', 'v', 'm', 'S', 'p')`),
    );
    const names = objects.rows.map((r) => r.name);
    expect(names).toEqual(expect.arrayContaining(['vault.secrets', 'vault.data_keys', 'vault.oauth_flows']));
    for (const name of names) {
      for (const run of [
        (sql: string) => t.db.asUser({ sub: w.a.owner.id }, (tx) => tx.query(sql)),
        (sql: string) => t.db.asAnon((tx) => tx.query(sql)),
      ]) {
        const err = await run(`SELECT * FROM ${name}`).then(
          () => null,
          (e: unknown) => e as { code?: string; cause?: { code?: string; message?: string } },
        );
        expect(err?.cause?.code, name).toBe('42501');
        expect(err?.cause?.message).toMatch(/permission denied for schema vault/);
      }
    }
    // Positive control: the same query as the service role works.
    const ok = await t.db.asService('test.vault', (tx) => tx.query('SELECT count(*) FROM vault.secrets'));
    expect(ok.rowCount).toBe(1);
  });

  it('cannot be read through a user transaction, even by the owner of the business', async () => {
    const id = await put(w.a.business.id, 'x'.repeat(32));
    await expect(
      t.db.asUser({ sub: w.a.owner.id }, (tx) =>
        vault.readSecret(tx, { businessId: w.a.business.id, id, kind: 'twilio.auth_token' }),
      ),
    ).rejects.toMatchObject({ code: 'forbidden' });
  });

  it('fails to decrypt a ciphertext swapped between two businesses, or between two rows', async () => {
    const ta = randomBytes(16).toString('hex');
    const tb = randomBytes(16).toString('hex');
    const a = await put(w.a.business.id, ta);
    const b = await put(w.b.business.id, tb);
    const a2 = await put(w.a.business.id, 'another');
    await asOwner(t.engine, (c) =>
      c.query(
        `UPDATE vault.secrets s SET nonce = o.nonce, ciphertext = o.ciphertext, key_version = o.key_version
                 FROM vault.secrets o WHERE s.id = $1 AND o.id = $2`,
        [b, a],
      ),
    );
    await expect(read(w.b.business.id, b)).rejects.toBeInstanceOf(VaultError);
    await asOwner(t.engine, (c) =>
      c.query(
        `UPDATE vault.secrets s SET nonce = o.nonce, ciphertext = o.ciphertext FROM vault.secrets o WHERE s.id = $1 AND o.id = $2`,
        [a2, a],
      ),
    );
    await expect(read(w.a.business.id, a2)).rejects.toBeInstanceOf(VaultError);
    // Moving the whole row to the other business fails too (AAD names the business).
    await asOwner(t.engine, async (c) => {
      await c.query(
        `INSERT INTO vault.data_keys (business_id, version, wrapped, master_key_version)
                     SELECT $2, 2, wrapped, master_key_version FROM vault.data_keys WHERE business_id = $1 AND version = 1`,
        [w.a.business.id, w.b.business.id],
      );
      await c.query(`UPDATE vault.secrets SET business_id = $2, key_version = 2 WHERE id = $1`, [a2, w.b.business.id]);
    });
    await expect(read(w.b.business.id, a2)).rejects.toBeInstanceOf(VaultError);
    // Positive control: the untouched original still opens.
    expect(await read(w.a.business.id, a)).toBe(ta);
  });

  it('rotation re-wraps every data key under the new master key and keeps every secret readable', async () => {
    const owner = await newUser(t.engine);
    const stored: Array<{ bid: string; id: string; plaintext: string }> = [];
    for (let i = 0; i < 3; i++) {
      const biz = await newBusiness(t.engine, owner.id);
      const plaintext = randomBytes(16).toString('hex');
      stored.push({ bid: biz.id, id: await put(biz.id, plaintext), plaintext });
    }
    const master2 = parseMasterKey(`2:${key()},1:${k1}`);
    const first = await rotateMasterKey(t.db, master2);
    const dataKeys = (r: typeof first) => r.kinds.find((k) => k.table === 'vault.data_keys')!;
    expect(first.masterKeyVersion).toBe(2);
    expect(dataKeys(first).rewrapped).toBeGreaterThanOrEqual(3);
    // The data key copied to another business by the previous test does not open: reported,
    // and the rotation refuses to call itself complete while it stays under version 1.
    expect(first.failed).toEqual([
      {
        kind: 'per-business data keys',
        item: `business_id=${w.b.business.id} version=2`,
        version: 1,
        reason: expect.any(String),
      },
    ]);
    expect(dataKeys(first).remaining).toBe(1);
    expect(first.complete).toBe(false);
    const again = await rotateMasterKey(t.db, master2);
    expect(dataKeys(again).rewrapped).toBe(0); // idempotent
    const left = await asOwner(t.engine, (c) =>
      c.query<{ business_id: string }>('SELECT business_id FROM vault.data_keys WHERE master_key_version <> 2'),
    );
    expect(left.rows.map((r) => r.business_id)).toEqual([w.b.business.id]);
    // Readable with the new key alone (the old one can now be dropped) …
    const onlyNew = createVault(
      parseMasterKey(master2.current.version + ':' + master2.current.bytes.toString('base64')),
    );
    for (const s of stored) expect(await read(s.bid, s.id, onlyNew)).toBe(s.plaintext);
    // … and no longer with the old key alone.
    await expect(read(stored[0]!.bid, stored[0]!.id, vault)).rejects.toBeInstanceOf(VaultError);
  });
});
