// Safe defaults and what an operator notices (docs/OPERATIONS.md §1–§2): development
// listens on loopback unless HOST says otherwise; `capto --version` and the
// capto_build_info metric name the build; probe requests are logged at debug; rate-limit
// keys in Redis carry no email address and no "undefined"; restore says where the
// development master key lives when it has none; the embedded engine keeps its shared
// buffers small (its WebAssembly heap never shrinks); an SMS window that never opens is refused.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config/index.ts';
import { BackupError } from '../src/ops/backup-format.ts';
import { masterBackupKey } from '../src/ops/backup-key.ts';
import { freshEmail, signUp } from './support/auth.ts';
import { request } from './support/http.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { createTestDatabase, ENGINE } from './support/engine.ts';

// A Redis database of its own: other test files (and other runs) share db 0.
const REDIS_URL = 'redis://127.0.0.1:6379/11';
let s: TestServer;
let redis: Redis;
const lines: string[] = [];

beforeAll(async () => {
  redis = new Redis(REDIS_URL);
  await redis.flushdb();
  s = await startTestServer({ LOG_LEVEL: 'info', REDIS_URL }, { logSink: (line) => void lines.push(line) });
});
afterAll(async () => {
  await s?.stop();
  await redis?.flushdb();
  redis?.disconnect();
});

describe('listen address', () => {
  it('development and test listen on 127.0.0.1 unless HOST is set; production keeps 0.0.0.0', () => {
    expect(loadConfig({ CAPTO_ENV: 'development' }).host).toBe('127.0.0.1');
    expect(loadConfig({}).host).toBe('127.0.0.1');
    expect(loadConfig({ CAPTO_ENV: 'test' }).host).toBe('127.0.0.1');
    expect(loadConfig({ CAPTO_ENV: 'development', HOST: '0.0.0.0' }).host).toBe('0.0.0.0');
    expect(loadConfig({ CAPTO_ENV: 'production' }).host).toBe('0.0.0.0');
    expect(loadConfig({ CAPTO_ENV: 'production', HOST: '10.0.0.5' }).host).toBe('10.0.0.5');
  });
});

// CAPTO_SMS_QUIET_HOURS names the hours texts MAY be sent; read as quiet hours ("21-8") it was
// accepted and then never opened, deferring every automation and campaign text for ever.
describe('SMS sending hours', () => {
  it('reads start-end as the window texts may be sent, and off as no window', () => {
    expect(loadConfig({}).campaigns.smsWindow).toEqual([8, 21]);
    expect(loadConfig({ CAPTO_SMS_QUIET_HOURS: '9-17' }).campaigns.smsWindow).toEqual([9, 17]);
    expect(loadConfig({ CAPTO_SMS_QUIET_HOURS: '0-24' }).campaigns.smsWindow).toEqual([0, 24]);
    expect(loadConfig({ CAPTO_SMS_QUIET_HOURS: 'off' }).campaigns.smsWindow).toBeNull();
  });

  it.each(['21-8', '8-8', '23-0'])(
    'refuses %s at start-up: a window whose start is not before its end never opens',
    (v) => {
      expect(() => loadConfig({ CAPTO_SMS_QUIET_HOURS: v })).toThrow(ConfigError);
      expect(() => loadConfig({ CAPTO_SMS_QUIET_HOURS: v })).toThrow(
        /CAPTO_SMS_QUIET_HOURS: .*the window texts MAY be sent.*e\.g\. 8-21/,
      );
    },
  );

  it('refuses a malformed value naming the variable', () => {
    expect(() => loadConfig({ CAPTO_SMS_QUIET_HOURS: '8 to 21' })).toThrow(/CAPTO_SMS_QUIET_HOURS: /);
  });
});

describe('which build is running', () => {
  it('capto --version prints the package version, the commit and the Node version', () => {
    const r = spawnSync(process.execPath, ['bin/capto.js', '--version'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toMatch(/^capto 0\.1\.0 \(commit ([0-9a-f]{7,12}|unknown), node v24\.\d+\.\d+\)$/);
  });

  it('/metrics carries capto_build_info with the version', async () => {
    const r = await request(`${s.url}/metrics`);
    expect(r.status).toBe(200);
    expect(r.text).toMatch(/^capto_build_info\{version="0\.1\.0",commit="[0-9a-f]+|unknown",node="v24[^"]*"\} 1$/m);
  });
});

describe('logs', () => {
  it('health and readiness probes are logged at debug, other requests at info', async () => {
    lines.length = 0;
    for (let i = 0; i < 3; i++) {
      expect((await request(`${s.url}/healthz`)).status).toBe(200);
      expect((await request(`${s.url}/readyz`)).status).toBe(200);
    }
    expect((await request(`${s.url}/.well-known/security.txt`)).status).toBe(200);
    const logged = lines.map((l) => JSON.parse(l) as { req?: { url?: string }; msg?: string });
    expect(logged.filter((l) => /\/(healthz|readyz)/.test(l.req?.url ?? '')).map((l) => JSON.stringify(l))).toEqual([]);
    // Positive control: an ordinary request is logged at info.
    expect(logged.some((l) => l.req?.url === '/.well-known/security.txt' && l.msg === 'incoming request')).toBe(true);
  });
});

describe('rate-limit keys in Redis', () => {
  it('carry no email address and no "undefined"', async () => {
    const user = await signUp(s);
    const unknown = freshEmail('nobody');
    for (const email of [user.email, unknown]) {
      const r = await request(`${s.url}/auth/password/forgot`, { body: { email } });
      expect(r.status).toBeLessThan(300);
      const signin = await request(`${s.url}/auth/signin`, { body: { email, password: 'not-the-password-1' } });
      expect(signin.status).toBe(401);
    }
    const keys = await redis.keys('*');
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.filter((k) => /acct\.(forgot|signin):[0-9a-f]{32}$/.test(k)).length).toBeGreaterThanOrEqual(4);
    for (const k of keys) {
      expect(k).not.toContain('undefined');
      expect(k).not.toContain('@');
      expect(k).not.toContain(user.email.split('@')[0]!);
      expect(k).not.toContain(unknown.split('@')[0]!);
    }
  });
});

describe('restore without a master key', () => {
  it('says where the development master key lives', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'capto-nokey-'));
    try {
      const config = loadConfig({ CAPTO_ENV: 'development', CAPTO_DATA_DIR: dir });
      let error: unknown;
      try {
        masterBackupKey(config, 1);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(BackupError);
      expect((error as Error).message).toContain(path.join(dir, 'master.key'));
      expect((error as Error).message).toMatch(/CAPTO_MASTER_KEY/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('embedded memory', () => {
  it.skipIf(ENGINE !== 'embedded')("PGlite runs with 16 MB of shared buffers, not PostgreSQL's 128 MB", async () => {
    const t = await createTestDatabase({ migrate: false });
    try {
      const shown = await t.engine.withMaintenanceClient((c) =>
        c.query<{ shared_buffers: string }>('SHOW shared_buffers'),
      );
      expect(shown.rows[0]?.shared_buffers).toBe('16MB');
      // Our settings come on top of PGlite's own start parameters, which still hold.
      const search = await t.engine.withMaintenanceClient((c) =>
        c.query<{ max_worker_processes: string }>('SHOW max_worker_processes'),
      );
      expect(search.rows[0]?.max_worker_processes).toBe('0');
    } finally {
      await t.close();
    }
  });
});
