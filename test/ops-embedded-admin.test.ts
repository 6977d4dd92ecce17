// Operator commands on the embedded engine while a real `capto start` process holds the
// data dir (through its admin channel, docs/ARCHITECTURE.md §5) and after it
// stopped (under the data dir lock). Every command that opens the embedded database is
// exercised both ways; restore refuses clearly while the server runs. The server keeps
// answering — and its database socket keeps accepting new connections — throughout.
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { commands } from '../src/cli/commands.ts';
import { loadConfig, type Config } from '../src/config/index.ts';
import { asOwner } from '../src/db/engine.ts';
import { openEngine } from '../src/db/index.ts';
import { readLockHolder } from '../src/db/data-dir-lock.ts';
import { tableRowCounts } from '../src/ops/db-inventory.ts';
import { ENGINE } from './support/engine.ts';
import { spawnCapto, type CaptoProcess } from './support/capto-process.ts';
import { twoBusinesses } from './support/factories.ts';

const MASTER = randomBytes(32).toString('base64');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'capto-admin-'));
const dataDir = path.join(tmp, 'data');
const backupDir = path.join(tmp, 'backups');
const env = {
  CAPTO_ENV: 'test',
  CAPTO_DATA_DIR: dataDir,
  CAPTO_MASTER_KEY: `1:${MASTER}`,
  CAPTO_BACKUP_DIR: backupDir,
  CAPTO_DB_POOL_SIZE: '2',
  LOG_LEVEL: 'silent',
};
const configOf = (extra: Record<string, string> = {}): Config => loadConfig({ ...env, ...extra });

let server: CaptoProcess | undefined;
let url = '';
let seeded: Record<string, number>;
let onlineBackup = '';

/** Run a CLI command in this process, as `capto <name> <args>` would; returns exit code and output. */
async function run(name: string, values: Record<string, string | boolean> = {}, config = configOf()) {
  const command = commands.find((c) => c.name === name);
  if (!command) throw new Error(`no command ${name}`);
  const lines: string[] = [];
  const collect = (...a: unknown[]) => void lines.push(a.map(String).join(' '));
  const log = vi.spyOn(console, 'log').mockImplementation(collect);
  const err = vi.spyOn(console, 'error').mockImplementation(collect);
  try {
    const code = await command.run(values, config).catch((e: unknown) => {
      lines.push(`thrown: ${(e as Error).message}`);
      return 1;
    });
    return { code, out: lines.join('\n') };
  } finally {
    log.mockRestore();
    err.mockRestore();
  }
}

async function countsOf(config: Config) {
  const engine = await openEngine(config, 'test counts');
  try {
    return await asOwner(engine, (c) => tableRowCounts(c));
  } finally {
    await engine.close();
  }
}

/** A fresh connection to the server's own database socket (proves nobody deleted it). */
async function newSocketConnection() {
  const holder = readLockHolder(dataDir)!;
  const client = new pg.Client({ host: path.dirname(holder.adminSocket!), port: 5432, user: 'capto_app' });
  await client.connect();
  try {
    return (await client.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one;
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  if (ENGINE !== 'embedded') return;
  server = spawnCapto(['start'], { ...env, HOST: '127.0.0.1', PORT: '0', CAPTO_TLS: 'off' });
  [, url] = (await server.waitFor(/Capto is running at (\S+)/, 180_000)) as unknown as [string, string];
  // Seeded through the admin channel: a write from another process, committed by the server.
  const engine = await openEngine(configOf(), 'test seed');
  try {
    expect(engine.via).toBe('admin-channel');
    await twoBusinesses(engine);
    seeded = await asOwner(engine, (c) => tableRowCounts(c));
  } finally {
    await engine.close();
  }
}, 240_000);

afterAll(async () => {
  server?.child.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
});

describe.skipIf(ENGINE !== 'embedded')('embedded operator commands while the server runs', () => {
  it('the server publishes a private admin channel beside its database socket', () => {
    const holder = readLockHolder(dataDir)!;
    expect(holder).toMatchObject({ pid: server!.child.pid, purpose: 'capto start' });
    const sock = statSync(holder.adminSocket!);
    expect(sock.isSocket()).toBe(true);
    expect(sock.mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(holder.adminSocket!)).mode & 0o777).toBe(0o700);
    expect(seeded['"app"."businesses"']).toBe(2);
  });

  it('capto audit verify works through the channel and leaves the server socket alone', async () => {
    const r = await run('audit verify');
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/all intact/);
    expect(await newSocketConnection()).toBe(1);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
  });

  it('capto scan gives the real verdict of the live database', async () => {
    const r = await run('scan', { level: 'ERROR' });
    expect(r.code, r.out).toBe(0);
  }, 120_000);

  it('capto doctor scans the live database (through the admin channel) instead of giving up', async () => {
    const r = await run('doctor', { json: true });
    const report = JSON.parse(r.out) as { checks: Array<{ id: string; ok: boolean; detail: string }> };
    const scan = report.checks.find((c) => c.id === 'scan')!;
    expect(scan.ok, scan.detail).toBe(true);
    expect(scan.detail).toMatch(/scan clean: 0 error\(s\).*through the running server's admin channel/);
  }, 120_000);

  it('capto backup is online: the server keeps serving and its snapshot is removed afterwards', async () => {
    const r = await run('backup');
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/backup written: .*embedded engine.*online: the running server paused \d+ ms/);
    onlineBackup = r.out.match(/backup written: (\S+) /)![1]!;
    expect(existsSync(onlineBackup)).toBe(true);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    // The snapshot dir goes when the backup hangs up.
    await vi.waitFor(() => expect(readdirSync(path.join(dataDir, 'snapshots'))).toEqual([]), { timeout: 5000 });
  }, 120_000);

  it('capto restore refuses clearly and changes nothing', async () => {
    const r = await run('restore', { in: onlineBackup, force: true });
    expect(r.code).toBe(1);
    expect(r.out).toMatch(
      /capto restore cannot run while "capto start" \(pid \d+.*stop the server, restore, start it again/,
    );
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
  });

  it('capto jobs, jobs failed and jobs retry read the job tables through the channel', async () => {
    const list = await run('jobs');
    expect(list.code, list.out).toBe(0);
    const failed = await run('jobs failed');
    expect(failed.code, failed.out).toBe(0);
    expect(failed.out).toMatch(/no failed jobs/);
    const retry = await run('jobs retry', { queue: 'crm.trash-purge', id: randomUUID() });
    expect(retry.code, retry.out).toBe(1);
    expect(retry.out).toMatch(/no failed job .* in crm\.trash-purge/);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
  }, 120_000);

  it('capto migrate, keys rotate, keys rotate-jwt and demo purge go through the channel', async () => {
    const migrate = await run('migrate');
    expect(migrate.code, migrate.out).toBe(0);
    expect(migrate.out).toMatch(/up to date/);
    const rotate = await run('keys rotate');
    expect(rotate.code, rotate.out).toBe(0);
    expect(rotate.out).toMatch(/complete: everything sealed by the master key is under version 1/);
    const jwt = await run('keys rotate-jwt');
    expect(jwt.code, jwt.out).toBe(0);
    expect(jwt.out).toMatch(/new signing key/);
    const purge = await run('demo purge');
    expect(purge.code, purge.out).toBe(0);
    expect(purge.out).toMatch(/purged 0 demo business/);
    expect(await newSocketConnection()).toBe(1);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
  }, 120_000);
});

describe.skipIf(ENGINE !== 'embedded')(
  'the same commands once the server has stopped (offline, under the lock)',
  () => {
    beforeAll(async () => {
      server!.child.kill('SIGTERM');
      expect((await server!.exited).code).toBe(0);
      expect(readLockHolder(dataDir)).toBeUndefined();
    }, 60_000);

    it('audit verify, scan, doctor, migrate, keys rotate, keys rotate-jwt, demo purge and jobs open the data dir themselves', async () => {
      for (const [name, values, expected] of [
        ['audit verify', {}, /all intact/],
        ['scan', { level: 'ERROR' }, /./],
        ['migrate', {}, /up to date/],
        ['keys rotate', {}, /complete: everything sealed/],
        ['keys rotate-jwt', {}, /new signing key/],
        ['demo purge', {}, /purged 0 demo business/],
        ['jobs', {}, /./],
        ['jobs failed', {}, /no failed jobs/],
      ] as const) {
        const r = await run(name, values);
        expect(r.code, `${name}: ${r.out}`).toBe(0);
        expect(r.out, name).toMatch(expected);
      }
      const doctor = await run('doctor', { json: true });
      const scan = (
        JSON.parse(doctor.out) as { checks: Array<{ id: string; ok: boolean; detail: string }> }
      ).checks.find((c) => c.id === 'scan')!;
      expect(scan.ok, scan.detail).toBe(true);
      expect(scan.detail).not.toMatch(/admin channel/);
      const retry = await run('jobs retry', { queue: 'crm.trash-purge', id: randomUUID() });
      expect(retry.out).toMatch(/no failed job/);
      expect(readLockHolder(dataDir)).toBeUndefined(); // each released the lock
    }, 240_000);

    it('an offline backup, and the online one restores the rows the server held', async () => {
      const r = await run('backup');
      expect(r.code, r.out).toBe(0);
      expect(r.out).not.toMatch(/online/);
      const target = configOf({ CAPTO_DATA_DIR: path.join(tmp, 'restored') });
      const restored = await run('restore', { in: onlineBackup }, target);
      expect(restored.code, restored.out).toBe(0);
      expect(statSync(path.join(tmp, 'restored', 'pgdata')).mode & 0o777).toBe(0o700);
      expect(await countsOf(target)).toMatchObject({
        '"app"."businesses"': seeded['"app"."businesses"'],
        '"auth"."users"': seeded['"auth"."users"'],
        '"app"."memberships"': seeded['"app"."memberships"'],
      });
    }, 240_000);
  },
);
