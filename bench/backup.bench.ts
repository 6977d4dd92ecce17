// Embedded backups: peak memory of the `capto backup` process (growth over its own
// start-up peak), streaming (online through the running server's admin channel, and
// offline) vs the previous in-memory implementation (PGlite dumpDataDir into one
// buffer), on a data dir of BENCH_BACKUP_MB (default 171, the size in the field report).
// Also: how long the running server paused for the snapshot. Goals are absolute.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../src/config/index.ts';
import { figure, type Figure } from './lib.ts';
import { measureBackup } from '../test/support/backup-rss.ts';
import { spawnCapto } from '../test/support/capto-process.ts';
import { fillDataDir } from '../test/support/filler.ts';

export default async function run(): Promise<Figure[]> {
  const megabytes = Number(process.env.BENCH_BACKUP_MB ?? 171);
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'capto-bench-backup-'));
  const env = {
    CAPTO_ENV: 'test',
    CAPTO_DATA_DIR: path.join(tmp, 'data'),
    CAPTO_MASTER_KEY: `1:${randomBytes(32).toString('base64')}`,
    LOG_LEVEL: 'silent',
  };
  try {
    const bytes = await fillDataDir(loadConfig(env), megabytes);
    const size = `${(bytes / 1048576).toFixed(0)} MB pgdata`;
    const before = await measureBackup('in-memory', path.join(tmp, 'in-memory.captobk'), env);
    const offline = await measureBackup('streaming', path.join(tmp, 'offline.captobk'), env);
    const server = spawnCapto(['start'], {
      ...env,
      HOST: '127.0.0.1',
      PORT: '0',
      CAPTO_TLS: 'off',
      CAPTO_SCAN_ON_START: 'off',
    });
    let online;
    try {
      await server.waitFor(/Capto is running/, 300_000);
      online = await measureBackup('streaming', path.join(tmp, 'online.captobk'), env);
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
    }
    return [
      figure({
        name: 'embedded backup peak RSS growth, online (streaming)',
        value: online.growthMb,
        unit: 'MB',
        baseline: before.growthMb,
        goal: '<= 128 MB',
        engine: 'embedded',
        notes: `${size}; baseline = previous in-memory backup; ${online.seconds.toFixed(1)} s`,
      }),
      figure({
        name: 'embedded backup peak RSS growth, offline (streaming)',
        value: offline.growthMb,
        unit: 'MB',
        baseline: before.growthMb,
        goal: '<= 128 MB',
        engine: 'embedded',
        notes: `${size}; ${offline.seconds.toFixed(1)} s vs ${before.seconds.toFixed(1)} s in memory`,
      }),
      figure({
        name: 'embedded online backup: server paused for the snapshot',
        value: online.pausedMs ?? NaN,
        unit: 'ms',
        baseline: online.seconds * 1000,
        goal: '<= 2000 ms',
        engine: 'embedded',
        notes: `${size}; baseline = the whole backup's duration (what a paused-throughout design would cost)`,
      }),
    ];
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
