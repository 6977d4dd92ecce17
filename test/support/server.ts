// A real Capto server on a random port, on the engine under test, with its own
// fresh database. Extra environment (fakes' URLs, limits) is passed through config.
import net from 'node:net';
import { loadConfig } from '../../src/config/index.ts';
import { startCapto, type RunningCapto } from '../../src/main.ts';
import { createBlankDatabase } from './engine.ts';

export interface TestServer extends RunningCapto {
  stop(): Promise<void>;
}

export async function startTestServer(env: Record<string, string> = {}): Promise<TestServer> {
  const blank = await createBlankDatabase();
  const port = await freePort();
  const config = loadConfig({
    CAPTO_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: String(port),
    LOG_LEVEL: 'silent',
    CAPTO_DB_POOL_SIZE: '4',
    ...blank.env,
    ...env,
  });
  const running = await startCapto(config);
  return Object.assign(running, {
    async stop() {
      await running.close();
      await blank.drop();
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
