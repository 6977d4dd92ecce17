// A real Capto server on a random port, on the engine under test, with its own
// fresh database. Extra environment (fakes' URLs, limits) is passed through config.
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/index.ts';
import { startCapto, type RunningCapto } from '../../src/main.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createBlankDatabase } from './engine.ts';
import { sharedFakeHibp } from '../fakes/hibp.ts';

export interface TestServer extends RunningCapto {
  stop(): Promise<void>;
}

export interface TestServerOptions {
  /** Receives every log line (raw JSON) — set LOG_LEVEL in `env` to choose how many. */
  logSink?: (line: string) => void;
}

export async function startTestServer(
  env: Record<string, string> = {},
  options: TestServerOptions = {},
): Promise<TestServer> {
  const blank = await createBlankDatabase();
  const port = await freePort();
  // Server mode has no data dir of its own: give it one for the dev master key and the mail outbox.
  const scratch = blank.env.CAPTO_DATA_DIR ? undefined : mkdtempSync(path.join(os.tmpdir(), 'capto-data-'));
  const config = loadConfig({
    CAPTO_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: String(port),
    LOG_LEVEL: 'silent',
    CAPTO_DB_POOL_SIZE: '4',
    // No network in tests: passwords are checked against the local fake range server.
    HIBP_RANGE_URL: (await sharedFakeHibp()).url,
    // Every test signs in from 127.0.0.1; the rate-limit tests set their own low limits.
    CAPTO_AUTH_RATE_IP: '100000',
    CAPTO_AUTH_RATE_ACCOUNT: '100000',
    CAPTO_AUTH_RATE_MAIL: '100000',
    // Shared workspaces invite many people to one address space; the limit tests set their own.
    CAPTO_INVITE_RATE_RECIPIENT: '100000',
    CAPTO_INVITE_RATE_INVITER: '100000',
    CAPTO_INVITE_RATE_BUSINESS: '100000',
    // The outbox delivers through the job engine: poll often so tests see it soon.
    CAPTO_JOBS_POLL_SECONDS: '0.5',
    ...(scratch ? { CAPTO_DATA_DIR: scratch } : {}),
    ...blank.env,
    ...env,
  });
  const sink = options.logSink;
  const running = await startCapto(
    config,
    sink ? { logger: createLogger(config, { write: (line: string) => void sink(line) }) } : {},
  );
  return Object.assign(running, {
    async stop() {
      await running.close();
      await blank.drop();
      if (scratch) rmSync(scratch, { recursive: true, force: true });
    },
  });
}

/** A port free right now on loopback (the public URL must know it before listening). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
