// Shared bench plumbing: every figure is a ratio against a baseline measured in the
// same run (never a timed assertion), best of N rounds, with absolute numbers beside it.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import pg from 'pg';
import { migrate } from '../src/db/migrator.ts';
import { openServerEngine } from '../src/db/server-engine.ts';

export interface Figure {
  name: string;
  /** the measured value and its unit, e.g. 1.2 "ms" */
  value: number;
  unit: string;
  /** the baseline measured in the same run, same unit */
  baseline: number;
  ratio: number;
  /** "<= 1.10" compares the ratio; "<= 10 ms" (with a unit) compares the absolute value */
  goal: string;
  met: boolean;
  engine: 'server' | 'embedded' | 'none';
  notes?: string;
}

export function figure(f: Omit<Figure, 'ratio' | 'met'> & { ratio?: number }): Figure {
  const ratio = f.ratio ?? f.value / f.baseline;
  const [op, target, unit] = f.goal.split(' ') as ['<=' | '>=', string, string | undefined];
  const t = Number(target);
  const subject = unit ? f.value : ratio;
  const met = op === '<=' ? subject <= t : subject >= t;
  return { ...f, ratio, met };
}

export function printFigure(f: Figure): void {
  const fmt = (n: number) => (Math.abs(n) >= 100 ? n.toFixed(0) : n.toFixed(3));
  console.log(
    `${f.met ? 'MET ' : 'MISS'}  ${f.name.padEnd(58)} ratio ${f.ratio.toFixed(3).padStart(7)} (goal ${f.goal})  ` +
      `${fmt(f.value)} ${f.unit} vs baseline ${fmt(f.baseline)} ${f.unit}  [${f.engine}]${f.notes ? `  ${f.notes}` : ''}`,
  );
}

export const RESULTS_FILE = new URL('./results.json', import.meta.url);

export function saveFigures(
  figures: Figure[],
  elapsed?: { seconds: number; files: { file: string; seconds: number; load: string }[] },
): void {
  const previous = existsSync(RESULTS_FILE)
    ? (JSON.parse(readFileSync(RESULTS_FILE, 'utf8')) as { runs?: unknown[] })
    : {};
  const runs = Array.isArray(previous.runs) ? previous.runs.slice(-19) : [];
  runs.push({ at: new Date().toISOString(), node: process.version, ...(elapsed ? { elapsed } : {}), figures });
  writeFileSync(RESULTS_FILE, `${JSON.stringify({ runs }, null, 2)}\n`);
}

/** Best (lowest) of `rounds` runs of an async measurement returning a number. */
export async function bestOf(rounds: number, measure: () => Promise<number>): Promise<number> {
  let best = Infinity;
  for (let i = 0; i < rounds; i++) best = Math.min(best, await measure());
  return best;
}

/**
 * Interleaved pairs [value, baseline] (A B A B …, measured seconds apart): the pair with the
 * median ratio, and a note with min / median / max of the ratios, the count and the load.
 */
export function ratioRange(pairs: [number, number][]): { median: [number, number]; notes: string } {
  if (pairs.length === 0) throw new Error('no pairs');
  const sorted = [...pairs].sort((p, q) => p[0] / p[1] - q[0] / q[1]);
  const r = sorted.map(([a, b]) => (a / b).toFixed(3));
  return {
    median: sorted[Math.floor(sorted.length / 2)]!,
    notes: `ratios min/median/max ${r[0]}/${r[Math.floor(r.length / 2)]}/${r[r.length - 1]} over ${pairs.length} pairs; ${loadNote()}`,
  };
}

/** The share of the machine's CPU time (all cores) that was idle over the next `ms`, from /proc/stat. */
async function idleShare(ms: number): Promise<number> {
  const read = () => {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    return { idle: cpu[3]! + cpu[4]!, total: cpu.reduce((a, b) => a + b, 0) };
  };
  const a = read();
  await new Promise((r) => setTimeout(r, ms));
  const b = read();
  return b.total > a.total ? (b.idle - a.idle) / (b.total - a.total) : 1;
}

/**
 * Wait, at most `maxSeconds`, until the CPU was at least `idle` idle over a second; returns a
 * note of the wait for the figure. The bench before may leave work behind it (pgbench at c=50
 * leaves PostgreSQL checkpointing and vacuuming for a while) that would land on some pairs
 * of a short measurement and not others. Off Linux it does not wait.
 */
export async function settle(idle = 0.8, maxSeconds = 60): Promise<string> {
  if (!existsSync('/proc/stat')) return 'no settle (no /proc/stat)';
  const t0 = Date.now();
  for (;;) {
    const share = await idleShare(1000);
    const waited = (Date.now() - t0) / 1000;
    if (share >= idle) return `settled in ${waited.toFixed(0)} s (CPU ${Math.round(share * 100)}% idle)`;
    if (waited >= maxSeconds) return `not settled after ${waited.toFixed(0)} s (CPU ${Math.round(share * 100)}% idle)`;
  }
}

/** The 1- and 5-minute load averages, to write beside a figure (the machine is shared). */
export function loadNote(): string {
  const [one, five] = os.loadavg();
  return `load ${one!.toFixed(1)}/${five!.toFixed(1)}`;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

const agent = new https.Agent({ keepAlive: true, rejectUnauthorized: false, maxSockets: 64 });

/** One HTTPS GET on a keep-alive agent; resolves with the elapsed milliseconds. */
export function timedGet(url: string, headers: Record<string, string> = {}): Promise<number> {
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    https
      .get(url, { agent, headers }, (res) => {
        res.resume();
        res.on('end', () => {
          if ((res.statusCode ?? 0) >= 400) reject(new Error(`GET ${url} → ${res.statusCode}`));
          else resolve(Number(process.hrtime.bigint() - started) / 1e6);
        });
      })
      .on('error', reject);
  });
}

/**
 * A bench world cached between runs in database `name`: dropped and created empty (`fresh`)
 * when missing, when `versionTable` holds another `version`, or when `reseed` asks; migrated
 * every time, so a cached world gets new migrations as a live database would.
 */
export async function cachedWorld(o: {
  adminUrl: string;
  name: string;
  versionTable: string;
  version: number;
  reseed: boolean;
  /** Fills a new (empty, migrated) world; runs under the world's lock. */
  seed: (client: pg.Client) => Promise<void>;
}): Promise<{ url: string; fresh: boolean; seedSeconds: number }> {
  const url = new URL(o.adminUrl);
  url.pathname = `/${o.name}`;
  const admin = new pg.Client({ connectionString: o.adminUrl });
  await admin.connect();
  let fresh = o.reseed;
  let seedSeconds = 0;
  // One process at a time checks, seeds and migrates a world: a second bench started
  // meanwhile waits here, then finds it current, instead of dropping it half-seeded.
  await admin.query('SELECT pg_advisory_lock(hashtext($1))', [`capto-bench-world:${o.name}`]);
  try {
    const exists = (await admin.query(`SELECT 1 FROM pg_database WHERE datname = $1`, [o.name])).rowCount === 1;
    fresh ||= !exists;
    if (!fresh) {
      const c = new pg.Client({ connectionString: url.toString() });
      await c.connect();
      const r = await c
        .query<{ version: number }>(`SELECT version FROM ${o.versionTable}`)
        .catch(() => ({ rows: [] as { version: number }[] }));
      await c.end();
      fresh = r.rows[0]?.version !== o.version;
    }
    if (fresh) {
      await admin.query(`DROP DATABASE IF EXISTS ${o.name} WITH (FORCE)`);
      await admin.query(`CREATE DATABASE ${o.name}`);
    }
    const engine = await openServerEngine({ databaseUrl: url.toString(), poolSize: 1 });
    await engine.withMaintenanceClient((c) => migrate(c));
    await engine.close();
    if (fresh) {
      const client = new pg.Client({ connectionString: url.toString() });
      await client.connect();
      const t0 = Date.now();
      await o.seed(client).finally(() => client.end());
      seedSeconds = (Date.now() - t0) / 1000;
    }
  } finally {
    await admin.end(); // ends the session, and with it the lock
  }
  return { url: url.toString(), fresh, seedSeconds };
}

/**
 * Settings for a Capto server on a cached world: a fixed master key, and the world's JWT
 * signing keys forgotten first — a key sealed by another run's master key (each server's
 * fresh data dir makes its own dev key) cannot be opened, and every sign-up would fail.
 * Tokens of earlier runs die with their keys; nothing in a bench world needs them.
 */
export async function cachedWorldServerEnv(url: string): Promise<Record<string, string>> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query('DELETE FROM vault.jwt_signing_keys');
  } finally {
    await c.end();
  }
  return { CAPTO_MASTER_KEY: Buffer.alloc(32, 'capto-bench').toString('base64') };
}

/**
 * A throw-away copy of a cached world for a bench that writes (imports): `CREATE DATABASE …
 * TEMPLATE` copies the files (seconds, where seeding takes minutes) and leaves the cache as
 * it was. The template must have no open connections. `drop()` removes the copy.
 */
export async function worldCopy(
  adminUrl: string,
  templateUrl: string,
  name: string,
): Promise<{ url: string; drop(): Promise<void> }> {
  const template = new URL(templateUrl).pathname.slice(1);
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${name} TEMPLATE ${template}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).finally(() => c.end());
    },
  };
}

/**
 * `rounds` interleaved A/B measurements in ABBA order (load drift hits both sides alike),
 * with the 1-minute load average at the start of each round.
 */
export async function interleavedRounds<T>(
  rounds: number,
  a: () => Promise<T>,
  b: () => Promise<T>,
): Promise<{ a: T[]; b: T[]; loads: string[] }> {
  const out = { a: [] as T[], b: [] as T[], loads: [] as string[] };
  for (let round = 0; round < rounds; round++) {
    out.loads.push(os.loadavg()[0]!.toFixed(1));
    if (round % 2 === 0) {
      out.a.push(await a());
      out.b.push(await b());
    } else {
      out.b.push(await b());
      out.a.push(await a());
    }
  }
  return out;
}
