// P10: every auth flow logs a structured event, and no log line ever carries a
// password, an access token, a refresh token or a reset link token.
import { Writable } from 'node:stream';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/index.ts';
import { startCapto, type RunningCapto } from '../src/main.ts';
import { createLogger } from '../src/observability/logger.ts';
import { sharedFakeHibp } from './fakes/hibp.ts';
import { refresh, refreshCookieFrom, signUp } from './support/auth.ts';
import { createBlankDatabase } from './support/engine.ts';
import { request } from './support/http.ts';
import { lastMailTo, tokenFromMail } from './support/outbox.ts';
import { freePort, type TestServer } from './support/server.ts';

const lines: string[] = [];
let running: RunningCapto;
let drop: () => Promise<void>;
let scratch: string;

beforeAll(async () => {
  const blank = await createBlankDatabase();
  drop = blank.drop;
  scratch = mkdtempSync(path.join(os.tmpdir(), 'capto-log-'));
  const port = await freePort();
  const config = loadConfig({
    CAPTO_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: String(port),
    LOG_LEVEL: 'debug',
    CAPTO_DB_POOL_SIZE: '4',
    HIBP_RANGE_URL: (await sharedFakeHibp()).url,
    CAPTO_DATA_DIR: scratch,
    ...blank.env,
  });
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  running = await startCapto(config, { logger: createLogger(config, sink) });
});
afterAll(async () => {
  await running?.close();
  await drop?.();
  rmSync(scratch, { recursive: true, force: true });
});

describe('auth logging', () => {
  it('logs auth events without any secret', async () => {
    const s = running as TestServer;
    const u = await signUp(s);
    const signin = await request(`${s.url}/auth/signin`, { body: { email: u.email, password: u.password } });
    const r = await refresh(s, refreshCookieFrom(signin)!);
    await request(`${s.url}/auth/signin`, { body: { email: u.email, password: 'a-wrong-password-1' } });
    await request(`${s.url}/auth/password/forgot`, { body: { email: u.email } });
    const resetToken = tokenFromMail(await lastMailTo(s.config.dataDir, u.email, /reset/i));
    const newPassword = `${u.password}-new`;
    await request(`${s.url}/auth/password/reset`, { body: { token: resetToken, new_password: newPassword } });
    await new Promise((r) => setTimeout(r, 200));

    const log = lines.join('');
    const secrets = [
      u.password,
      newPassword,
      u.accessToken,
      u.refreshCookie.split('=')[1]!,
      signin.json.access_token,
      refreshCookieFrom(r)!.split('=')[1]!,
      resetToken,
    ];
    for (const secret of secrets) expect(log).not.toContain(secret);
    const events = lines
      .map((l) => JSON.parse(l) as { auth_event?: string })
      .map((l) => l.auth_event)
      .filter(Boolean);
    expect(events).toEqual(
      expect.arrayContaining([
        'sign_up',
        'sign_in',
        'token_refreshed',
        'sign_in_failed',
        'password_reset_requested',
        'password_reset',
      ]),
    );
  });
});
