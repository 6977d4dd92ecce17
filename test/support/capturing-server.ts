// A test server like startTestServer, but with every log line captured (level trace),
// for tests that must prove a secret never reaches the log (P5).
import { startTestServer, type TestServer } from './server.ts';

export interface CapturingServer extends TestServer {
  /** Every log line written so far (raw JSON text). */
  logLines: string[];
}

export async function startCapturingServer(env: Record<string, string> = {}): Promise<CapturingServer> {
  const logLines: string[] = [];
  const running = await startTestServer({ LOG_LEVEL: 'trace', ...env }, { logSink: (line) => logLines.push(line) });
  return Object.assign(running, { logLines });
}
