// Embedded engine memory: the RSS of a real `capto start` process on a data dir that an
// earlier start created and migrated (no demo) — a restart, as a server runs most days —
// started as `npm start` starts it (bin/capto.js, no DATABASE_URL).
// - idle: VmRSS 10 s after "Capto is running" — goal ≤ 250 MB;
// - under load: the highest VmRSS sampled while 50 autocannon connections list a
//   business's contacts (GET …/contacts?limit=50, 200 contacts) — goal ≤ 400 MB.
// Baseline: the same process started without the embedded settings of bin/capto.js
// (`node src/cli/main.ts start`, docs/ARCHITECTURE.md §5), interleaved with
// it (A B A B …, BENCH_ROUNDS ≥ 3 each); min / median / max of every figure in the notes.
// BENCH_MEMORY_FLAGS="--flag …" measures other Node/V8 flags instead of the baseline.
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { sharedFakeHibp } from '../test/fakes/hibp.ts';
import { signUp } from '../test/support/auth.ts';
import { request } from '../test/support/http.ts';
import { freePort, type TestServer } from '../test/support/server.ts';
import { stopNode } from '../test/support/capto-process.ts';
import { figure, type Figure, interleavedRounds } from './lib.ts';

const ROUNDS = Math.max(3, Number(process.env.BENCH_ROUNDS ?? 3));
const SETTLE_MS = Number(process.env.BENCH_SETTLE_SECONDS ?? 10) * 1000;
const LOAD_SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = 50;

export interface Variant {
  label: string;
  /** node's arguments before the CLI's */
  argv: string[];
  env?: Record<string, string>;
}

interface Sample {
  /** VmHWM when ready: the peak of start and migrations */
  startPeak: number;
  idle: number;
  loaded: number;
  /** VmHWM after the load */
  peak: number;
  rate: number;
}

function status(pid: number): { rss: number; hwm: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(s)?.[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
}

/** A real `capto start` of `variant` on `dataDir`, resolved once it prints "Capto is running". */
export async function startCapto(variant: Variant, dataDir: string): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const url = `https://127.0.0.1:${port}`;
  const child = spawn(process.execPath, [...variant.argv, 'start'], {
    env: {
      PATH: process.env.PATH,
      CAPTO_ENV: 'test',
      CAPTO_DATA_DIR: dataDir,
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'silent',
      CAPTO_PUBLIC_URL: url,
      HIBP_RANGE_URL: (await sharedFakeHibp()).url,
      ...variant.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-4000)));
  child.stderr!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-4000)));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`capto start not running after 240 s: ${out}`)), 240_000);
      child.stdout!.on('data', () => {
        if (!out.includes('Capto is running')) return;
        clearTimeout(timer);
        resolve();
      });
      child.once('exit', (code) => (clearTimeout(timer), reject(new Error(`capto start exited (${code}): ${out}`))));
    });
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  return { child, url };
}

/**
 * `rounds` interleaved rounds of `measure` for variants `a` and `b`, each on a copy of one
 * data dir as a server leaves it after its first start (initdb, migrations, TLS
 * certificate, dev master key), made once by an unmeasured start of `a`: every round is a
 * restart, as a server runs most days, and a full run does not pay initdb and 40-odd
 * migrations per round (~10 s each).
 */
export async function restartRounds<T>(
  rounds: number,
  a: Variant,
  b: Variant,
  measure: (variant: Variant, dataDir: string) => Promise<T>,
): Promise<{ a: T[]; b: T[]; loads: string[] }> {
  const template = mkdtempSync(path.join(os.tmpdir(), 'capto-bench-template-'));
  const onCopy = async (variant: Variant) => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'capto-bench-'));
    try {
      cpSync(template, dataDir, { recursive: true });
      return await measure(variant, dataDir);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  };
  try {
    await stopNode((await startCapto(a, template)).child);
    return await interleavedRounds(
      rounds,
      () => onCopy(a),
      () => onCopy(b),
    );
  } finally {
    rmSync(template, { recursive: true, force: true });
  }
}

export async function sample(variant: Variant, dataDir: string): Promise<Sample> {
  const { child, url } = await startCapto(variant, dataDir);
  const pid = child.pid!;
  try {
    const startPeak = status(pid).hwm;
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const idle = status(pid).rss;

    const user = await signUp({ url } as TestServer);
    const created = await request<{ id?: string; business?: { id: string } }>(`${url}/api/businesses`, {
      body: { name: 'Bench Mortgage' },
      token: user.accessToken,
    });
    const businessId = created.json.id ?? created.json.business?.id;
    if (!businessId) throw new Error(`could not create a business: ${created.status} ${created.text}`);
    const contacts = `${url}/api/businesses/${businessId}/contacts`;
    for (let i = 0; i < 200; i += 10) {
      await Promise.all(
        Array.from({ length: 10 }, (_, j) =>
          request(contacts, {
            body: { first_name: `First${i + j}`, last_name: `Last${i + j}`, email: `c${i + j}@bench.test` },
            token: user.accessToken,
          }).then((r) => {
            if (r.status !== 201) throw new Error(`could not create a contact: ${r.status} ${r.text}`);
          }),
        ),
      );
    }

    let loaded = 0;
    const sampler = setInterval(() => (loaded = Math.max(loaded, status(pid).rss)), 250);
    const result = await autocannon({
      url: `${contacts}?limit=50`,
      connections: CONNECTIONS,
      duration: LOAD_SECONDS,
      headers: { authorization: `Bearer ${user.accessToken}` },
      tlsOptions: { rejectUnauthorized: false },
    } as autocannon.Options);
    clearInterval(sampler);
    if (result.non2xx > 0 || result.errors > 0)
      throw new Error(`${contacts}: ${result.non2xx} non-2xx, ${result.errors} errors`);
    const after = status(pid);
    return { startPeak, idle, loaded: Math.max(loaded, after.rss), peak: after.hwm, rate: result.requests.average };
  } finally {
    await stopNode(child);
  }
}

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { min: s[0]!, median: s[Math.floor(s.length / 2)]!, max: s[s.length - 1]! };
};
const range = (xs: number[]) => {
  const { min, median, max } = stats(xs);
  return `${min.toFixed(0)}/${median.toFixed(0)}/${max.toFixed(0)}`;
};

export default async function run(): Promise<Figure[]> {
  const tuned: Variant = { label: 'bin/capto.js', argv: ['bin/capto.js'] };
  const baseline: Variant = {
    label: process.env.BENCH_MEMORY_FLAGS ? `flags ${process.env.BENCH_MEMORY_FLAGS}` : 'no embedded settings',
    argv: [...(process.env.BENCH_MEMORY_FLAGS ?? '').split(' ').filter(Boolean), 'src/cli/main.ts'],
  };
  const { a, b, loads } = await restartRounds(ROUNDS, tuned, baseline, sample);
  const describe = (xs: Sample[]) =>
    `min/median/max MB: idle ${range(xs.map((x) => x.idle))}, c=${CONNECTIONS} ${range(xs.map((x) => x.loaded))}, ` +
    `start peak ${range(xs.map((x) => x.startPeak))}, peak ${range(xs.map((x) => x.peak))}; ` +
    `${range(xs.map((x) => x.rate))} req/s`;
  const notes =
    `${ROUNDS} interleaved rounds, each on a copy of one migrated data dir (a restart), no demo; ${tuned.label}: ${describe(a)}; ` +
    `baseline (${baseline.label}): ${describe(b)}; load average ${loads.join(', ')}`;
  console.log(`  ${notes}`);
  return [
    figure({
      name: 'embedded capto start, RSS idle (median)',
      value: stats(a.map((x) => x.idle)).median,
      unit: 'MB',
      baseline: stats(b.map((x) => x.idle)).median,
      goal: '<= 250 MB',
      engine: 'embedded',
      notes,
    }),
    figure({
      name: `embedded capto start, RSS under c=${CONNECTIONS} (median of max)`,
      value: stats(a.map((x) => x.loaded)).median,
      unit: 'MB',
      baseline: stats(b.map((x) => x.loaded)).median,
      goal: '<= 400 MB',
      engine: 'embedded',
      notes: `throughput ${range(a.map((x) => x.rate))} req/s vs baseline ${range(b.map((x) => x.rate))}`,
    }),
  ];
}
