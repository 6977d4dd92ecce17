// The embedded data dir lock is an OS lock (docs/ARCHITECTURE.md §5): the kernel
// drops it when the holder dies, so a server killed with kill -9 starts again at once,
// and no PID — reused or not — in a lock file ever makes a data dir look held.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  acquireDataDirLock,
  DataDirInUseError,
  readLockHolder,
  tryAcquireDataDirLock,
} from '../src/db/data-dir-lock.ts';
import { loadConfig } from '../src/config/index.ts';
import { openEngine } from '../src/db/index.ts';
import { ENGINE } from './support/engine.ts';
import { startTestServer } from './support/server.ts';
import { spawnCapto } from './support/capto-process.ts';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'capto-lock-'));
const children: Array<() => void> = [];
afterAll(() => {
  for (const kill of children) kill();
  rmSync(tmp, { recursive: true, force: true });
});
const newDir = (name: string) => path.join(tmp, name);

/** A child process holding the lock on `dir` (until killed). */
async function holdInChild(dir: string, purpose = 'test holder') {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/ops/hold-data-dir-lock.ts', dir, purpose], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(() => child.kill('SIGKILL'));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('locked') && resolve());
    child.once('exit', (code) => reject(new Error(`lock holder exited with ${code}`)));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { pid: child.pid!, kill9: async () => (child.kill('SIGKILL'), await exited) };
}

/** Start time of a process in clock ticks since boot (Linux /proc), to show a PID was reused. */
const startTime = (pid: number) => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[19];

describe('data dir lock', () => {
  it('one holder at a time, also within one process; released means free again', () => {
    const dir = newDir('inproc');
    const first = acquireDataDirLock(dir, 'first');
    expect(tryAcquireDataDirLock(dir, 'second')).toBeUndefined();
    expect(() => acquireDataDirLock(dir, 'capto scan')).toThrow(DataDirInUseError);
    expect(() => acquireDataDirLock(dir, 'capto scan')).toThrow(/in use by "first" \(pid \d+/);
    expect(readLockHolder(dir)).toMatchObject({ pid: process.pid, purpose: 'first' });
    first.release();
    expect(readLockHolder(dir)).toBeUndefined();
    const again = acquireDataDirLock(dir, 'again');
    expect(again.held).toBe(true);
    again.release();
    expect(again.held).toBe(false);
  });

  it('a process killed with kill -9 leaves the lock free: the next one takes it at once', async () => {
    const dir = newDir('kill9');
    const holder = await holdInChild(dir, 'capto start');
    expect(tryAcquireDataDirLock(dir, 'probe')).toBeUndefined();
    expect(readLockHolder(dir)).toMatchObject({ pid: holder.pid, purpose: 'capto start' });
    await holder.kill9();
    // The holder file is still there, naming the dead process; it is not trusted.
    expect(readLockHolder(dir)?.pid).toBe(holder.pid);
    const lock = acquireDataDirLock(dir, 'after kill -9');
    expect(readLockHolder(dir)).toMatchObject({ pid: process.pid, purpose: 'after kill -9' });
    lock.release();
  });

  it('a lock file naming a live, unrelated process (a reused PID) does not hold the data dir', async () => {
    const dir = newDir('reused');
    const holder = await holdInChild(dir, 'capto start');
    const oldStart = startTime(holder.pid);
    await holder.kill9();
    // A live process that is not a Capto server: this test's parent (the PID-1 case of a
    // restarted container) and a fresh child started after the holder died.
    const unrelated = spawn('sleep', ['30'], { stdio: 'ignore' });
    children.push(() => unrelated.kill('SIGKILL'));
    expect(startTime(unrelated.pid!)).not.toBe(oldStart);
    for (const pid of [unrelated.pid!, process.ppid, 1]) {
      process.kill(pid, 0); // alive
      writeFileSync(
        path.join(dir, 'capto.lock.json'),
        JSON.stringify({ pid, purpose: 'capto start', since: new Date(0).toISOString() }),
      );
      // The lock file of older versions, which trusted "a live process has this PID".
      writeFileSync(path.join(dir, 'capto.lock'), JSON.stringify({ pid, purpose: 'capto start', since: 'x' }));
      const lock = acquireDataDirLock(dir, `start while pid ${pid} lives`);
      expect(existsSync(path.join(dir, 'capto.lock'))).toBe(false);
      expect(readLockHolder(dir)?.pid).toBe(process.pid);
      lock.release();
    }
  });
});

describe.skipIf(ENGINE !== 'embedded')('capto start after kill -9 (a real server process)', () => {
  it('starts again at once on the same data dir, and a second server is refused while one runs', async () => {
    const dataDir = newDir('server');
    const env = { CAPTO_ENV: 'test', CAPTO_DATA_DIR: dataDir, HOST: '127.0.0.1', PORT: '0', CAPTO_TLS: 'off' };
    const first = spawnCapto(['start'], env);
    children.push(() => first.child.kill('SIGKILL'));
    await first.waitFor(/Capto is running at (\S+)/, 180_000);
    expect(readLockHolder(dataDir)).toMatchObject({ pid: first.child.pid, purpose: 'capto start' });

    const second = spawnCapto(['start'], env);
    children.push(() => second.child.kill('SIGKILL'));
    expect((await second.exited).code).toBe(1);
    expect(second.output()).toMatch(/capto start cannot run while "capto start" \(pid \d+.*another Capto server/);

    first.child.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');
    const restarted = spawnCapto(['start'], env);
    children.push(() => restarted.child.kill('SIGKILL'));
    const [, url] = await restarted.waitFor(/Capto is running at (\S+)/, 180_000);
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(200);
    expect(readLockHolder(dataDir)).toMatchObject({ pid: restarted.child.pid, purpose: 'capto start' });
    restarted.child.kill('SIGTERM');
    expect((await restarted.exited).code).toBe(0);
    expect(readLockHolder(dataDir)).toBeUndefined();
  }, 400_000);
});

describe.skipIf(ENGINE !== 'embedded')('a data dir whose path is too long for a Unix socket', () => {
  it('the server serves its sockets from a private temp dir, and commands still find it', async () => {
    const dataDir = path.join(tmp, 'a'.repeat(60), 'b'.repeat(40));
    const server = await startTestServer({ CAPTO_DATA_DIR: dataDir, CAPTO_SCAN_ON_START: 'off' });
    const socketDir = path.dirname(readLockHolder(dataDir)!.adminSocket!);
    try {
      const holder = readLockHolder(dataDir)!;
      expect(holder.adminSocket!.startsWith(path.join(os.tmpdir(), 'capto-sock-'))).toBe(true);
      const engine = await openEngine(
        loadConfig({ CAPTO_ENV: 'test', CAPTO_DATA_DIR: dataDir, LOG_LEVEL: 'silent' }),
        'test long path',
      );
      try {
        expect(engine.via).toBe('admin-channel');
        expect((await engine.pool.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one).toBe(1);
      } finally {
        await engine.close();
      }
    } finally {
      await server.stop();
    }
    expect(existsSync(socketDir)).toBe(false); // the temp socket dir goes with the server
  }, 120_000);
});
