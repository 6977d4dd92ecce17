// The admin channel's own rules (docs/SECURITY.md §Admin channel), on a channel served
// with stand-in handlers: the socket is 0600, the client refuses a socket whose
// directory is not private to its user, bad requests get an answer and no action, and
// a snapshot lives exactly until the client hangs up.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import {
  AdminChannelError,
  adminHello,
  adminSnapshot,
  assertPrivateSocket,
  serveAdminChannel,
} from '../src/db/admin-channel.ts';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'capto-chan-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function serve(name: string) {
  const dir = path.join(tmp, name);
  mkdirSync(dir, { mode: 0o700 });
  const disposed = vi.fn();
  const snapshot = vi.fn(async () => ({ dir: path.join(dir, 'snap'), pausedMs: 12, dispose: disposed }));
  const server = await serveAdminChannel(path.join(dir, 'admin.sock'), {
    hello: () => ({ pid: 4242, pgSocketDir: dir, pgPort: 5432 }),
    snapshot,
  });
  return { dir, server, snapshot, disposed };
}

/** Send raw bytes, read the answer line. */
function raw(socketPath: string, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(socketPath, () => s.write(bytes));
    let out = '';
    s.on('data', (d) => (out += d.toString()));
    s.on('close', () => resolve(out));
    s.on('error', reject);
  });
}

describe('admin channel', () => {
  it('answers hello; the socket is 0600 in a 0700 directory', async () => {
    const { server } = await serve('hello');
    try {
      expect(statSync(server.socketPath).mode & 0o777).toBe(0o600);
      expect(await adminHello(server.socketPath)).toMatchObject({ pid: 4242, pgPort: 5432 });
    } finally {
      await server.close();
    }
  });

  it('refuses a socket whose directory other users can enter, and a path that is not a socket', async () => {
    const { dir, server } = await serve('open-dir');
    try {
      chmodSync(dir, 0o755);
      expect(() => assertPrivateSocket(server.socketPath)).toThrow(AdminChannelError);
      await expect(adminHello(server.socketPath)).rejects.toThrow(/not private to this user/);
      chmodSync(dir, 0o700);
      expect(await adminHello(server.socketPath)).toMatchObject({ pid: 4242 });
      expect(() => assertPrivateSocket(path.join(dir))).toThrow();
    } finally {
      await server.close();
    }
  });

  it('bad, unknown and over-long requests get an error answer and run nothing', async () => {
    const { server, snapshot } = await serve('bad');
    try {
      expect(JSON.parse(await raw(server.socketPath, 'not json\n'))).toEqual({ ok: false, error: 'bad request' });
      expect(JSON.parse(await raw(server.socketPath, '{"op":"drop"}\n'))).toEqual({ ok: false, error: 'unknown op' });
      expect(JSON.parse(await raw(server.socketPath, `{"op":"${'x'.repeat(5000)}`))).toEqual({
        ok: false,
        error: 'bad request',
      });
      expect(snapshot).not.toHaveBeenCalled();
    } finally {
      await server.close();
    }
  });

  it('a snapshot is disposed when the client hangs up, not before', async () => {
    const { server, disposed } = await serve('snap');
    try {
      const snap = await adminSnapshot(server.socketPath);
      expect(snap).toMatchObject({ pausedMs: 12 });
      await new Promise((r) => setTimeout(r, 100));
      expect(disposed).not.toHaveBeenCalled();
      snap.done();
      await vi.waitFor(() => expect(disposed).toHaveBeenCalledTimes(1));
    } finally {
      await server.close();
    }
  });

  it('closing the server disposes a snapshot still held and removes the socket', async () => {
    const { server, disposed } = await serve('close');
    await adminSnapshot(server.socketPath);
    await server.close();
    expect(disposed).toHaveBeenCalledTimes(1);
    expect(() => statSync(server.socketPath)).toThrow();
  });
});
