// `capto doctor` fails on a development config, passes on a complete
// production one, and `CAPTO_ENV=production` start refuses on the same required items.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config/index.ts';
import { startCapto } from '../src/main.ts';
import { runDoctor, type DoctorReport } from '../src/ops/doctor.ts';
import { scanForDoctor } from '../src/ops/doctor-scan.ts';
import { createTestDatabase, ENGINE, type TestDatabase } from './support/engine.ts';

let t: TestDatabase;
let dbEnv: Record<string, string>;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'capto-doctor-'));

/** A CA and a leaf it signed (a "real" certificate as far as doctor can tell), via the openssl CLI. */
function makeCertificates(): void {
  const ssl = (...args: string[]) => {
    const r = spawnSync('openssl', args, { cwd: tmp, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  ssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '30', '-subj', '/CN=Capto Test CA');
  ssl('req', ...ec, '-keyout', 'key.pem', '-out', 'leaf.csr', '-subj', '/CN=crm.example.test');
  ssl(
    'x509',
    '-req',
    '-in',
    'leaf.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'cert.pem',
    '-days',
    '30',
  );
  ssl(
    'x509',
    '-req',
    '-in',
    'leaf.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'soon.pem',
    '-days',
    '3',
  );
}

beforeAll(async () => {
  makeCertificates();
  t = await createTestDatabase();
  await t.engine.close(); // doctor opens the database itself (under the data-dir lock when embedded)
  // Production logs in as capto_app and migrates with the admin URL.
  dbEnv = t.adminUrl
    ? {
        DATABASE_URL: Object.assign(new URL(t.adminUrl), { username: 'capto_app' }).toString(),
        CAPTO_MIGRATION_URL: t.adminUrl,
      }
    : t.env;
}, 240_000);

afterAll(async () => {
  await t?.close().catch(() => undefined);
  rmSync(tmp, { recursive: true, force: true });
});

function productionEnv(extra: Record<string, string> = {}): Record<string, string> {
  const backups = path.join(tmp, 'backups');
  mkdirSync(backups, { recursive: true });
  writeFileSync(path.join(backups, 'capto-latest.captobk'), 'x');
  return {
    CAPTO_ENV: 'production',
    LOG_LEVEL: 'silent',
    CAPTO_MASTER_KEY: randomBytes(32).toString('base64'),
    CAPTO_PUBLIC_URL: 'https://crm.example.test',
    CAPTO_TLS_CERT: path.join(tmp, 'cert.pem'),
    CAPTO_TLS_KEY: path.join(tmp, 'key.pem'),
    SMTP_URL: 'smtp://mail.example.test:587',
    CAPTO_BACKUP_DIR: backups,
    CAPTO_METRICS_TOKEN: randomBytes(24).toString('hex'),
    ...dbEnv,
    ...extra,
  };
}

const failing = (r: DoctorReport) =>
  r.checks.filter((c) => !c.ok && c.level === 'required').map((c) => `${c.id}: ${c.detail}`);

describe(`capto doctor (${ENGINE})`, () => {
  it('fails on a development configuration, naming what is missing', async () => {
    const r = await runDoctor(loadConfig({ CAPTO_ENV: 'development', ...dbEnv }), { scan: scanForDoctor });
    expect(r.ok).toBe(false);
    const missing = failing(r).join('\n');
    expect(missing).toMatch(/CAPTO_ENV=production/);
    expect(missing).toMatch(/CAPTO_MASTER_KEY/);
    expect(missing).toMatch(/CAPTO_TLS_CERT/);
    expect(missing).toMatch(/CAPTO_PUBLIC_URL/);
    expect(missing).toMatch(/SMTP_URL/);
    expect(missing).not.toMatch(/MASTER_KEY=|[A-Za-z0-9+/]{43}=/); // names settings, never values
  }, 120_000);

  it('passes on a complete production configuration (real scan, real login role)', async () => {
    const r = await runDoctor(loadConfig(productionEnv()), { scan: scanForDoctor });
    expect(failing(r)).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.checks.find((c) => c.id === 'scan')?.detail).toMatch(/scan clean/);
    expect(r.checks.find((c) => c.id === 'backups')).toMatchObject({ ok: true });
  }, 120_000);

  it('several nodes need Redis (and, on the embedded engine, a server database)', async () => {
    const r = await runDoctor(loadConfig(productionEnv()), {
      nodes: 3,
      scan: async () => ({ errors: 0, summary: 'stub' }),
    });
    expect(failing(r).join('\n')).toMatch(/REDIS_URL/);
    if (ENGINE === 'embedded') expect(failing(r).join('\n')).toMatch(/DATABASE_URL/);
    if (ENGINE === 'server') {
      const ok = await runDoctor(loadConfig(productionEnv({ REDIS_URL: 'redis://127.0.0.1:6379' })), {
        nodes: 3,
        scan: async () => ({ errors: 0, summary: 'stub' }),
      });
      expect(failing(ok)).toEqual([]);
    }
  });

  it.skipIf(ENGINE !== 'server')(
    'server: a superuser DATABASE_URL fails the login-role check, and production start refuses it',
    async () => {
      const r = await runDoctor(loadConfig(productionEnv({ DATABASE_URL: t.adminUrl! })), {
        scan: async () => ({ errors: 0, summary: 'stub' }),
      });
      expect(failing(r).join('\n')).toMatch(/login_role: .*superuser/);
      expect(failing(r).join('\n')).toMatch(/DATABASE_URL must log in as capto_app/);
      await expect(startCapto(loadConfig(productionEnv({ DATABASE_URL: t.adminUrl! })))).rejects.toThrow(
        /DATABASE_URL must log in as capto_app/,
      );
    },
  );

  it('a self-signed, expiring or mismatched certificate is a required failure; the CA-signed one passes', async () => {
    const stub = { scan: async () => ({ errors: 0, summary: 'stub' }) };
    const cert = async (c: string, k: string) =>
      (
        await runDoctor(
          loadConfig(productionEnv({ CAPTO_TLS_CERT: path.join(tmp, c), CAPTO_TLS_KEY: path.join(tmp, k) })),
          stub,
        )
      ).checks.find((x) => x.id === 'tls.certificate')!;
    expect(await cert('cert.pem', 'key.pem')).toMatchObject({
      ok: true,
      detail: expect.stringMatching(/Capto Test CA/),
    });
    expect(await cert('ca.pem', 'ca.key')).toMatchObject({ ok: false, detail: expect.stringMatching(/self-signed/) });
    expect(await cert('soon.pem', 'key.pem')).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/expires in [0-3] day/),
    });
    expect(await cert('cert.pem', 'ca.key')).toMatchObject({ ok: false, detail: expect.stringMatching(/not the key/) });
    expect(await cert('leaf.csr', 'key.pem')).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/not a readable PEM certificate/),
    });
    const badKey = await runDoctor(loadConfig(productionEnv({ CAPTO_MASTER_KEY: 'c2hvcnQ=' })), stub);
    expect(failing(badKey).join('\n')).toMatch(/master_key: CAPTO_MASTER_KEY entry 1 must decode to 32 bytes/);
  });

  it('a scan with errors is a required failure', async () => {
    const r = await runDoctor(loadConfig(productionEnv()), {
      scan: async () => ({ errors: 2, summary: '2 error(s)' }),
    });
    expect(failing(r).join('\n')).toMatch(/scan found 2 error/);
  });

  it('CAPTO_ENV=production start refuses on the same required configuration items', async () => {
    const { SMTP_URL: _omit, ...env } = productionEnv();
    await expect(startCapto(loadConfig(env))).rejects.toThrow(ConfigError);
    await expect(startCapto(loadConfig(env))).rejects.toThrow(/SMTP_URL/);
  });

  it('the CLI exits 1 on a development configuration and prints the failures', () => {
    const r = spawnSync(process.execPath, ['bin/capto.js', 'doctor'], {
      env: { PATH: process.env.PATH, CAPTO_ENV: 'development', CAPTO_DATA_DIR: path.join(tmp, 'cli-empty') },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/FAIL +required +env/);
    expect(r.stdout).toMatch(/not ready for production/);
  }, 90_000);
});
