// Embedded engine: /healthz p99 while other clients saturate a database route
// (goal ≤ 10 ms). PGlite runs in a worker thread, so the HTTP thread should stay free.
// A real `capto start` process (bin/capto.js), so the Node/V8 flags it runs the embedded
// engine with (docs/ARCHITECTURE.md §5) are the ones measured.
// Baseline: /healthz p99 with the database idle, same server, same run.
import { stopNode } from '../test/support/capto-process.ts';
import { restartRounds, startCapto, type Variant } from './embedded-memory.bench.ts';
import { type Figure, figure, percentile, timedGet } from './lib.ts';

async function healthzP99(url: string, samples: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < samples; i++) times.push(await timedGet(`${url}/healthz`));
  times.sort((a, b) => a - b);
  return percentile(times, 99);
}

interface Measured {
  idle: number;
  loaded: number;
  dbRate: number;
}

async function measure(variant: Variant, dir: string): Promise<Measured> {
  const server = await startCapto({ ...variant, env: { CAPTO_DB_POOL_SIZE: '8', CAPTO_SCAN_ON_START: 'off' } }, dir);
  try {
    await healthzP99(server.url, 200); // warm up
    const idle = await healthzP99(server.url, 1000);

    // Eight clients hammer a route that runs a full request transaction on the database.
    let stop = false;
    let dbRequests = 0;
    const load = Array.from({ length: 8 }, async () => {
      while (!stop) {
        await timedGet(`${server.url}/readyz`);
        dbRequests++;
      }
    });
    await new Promise((r) => setTimeout(r, 300));
    const before = dbRequests;
    const started = Date.now();
    const loaded = await healthzP99(server.url, 1000);
    const dbRate = ((dbRequests - before) / (Date.now() - started)) * 1000;
    stop = true;
    await Promise.all(load);
    return { idle, loaded, dbRate };
  } finally {
    await stopNode(server.child);
  }
}

const ROUNDS = Math.max(3, Number(process.env.BENCH_ROUNDS ?? 3));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const range = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return `${s[0]!.toFixed(1)}/${median(s).toFixed(1)}/${s[s.length - 1]!.toFixed(1)}`;
};

/**
 * Rounds of bin/capto.js (the embedded flags, docs/ARCHITECTURE.md §5) and the same start
 * without them, interleaved (A B B A …): the figure is bin/capto.js's median p99 under load,
 * its baseline the idle p99 of the same processes; the flagless p99s are in the notes
 * (BENCH_HEALTHZ_FLAGS="--flag …" measures other Node/V8 flags instead).
 */
export default async function run(): Promise<Figure[]> {
  const tuned: Variant = { label: 'bin/capto.js', argv: ['bin/capto.js'] };
  const flags = (process.env.BENCH_HEALTHZ_FLAGS ?? '').split(' ').filter(Boolean);
  const plain: Variant = {
    label: flags.length > 0 ? `flags ${flags.join(' ')}` : 'without the flags',
    argv: [...flags, 'src/cli/main.ts'],
  };
  // Every round on a copy of one migrated data dir: a restart, without initdb and migrations.
  const { a, b, loads } = await restartRounds(ROUNDS, tuned, plain, measure);
  return [
    figure({
      name: 'embedded /healthz p99 while a DB route is saturated',
      value: median(a.map((m) => m.loaded)),
      unit: 'ms',
      baseline: median(a.map((m) => m.idle)),
      goal: '<= 10 ms',
      engine: 'embedded',
      notes:
        `${ROUNDS} interleaved rounds, min/median/max ms: bin/capto.js loaded ${range(a.map((m) => m.loaded))}, ` +
        `idle ${range(a.map((m) => m.idle))}, DB route ${range(a.map((m) => m.dbRate))} req/s; ` +
        `${plain.label}: loaded ${range(b.map((m) => m.loaded))}, idle ${range(b.map((m) => m.idle))}, ` +
        `DB route ${range(b.map((m) => m.dbRate))} req/s; load average ${loads.join(', ')}`,
    }),
  ];
}
