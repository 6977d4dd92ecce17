// A test server like startTestServer, but with every log line captured (level trace),
// for tests that must prove a secret never reaches the log (P5).
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/index.ts';
import { startCapto } from '../../src/main.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { sharedFakeHibp } from '../fakes/hibp.ts';
import { createBlankDatabase } from './engine.ts';
import { freePort, type TestServer } from './server.ts';

export interface CapturingServer extends TestServer {
  /** Every log line written so far (raw JSON text). */
  logLines: string[];
}

export async function startCapturingServer(env: Record<string, string> = {}): Promise<CapturingServer> {
  const blank = await createBlankDatabase();
  const port = await freePort();
  const scratch = blank.env.CAPTO_DATA_DIR ? undefined : mkdtempSync(path.join(os.tmpdir(), 'capto-data-'));
  const config = loadConfig({
    CAPTO_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: String(port),
    LOG_LEVEL: 'trace',
    CAPTO_DB_POOL_SIZE: '4',
    HIBP_RANGE_URL: (await sharedFakeHibp()).url,
    CAPTO_AUTH_RATE_IP: '100000',
    CAPTO_AUTH_RATE_ACCOUNT: '100000',
    ...(scratch ? { CAPTO_DATA_DIR: scratch } : {}),
    ...blank.env,
    ...env,
  });
  const logLines: string[] = [];
  const logger = createLogger(config, { write: (line: string) => void logLines.push(line) });
  const running = await startCapto(config, { logger });
  return Object.assign(running, {
    logLines,
    async stop() {
      await running.close();
      await blank.drop();
      if (scratch) rmSync(scratch, { recursive: true, force: true });
    },
  });
}
