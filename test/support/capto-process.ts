// A real `capto` process (bin/capto.js) for tests that need a separate OS process:
// the embedded data dir lock and the admin channel are about processes, not modules; the
// crash tests kill it; the multi-node tests run two of them on one database.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { sharedFakeHibp } from '../fakes/hibp.ts';
import { request } from './http.ts';
import { freePort } from './server.ts';

export interface CaptoProcess {
  child: ChildProcess;
  /** stdout + stderr so far. */
  output(): string;
  /** Resolves with the first stdout line matching `pattern`; rejects if the process exits first. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function spawnCapto(args: string[], env: Record<string, string>): CaptoProcess {
  const child = spawn(process.execPath, ['bin/capto.js', ...args], {
    env: { ...process.env, LOG_LEVEL: 'silent', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => void (out += d.toString('utf8')));
  child.stderr!.on('data', (d: Buffer) => void (out += d.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    output: () => out,
    exited,
    waitFor(pattern, timeoutMs = 120_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = out.match(pattern);
          if (m) {
            cleanup();
            resolve(m);
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out waiting for ${pattern}; output:\n${out}`));
        }, timeoutMs);
        const onExit = () => {
          check();
          cleanup();
          reject(new Error(`capto ${args.join(' ')} exited before printing ${pattern}; output:\n${out}`));
        };
        const cleanup = () => {
          clearTimeout(timer);
          child.stdout!.off('data', check);
          child.off('exit', onExit);
        };
        child.stdout!.on('data', check);
        child.once('exit', onExit);
        check();
      });
    },
  };
}

export interface ServerNode {
  child: ChildProcess;
  port: number;
  /** https://127.0.0.1:<port> (also its CAPTO_PUBLIC_URL). */
  url: string;
}

/**
 * A real `capto start` for the crash and multi-node tests (test/*-crash.test.ts,
 * test/campaign-nodes.test.ts): only PATH comes from this process's environment; on top of
 * the test defaults below, `env` names the database, the master key and the fakes. Resolves
 * once it prints "Capto is running"; rejects (and kills it) if it exits first or takes longer
 * than `startSeconds`. CAPTO_CRASH_LOG=<file> appends its output there at `logLevel`.
 */
export async function startServerNode(
  env: Record<string, string>,
  options: { port?: number; startSeconds?: number; logLevel?: string } = {},
): Promise<ServerNode> {
  const port = options.port ?? (await freePort());
  const url = `https://127.0.0.1:${port}`;
  const logFile = process.env.CAPTO_CRASH_LOG;
  const child = spawn(process.execPath, ['bin/capto.js', 'start'], {
    env: {
      PATH: process.env.PATH,
      CAPTO_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: logFile ? (options.logLevel ?? 'warn') : 'silent',
      CAPTO_PUBLIC_URL: url,
      HIBP_RANGE_URL: (await sharedFakeHibp()).url,
      CAPTO_SCAN_ON_START: 'off',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (logFile) {
    const log = createWriteStream(logFile, { flags: 'a' });
    child.stdout!.pipe(log);
    child.stderr!.pipe(log);
  }
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
  const startSeconds = options.startSeconds ?? 240;
  try {
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(
        () => reject(new Error(`capto start not running after ${startSeconds} s: ${err}`)),
        startSeconds * 1000,
      );
      child.stdout!.on('data', (d: Buffer) => {
        out = (out + d.toString()).slice(-4000);
        if (!out.includes('Capto is running')) return;
        clearTimeout(timer);
        resolve();
      });
      child.once(
        'exit',
        (code) => (clearTimeout(timer), reject(new Error(`capto start exited early (${code}): ${err}`))),
      );
    });
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  return { child, port, url };
}

/** Ends a node with `signal` (SIGKILL: a crash) and resolves once it has exited. */
export function stopNode(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  return new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

/**
 * Polls a node's /metrics (served to loopback) until none of `queues` holds a job waiting,
 * retrying or running; false on timeout. The crash tests use it before reading the outbox:
 * a send the fake accepted just before a kill stays `sending` until the dead node's job
 * claim expires and its retry reconciles it, which can be after the last message arrived.
 * Asked of the node, not the database: on the embedded engine the node holds the lock.
 */
export async function waitForQueuesIdle(port: number, queues: string[], timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  for (;;) {
    const r = await request(`https://127.0.0.1:${port}/metrics`).catch(() => undefined);
    const jobs = (queue: string, state: string) => {
      const prefix = `capto_job_queue_jobs{queue="${queue}",state="${state}"} `;
      const line = r?.text.split('\n').find((l) => l.startsWith(prefix));
      return line === undefined ? undefined : Number(line.slice(prefix.length));
    };
    if (r?.status === 200 && queues.every((q) => jobs(q, 'queued') === 0 && jobs(q, 'active') === 0)) return true;
    if (Date.now() > until) return false;
    await sleep(250);
  }
}
