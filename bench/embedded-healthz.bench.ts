// Embedded engine: /healthz p99 while other clients saturate a database route
// (goal ≤ 10 ms). PGlite runs in a worker thread, so the HTTP thread should stay free.
// A real `capto start` process (bin/capto.js), so the Node/V8 flags it runs the embedded
// engine with (docs/ARCHITECTURE.md §5) are the ones measured.
// Baseline: /healthz p99 with the database idle, same server, same run.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stopNode } from '../test/support/capto-process.ts';
import { startCapto } from './embedded-memory.bench.ts';
import { figure, percentile, timedGet, type Figure } from './lib.ts';

async function healthzP99(url: string, samples: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < samples; i++) times.push(await timedGet(`${url}/healthz`));
  times.sort((a, b) => a - b);
  return percentile(times, 99);
}

export default async function run(): Promise<Figure[]> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'capto-bench-'));
  const server = await startCapto(
    { label: 'bin/capto.js', argv: ['bin/capto.js'], env: { CAPTO_DB_POOL_SIZE: '8', CAPTO_SCAN_ON_START: 'off' } },
    dir,
  );
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
    return [
      figure({
        name: 'embedded /healthz p99 while a DB route is saturated',
        value: loaded,
        unit: 'ms',
        baseline: idle,
        goal: '<= 10 ms',
        engine: 'embedded',
        notes: `DB route served ${dbRate.toFixed(0)} req/s meanwhile`,
      }),
    ];
  } finally {
    await stopNode(server.child);
    rmSync(dir, { recursive: true, force: true });
  }
}
