// Promise P2: encrypted backups. Round trip on the engine under test gives the
// same rows; a wrong key, a wrong passphrase and a flipped byte are refused with clear
// errors and restore nothing; a non-empty target needs --force; the file holds no
// plaintext; an embedded data dir in use by a server is refused.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../src/config/index.ts';
import { asOwner } from '../src/db/engine.ts';
import { openEngine } from '../src/db/index.ts';
import { migrate } from '../src/db/migrator.ts';
import { Readable } from 'node:stream';
import { PGlite } from '@electric-sql/pglite';
import { btree_gin } from '@electric-sql/pglite/contrib/btree_gin';
import { citext } from '@electric-sql/pglite/contrib/citext';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import { BackupError, HEADER_LENGTH, MAGIC, writeBackup } from '../src/ops/backup-format.ts';
import { masterBackupKey } from '../src/ops/backup-key.ts';
import { createBackup, restoreBackup } from '../src/ops/backup.ts';
import { serverNonEmptyTables, withAdmin } from '../src/ops/backup-server.ts';
import { acquireDataDirLock } from '../src/db/data-dir-lock.ts';
import { listTables, tableRowCounts, type Queryable } from '../src/ops/db-inventory.ts';
import { createDatabase } from '../src/db/request.ts';
import { parseMasterKey } from '../src/vault/master-key.ts';
import { createVault, type SecretRef } from '../src/vault/secrets.ts';
import { createBlankDatabase, createTestDatabase, ENGINE } from './support/engine.ts';
import { twoBusinesses } from './support/factories.ts';

const MASTER = randomBytes(32).toString('base64');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'capto-ops-backup-'));
const cleanups: Array<() => Promise<void>> = [];
// A restore opens a whole database; on a loaded 2-core CI box that takes tens of seconds.
const SLOW = 240_000;
let passTarget: Config | undefined;
const vault = createVault(parseMasterKey(MASTER));
const secrets: Array<{ ref: SecretRef; plaintext: string }> = [];
let sourceDigests: Record<string, string>;

let source: { env: Record<string, string>; config: Config; counts: Record<string, number>; email: string };
let backupFile: string;
let passFile: string;

const configFor = (env: Record<string, string>, extra: Record<string, string> = {}) =>
  loadConfig({
    CAPTO_ENV: 'test',
    LOG_LEVEL: 'silent',
    CAPTO_MASTER_KEY: MASTER,
    CAPTO_DB_POOL_SIZE: '2',
    ...env,
    ...extra,
  });

async function countsOf(config: Config): Promise<Record<string, number>> {
  const engine = await openEngine(config, 'test');
  try {
    return await asOwner(engine, (c) => tableRowCounts(c));
  } finally {
    await engine.close();
  }
}

/** A blank target: an empty data dir, or an empty database (roles exist cluster-wide). */
async function blankTarget(): Promise<Config> {
  const blank = await createBlankDatabase();
  cleanups.push(() => blank.drop());
  return configFor(blank.env);
}

const targetEnv = (c: Config): Record<string, string> =>
  c.databaseUrl ? { DATABASE_URL: c.databaseUrl } : { CAPTO_DATA_DIR: c.dataDir };

/** Nothing restored: no embedded pgdata at all, or no table with rows on the server. */
async function stillEmpty(c: Config): Promise<boolean> {
  if (!c.databaseUrl) return !existsSync(path.join(c.dataDir, 'pgdata'));
  return (await serverNonEmptyTables(c.databaseUrl)).length === 0;
}

/** md5 of every table's rows in a stable order: equal digests mean identical rows (timestamps, bytea, jsonb …). */
async function tableDigests(c: Queryable): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const t of await listTables(c)) {
    if (t.startsWith('"capto_meta".')) continue;
    const r = await c.query<{ d: string }>(
      `SELECT md5(coalesce(string_agg(x::text, ',' ORDER BY x::text), '')) AS d FROM (SELECT to_jsonb(t) AS x FROM ${t} t) s`,
    );
    out[t] = r.rows[0]!.d;
  }
  return out;
}
const digests = (url: string) => withAdmin(url, (c) => tableDigests(c));

async function expectRefused(p: Promise<unknown>, reason: BackupError['reason'], message: RegExp) {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(BackupError);
  expect((e as BackupError).reason).toBe(reason);
  expect((e as BackupError).message).toMatch(message);
}

beforeAll(async () => {
  const t = await createTestDatabase();
  const { a, b } = await twoBusinesses(t.engine);
  // Vault secrets (sealed under per-business data keys wrapped by the master key) must
  // come back as the same ciphertext and still open after the restore.
  for (const biz of [a.business, b.business]) {
    const plaintext = `AUTH-${randomBytes(12).toString('hex')}`;
    const id = await t.db.asService('test.vault', (tx) =>
      vault.putSecret(tx, { businessId: biz.id, kind: 'twilio.auth_token', plaintext }),
    );
    secrets.push({ ref: { businessId: biz.id, id, kind: 'twilio.auth_token' }, plaintext });
  }
  const counts = await asOwner(t.engine, (c) => tableRowCounts(c));
  sourceDigests = await asOwner(t.engine, (c) => tableDigests(c));
  await t.engine.close(); // embedded backups need the data dir to themselves
  cleanups.push(() => t.close().catch(() => undefined));
  const env = t.adminUrl ? { DATABASE_URL: t.adminUrl } : t.env;
  source = { env, config: configFor(env), counts, email: a.owner.email };
  backupFile = path.join(tmp, 'one.captobk');
  passFile = path.join(tmp, 'pass.txt');
  writeFileSync(passFile, 'correct horse battery staple\n', { mode: 0o600 });
  await createBackup(source.config, { out: backupFile });
}, SLOW);

afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  rmSync(tmp, { recursive: true, force: true });
});

describe(`backup and restore (${ENGINE})`, () => {
  it('the seeded source has rows in the tables the round trip compares', () => {
    expect(source.counts['"auth"."users"']).toBe(7);
    expect(source.counts['"app"."businesses"']).toBe(2);
    expect(source.counts['"app"."memberships"']).toBe(6);
    expect(source.counts['"vault"."secrets"']).toBe(2);
    expect(source.counts['"vault"."data_keys"']).toBe(2);
  });

  it('writes a CAPTOBK1 file that carries no plaintext row', () => {
    const bytes = readFileSync(backupFile);
    expect(bytes.subarray(0, 8).equals(MAGIC)).toBe(true);
    expect(bytes.readUInt8(8)).toBe(1);
    expect(bytes.length).toBeGreaterThan(HEADER_LENGTH + 16);
    expect(bytes.includes(Buffer.from(source.email))).toBe(false);
    expect(bytes.includes(Buffer.from('memberships'))).toBe(false);
    for (const { plaintext } of secrets) expect(bytes.includes(Buffer.from(plaintext))).toBe(false);
  });

  it(
    'restores into an empty database with identical row counts, under a rotated key list, and migrates as up to date',
    async () => {
      const target = await blankTarget();
      // After `capto keys rotate` the old version stays listed: the old backup still restores.
      const rotated = configFor(targetEnv(target), {
        CAPTO_MASTER_KEY: `2:${randomBytes(32).toString('base64')},1:${MASTER}`,
      });
      const r = await restoreBackup(rotated, { in: backupFile });
      expect(r.replacedTables).toEqual([]);
      if (ENGINE === 'embedded') {
        // Like the original: only the capto user may enter the restored database's directory.
        expect(statSync(path.join(rotated.dataDir, 'pgdata')).mode & 0o777).toBe(0o700);
        expect(statSync(rotated.dataDir).mode & 0o077).toBe(0);
      }
      const engine = await openEngine(target, 'test');
      try {
        expect(await asOwner(engine, (c) => tableRowCounts(c))).toEqual(source.counts);
        expect(await asOwner(engine, (c) => tableDigests(c))).toEqual(sourceDigests);
        expect((await engine.withMaintenanceClient((c) => migrate(c))).applied).toEqual([]);
        const db = createDatabase(engine.pool);
        expect(secrets).toHaveLength(2);
        for (const { ref, plaintext } of secrets) {
          expect(await db.asService('test.vault', (tx) => vault.readSecret(tx, ref))).toBe(plaintext);
        }
      } finally {
        await engine.close();
      }
    },
    SLOW,
  );

  it(
    'refuses a wrong master key, a flipped byte anywhere and a non-backup file, restoring nothing',
    async () => {
      const target = await blankTarget();
      const other = configFor(targetEnv(target), { CAPTO_MASTER_KEY: randomBytes(32).toString('base64') });
      await expectRefused(
        restoreBackup(other, { in: backupFile }),
        'wrong_key',
        /different master key.*nothing was restored/,
      );
      const original = readFileSync(backupFile);
      for (const offset of [20, HEADER_LENGTH + 5, Math.floor(original.length / 2), original.length - 1]) {
        const bad = Buffer.from(original);
        bad[offset] = bad[offset]! ^ 0x01;
        const file = path.join(tmp, `bad-${offset}.captobk`);
        writeFileSync(file, bad);
        const e = await restoreBackup(target, { in: file }).then(
          () => undefined,
          (err: unknown) => err,
        );
        expect(e, `flipped byte at ${offset}`).toBeInstanceOf(BackupError);
        // A flipped salt byte derives another key: reported as a key mismatch, never restored.
        expect((e as BackupError).message).toMatch(/(corrupted|tampered|different master key).*nothing was restored/);
      }
      await expectRefused(restoreBackup(target, { in: passFile }), 'not_a_backup', /not a Capto backup/);
      expect(await stillEmpty(target)).toBe(true);
    },
    SLOW,
  );

  it(
    'a passphrase backup restores with the passphrase only',
    async () => {
      const file = path.join(tmp, 'pass.captobk');
      await createBackup(source.config, { out: file, passphraseFile: passFile });
      const target = await blankTarget();
      const wrong = path.join(tmp, 'wrong.txt');
      writeFileSync(wrong, 'incorrect horse battery staple', { mode: 0o600 });
      await expectRefused(
        restoreBackup(target, { in: file, passphraseFile: wrong }),
        'wrong_key',
        /wrong passphrase.*nothing was restored/,
      );
      await expectRefused(restoreBackup(target, { in: file }), 'wrong_key', /passphrase-file/);
      expect(await stillEmpty(target)).toBe(true);
      await restoreBackup(target, { in: file, passphraseFile: passFile });
      expect(await countsOf(target)).toEqual(source.counts);
      passTarget = target;
    },
    SLOW,
  );

  it(
    'refuses to restore over a non-empty database without --force; --force replaces it',
    async () => {
      expect(passTarget, 'the passphrase test restored into this target').toBeDefined();
      await expectRefused(restoreBackup(passTarget!, { in: backupFile }), 'not_empty', /not empty.*--force/);
      const r = await restoreBackup(passTarget!, { in: backupFile, force: true });
      expect(r.replacedTables).toContain('"auth"."users"');
      expect(await countsOf(passTarget!)).toEqual(source.counts);
    },
    SLOW,
  );

  it.skipIf(ENGINE !== 'server')(
    'server without pg_dump: the logical export (one REPEATABLE READ snapshot) round-trips rows and secrets',
    async () => {
      const file = path.join(tmp, 'logical.captobk');
      const r = await createBackup(source.config, { out: file, logical: true });
      expect(r.header.payload).toBe('logical-ndjson');
      expect(readFileSync(file).includes(Buffer.from(source.email))).toBe(false);
      const target = await blankTarget();
      await restoreBackup(target, { in: file });
      const engine = await openEngine(target, 'test');
      try {
        expect(await asOwner(engine, (c) => tableRowCounts(c))).toEqual(source.counts);
        expect((await engine.withMaintenanceClient((c) => migrate(c))).applied).toEqual([]);
        const db = createDatabase(engine.pool);
        for (const { ref, plaintext } of secrets) {
          expect(await db.asService('test.vault', (tx) => vault.readSecret(tx, ref))).toBe(plaintext);
        }
      } finally {
        await engine.close();
      }
      // Not just counts: every row of every table is identical (timestamps, bytea, jsonb …).
      expect(await digests(target.databaseUrl!)).toEqual(sourceDigests);
      await expectRefused(restoreBackup(target, { in: file, force: true }), 'not_empty', /empty database only/);
    },
    SLOW,
  );

  it.skipIf(ENGINE !== 'embedded')(
    'embedded: a backup of an earlier release (PGlite dumpDataDir tarball) restores with the streaming restore',
    async () => {
      const file = path.join(tmp, 'earlier-release.captobk');
      const lock = acquireDataDirLock(source.config.dataDir, 'test earlier-release backup');
      try {
        const db = await PGlite.create(path.join(source.config.dataDir, 'pgdata'), {
          extensions: { btree_gin, citext, pg_trgm },
        });
        const blob = await db.dumpDataDir('none');
        await db.close();
        const tar = Buffer.from(await blob.arrayBuffer());
        await writeBackup(file, Readable.from([tar]), 'pglite-datadir', masterBackupKey(source.config));
      } finally {
        lock.release();
      }
      const target = await blankTarget();
      await restoreBackup(target, { in: file });
      expect(await countsOf(target)).toEqual(source.counts);
    },
    SLOW,
  );

  it.skipIf(ENGINE !== 'embedded')(
    'embedded: refuses while another command (no admin channel) holds the data dir',
    async () => {
      const lock = acquireDataDirLock(source.config.dataDir, 'capto restore');
      try {
        await expectRefused(
          createBackup(source.config, { out: path.join(tmp, 'busy.captobk') }),
          'in_use',
          /in use by "capto restore".*serves no admin channel/,
        );
      } finally {
        lock.release();
      }
    },
  );
});
