// The admin channel of a running embedded server (docs/SECURITY.md §Admin channel,
// docs/ARCHITECTURE.md §5). `capto start` on the embedded engine listens on a Unix
// socket, admin.sock (mode 0600), in the same 0700 directory as the engine's own database
// socket. Operator commands run while the server holds the data dir reach the database
// through the server instead of opening PGlite a second time.
//
// Authentication is the file system's: only the OS user that runs the server (and root)
// can open a socket in a 0700 directory it owns. The client refuses a socket whose
// directory is not private to its own user, so a planted path cannot redirect it.
//
// Protocol: one JSON line each way per connection.
//   {"op":"hello"}    → {"ok":true,"pid":…,"pgSocketDir":"…","pgPort":5432}
//   {"op":"snapshot"} → {"ok":true,"dir":"…","pausedMs":…}; the snapshot (a crash-consistent
//                       copy of pgdata) lives until the client closes the connection.
import { lstatSync, rmSync, chmodSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

const MAX_REQUEST = 4096;
const REQUEST_TIMEOUT_MS = 10_000;

export interface HelloReply {
  pid: number;
  pgSocketDir: string;
  pgPort: number;
}

export interface Snapshot {
  /** A directory holding `pgdata/`, a crash-consistent copy of the live database. */
  dir: string;
  /** How long the database was paused while the copy was taken. */
  pausedMs: number;
}

export interface AdminHandlers {
  hello(): HelloReply;
  snapshot(): Promise<Snapshot & { dispose(): void }>;
}

export interface AdminChannelServer {
  readonly socketPath: string;
  close(): Promise<void>;
}

export class AdminChannelError extends Error {
  override name = 'AdminChannelError';
}

function readLine(socket: net.Socket, limit = MAX_REQUEST): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString('utf8');
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        cleanup();
        resolve(buf.slice(0, nl));
      } else if (buf.length > limit) {
        cleanup();
        reject(new AdminChannelError('request too long'));
      }
    };
    const onEnd = () => {
      cleanup();
      reject(new AdminChannelError('the connection closed before a full line arrived'));
    };
    const onError = (e: Error) => {
      cleanup();
      reject(e);
    };
    const cleanup = () => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.off('error', onError);
    };
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    socket.once('error', onError);
  });
}

/** Serve the admin channel at `socketPath` (its directory must already be 0700). */
export async function serveAdminChannel(socketPath: string, handlers: AdminHandlers): Promise<AdminChannelServer> {
  rmSync(socketPath, { force: true }); // left by a server that died: the data dir lock is ours now
  const open = new Set<net.Socket>();
  const pending = new Set<Promise<void>>();
  const server = net.createServer((socket) => {
    open.add(socket);
    socket.on('error', () => undefined);
    socket.once('close', () => open.delete(socket));
    const work = handle(socket).catch(() => undefined);
    pending.add(work);
    void work.finally(() => pending.delete(work));
  });

  async function handle(socket: net.Socket): Promise<void> {
    const reply = (v: object) => socket.write(`${JSON.stringify(v)}\n`);
    let op: unknown;
    // A client that connects and says nothing is dropped (it would hold a connection open).
    socket.setTimeout(REQUEST_TIMEOUT_MS, () => socket.destroy());
    try {
      op = (JSON.parse(await readLine(socket)) as { op?: unknown }).op;
      socket.setTimeout(0);
    } catch {
      reply({ ok: false, error: 'bad request' });
      socket.end();
      return;
    }
    try {
      if (op === 'hello') {
        reply({ ok: true, ...handlers.hello() });
        socket.end();
      } else if (op === 'snapshot') {
        const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
        const snap = await handlers.snapshot();
        try {
          if (!socket.destroyed) reply({ ok: true, dir: snap.dir, pausedMs: snap.pausedMs });
          await closed; // the client reads the copy, then hangs up
        } finally {
          snap.dispose();
        }
      } else {
        reply({ ok: false, error: 'unknown op' });
        socket.end();
      }
    } catch (e) {
      reply({ ok: false, error: (e as Error).message });
      socket.end();
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  chmodSync(socketPath, 0o600);
  return {
    socketPath,
    async close() {
      // Stop listening, then end the connections still open (a backup holding its snapshot):
      // net.Server.close() only calls back once every connection has ended.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of open) s.destroy();
      await Promise.all([...pending]);
      await closed;
      rmSync(socketPath, { force: true });
    },
  };
}

/** Refuse a socket that is not private to this OS user (docs/SECURITY.md §Admin channel). */
export function assertPrivateSocket(socketPath: string): void {
  const uid = process.getuid?.();
  const dir = lstatSync(path.dirname(socketPath));
  const sock = lstatSync(socketPath);
  if (!dir.isDirectory() || (dir.mode & 0o077) !== 0 || (uid !== undefined && dir.uid !== uid)) {
    throw new AdminChannelError(
      `the admin channel's directory ${path.dirname(socketPath)} is not private to this user (it must be mode 0700 and owned by uid ${uid}); run the command as the user that runs the server`,
    );
  }
  if (!sock.isSocket() || (uid !== undefined && sock.uid !== uid)) {
    throw new AdminChannelError(`${socketPath} is not this user's admin socket`);
  }
}

async function request<T>(socketPath: string, op: string): Promise<{ reply: T; socket: net.Socket }> {
  assertPrivateSocket(socketPath);
  const socket = net.connect(socketPath);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        new AdminChannelError(
          `the server holding the data dir does not answer on its admin channel ${socketPath} (${e.code ?? e.message}); is it still starting or stopping?`,
        ),
      ),
    );
  });
  socket.on('error', () => undefined);
  socket.write(`${JSON.stringify({ op })}\n`);
  const line = await readLine(socket, 1 << 20);
  const reply = JSON.parse(line) as { ok: boolean; error?: string } & T;
  if (!reply.ok) {
    socket.destroy();
    throw new AdminChannelError(`the running server refused "${op}": ${reply.error ?? 'no reason'}`);
  }
  return { reply, socket };
}

export async function adminHello(socketPath: string): Promise<HelloReply> {
  const { reply, socket } = await request<HelloReply>(socketPath, 'hello');
  socket.destroy();
  return reply;
}

/** Ask the server for a snapshot; call `done()` when finished with it (the server deletes it). */
export async function adminSnapshot(socketPath: string): Promise<Snapshot & { done(): void }> {
  const { reply, socket } = await request<Snapshot>(socketPath, 'snapshot');
  return { dir: reply.dir, pausedMs: reply.pausedMs, done: () => socket.end() };
}
