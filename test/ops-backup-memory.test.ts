// Embedded backups stream (docs/OPERATIONS.md §5): the backup process's peak memory
// grows by a fixed amount of buffers, not with the data. The previous implementation
// held PGlite's whole data-dir tarball in memory: ~1 GB of growth for 62 MB of data and
// ~1.04 GB for 174 MB (bench/README.md). Size: CAPTO_TEST_BACKUP_MB (default 48); the
// bound stays the same at any size (measured at 174 MB: +55 MB offline, +61–69 MB online).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/index.ts';
import { ENGINE } from './support/engine.ts';
import { measureBackup } from './support/backup-rss.ts';
import { spawnCapto, type CaptoProcess } from './support/capto-process.ts';
import { fillDataDir } from './support/filler.ts';

const MEGABYTES = Number(process.env.CAPTO_TEST_BACKUP_MB ?? 48);
/** Buffers of the stream (read, tar, gzip, cipher, write) plus garbage not yet collected. */
const BOUND_MB = 128;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'capto-backup-mem-'));
const env = {
  CAPTO_ENV: 'test',
  CAPTO_DATA_DIR: path.join(tmp, 'data'),
  CAPTO_MASTER_KEY: `1:${randomBytes(32).toString('base64')}`,
  LOG_LEVEL: 'silent',
};
let server: CaptoProcess | undefined;
afterAll(() => {
  server?.child.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
});

describe.skipIf(ENGINE !== 'embedded')(`embedded backup memory (${MEGABYTES} MB of data)`, () => {
  it('offline and online backups grow the process by a bounded amount, whatever the data size', async () => {
    const bytes = await fillDataDir(loadConfig(env), MEGABYTES);
    expect(bytes).toBeGreaterThanOrEqual(MEGABYTES * 1024 * 1024);

    const offline = await measureBackup('streaming', path.join(tmp, 'offline.captobk'), env);
    expect(offline.online).toBe(false);
    expect(offline.growthMb, JSON.stringify(offline)).toBeLessThan(BOUND_MB);

    server = spawnCapto(['start'], {
      ...env,
      HOST: '127.0.0.1',
      PORT: '0',
      CAPTO_TLS: 'off',
      CAPTO_SCAN_ON_START: 'off',
    });
    await server.waitFor(/Capto is running/, 180_000);
    const online = await measureBackup('streaming', path.join(tmp, 'online.captobk'), env);
    expect(online.online).toBe(true);
    expect(online.growthMb, JSON.stringify(online)).toBeLessThan(BOUND_MB);
    console.log(
      `backup of ${(bytes / 1048576).toFixed(0)} MB: offline ${JSON.stringify(offline)}, online ${JSON.stringify(online)}`,
    );
  }, 300_000);
});
