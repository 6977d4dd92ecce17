// The outbox survives crashes (docs/ARCHITECTURE.md §24), on both engines: 1,000 SMS are
// queued, a real `capto start` process drains them to the Twilio fake and is killed with
// SIGKILL at random points five times, restarted each time; at the end every message was
// accepted by the fake exactly once (it counts by the message id in each StatusCallback)
// and every outbox row is `sent`. CAPTO_CRASH_MESSAGES / CAPTO_CRASH_KILLS change the size.
//
// Deliveries caught by a kill are either in a job the dead node held (taken over once its
// claim expires) or in `sending` with an unknown outcome (reconciled with Twilio's message
// list, never blindly resent). Caps are off (CAPTO_OUTBOX_CAP=off) and the lease is short.
// Most of the run is the five restarts (a start costs seconds of CPU: loading the sources,
// on PGlite also opening the database), so on a loaded machine the run is bounded by
// progress — a restart may take up to CAPTO_CRASH_START_SECONDS, and the drain may go
// CAPTO_CRASH_STALL_SECONDS without a send — rather than by a fixed total.
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/index.ts';
import { asOwner } from '../src/db/engine.ts';
import { openEngine } from '../src/db/index.ts';
import { migrate } from '../src/db/migrator.ts';
import { createDatabase } from '../src/db/request.ts';
import { startTwilioFake, type TwilioFake } from './fakes/twilio.ts';
import { createBlankDatabase, ENGINE } from './support/engine.ts';
import { freePort } from './support/server.ts';
import { startServerNode, stopNode, waitForQueuesIdle } from './support/capto-process.ts';
import { messageIdOf, queueMessages, smsWorld } from './support/sms-outbox.ts';

const N = Number(process.env.CAPTO_CRASH_MESSAGES ?? 1000);
const KILLS = Number(process.env.CAPTO_CRASH_KILLS ?? 5);
const START_SECONDS = Number(process.env.CAPTO_CRASH_START_SECONDS ?? 240);
const STALL_SECONDS = Number(process.env.CAPTO_CRASH_STALL_SECONDS ?? 120);
const MASTER_KEY = randomBytes(32).toString('base64');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let fake: TwilioFake;
let blank: Awaited<ReturnType<typeof createBlankDatabase>>;
let ids: string[] = [];
const scratch = mkdtempSync(path.join(os.tmpdir(), 'capto-crash-'));

beforeAll(async () => {
  fake = await startTwilioFake();
  blank = await createBlankDatabase();
  // Seed while no server runs: migrations, a business texting through the fake, N queued SMS.
  const config = loadConfig({ ...blank.env, CAPTO_DB_POOL_SIZE: '4' });
  const engine = await openEngine(config, 'test seed');
  try {
    await engine.withMaintenanceClient((c) => migrate(c));
    const w = await smsWorld(engine, createDatabase(engine.pool), fake, { masterKey: MASTER_KEY });
    ids = await queueMessages(engine, w, N);
  } finally {
    await engine.close();
  }
}, 300_000);

afterAll(async () => {
  await fake?.close();
  await blank?.drop();
  rmSync(scratch, { recursive: true, force: true });
});

async function startNode(port: number): Promise<ChildProcess> {
  const node = await startServerNode(
    {
      CAPTO_DATA_DIR: path.join(scratch, 'data'),
      ...blank.env,
      CAPTO_MASTER_KEY: MASTER_KEY,
      TWILIO_API_BASE: fake.url,
      CAPTO_OUTBOX_CAP: 'off',
      CAPTO_OUTBOX_LEASE_SECONDS: '3',
      CAPTO_JOBS_POLL_SECONDS: '0.5',
      CAPTO_JOBS_SUPERVISE_SECONDS: '1',
      CAPTO_JOBS_CONCURRENCY: '8',
    },
    { port, startSeconds: START_SECONDS },
  );
  return node.child;
}

const kill9 = (child: ChildProcess) => stopNode(child, 'SIGKILL');

describe(`outbox crash test (${ENGINE}, ${N} messages, ${KILLS} × kill -9)`, () => {
  it('delivers every message exactly once across SIGKILLs and restarts', async () => {
    const port = await freePort();
    const began = Date.now();
    const killedAt: number[] = [];
    let settled = 'no';
    const restartSeconds: number[] = [];
    let node = await startNode(port);
    try {
      for (let k = 0; k < KILLS; k++) {
        // Let it drain a random stretch (or wait for it to start again), then kill it mid-flight.
        const from = fake.messages.length;
        const want = Math.min(N, from + 1 + Math.floor(Math.random() * (N / (KILLS + 2))));
        const until = Date.now() + STALL_SECONDS * 1000;
        while (fake.messages.length < want && Date.now() < until) await sleep(20);
        await sleep(Math.random() * 200);
        killedAt.push(fake.messages.length);
        await kill9(node);
        const t0 = Date.now();
        node = await startNode(port);
        restartSeconds.push((Date.now() - t0) / 1000);
      }
      // Drain: done when every message arrived; failed when nothing arrives for STALL_SECONDS.
      const distinct = () => new Set(fake.messages.map((m) => messageIdOf(m.statusCallback))).size;
      let seen = fake.messages.length;
      let progressAt = Date.now();
      while (distinct() < N && Date.now() - progressAt < STALL_SECONDS * 1000) {
        await sleep(100);
        if (fake.messages.length === seen) continue;
        seen = fake.messages.length;
        progressAt = Date.now();
      }
      // Every message arrived; a row whose send a kill caught may still wait to be reconciled.
      const t1 = Date.now();
      if (await waitForQueuesIdle(port, ['outbox.deliver'], STALL_SECONDS * 1000))
        settled = `after ${((Date.now() - t1) / 1000).toFixed(1)} s`;
      await sleep(2_000); // anything still in flight would show up as a second send
    } finally {
      node.kill('SIGTERM');
      await new Promise((r) => node.once('exit', r));
    }
    const seconds = (Date.now() - began) / 1000;
    if (process.env.CAPTO_CRASH_VERBOSE) {
      const engine = await openEngine(loadConfig({ ...blank.env, CAPTO_DB_POOL_SIZE: '2' }), 'test dump');
      try {
        const dump = await asOwner(engine, async (c) => ({
          jobs: (
            await c.query(
              `SELECT name, state::text, count(*)::int AS n, max(retry_count) AS retries FROM pgboss.job GROUP BY 1, 2 ORDER BY 1, 2`,
            )
          ).rows,
          outbox: (
            await c.query(`SELECT state, count(*)::int AS n, max(attempts) AS attempts FROM app.outbox GROUP BY 1`)
          ).rows,
        }));
        console.info(JSON.stringify(dump));
      } finally {
        await engine.close();
      }
    }

    const counts = new Map<string, number>();
    for (const m of fake.messages) {
      const id = messageIdOf(m.statusCallback)!;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    const twice = [...counts].filter(([, n]) => n > 1);
    const missing = ids.filter((id) => !counts.has(id));
    console.info(
      `outbox crash (${ENGINE}): ${N} messages, kills after ${killedAt.join(', ')} sends; ` +
        `${fake.messages.length} accepted by the fake in ${seconds.toFixed(1)} s ` +
        `(restarts took ${restartSeconds.map((r) => r.toFixed(1)).join(', ')} s); twice: ${twice.length}; missing: ${missing.length}; ` +
        `outbox settled: ${settled}`,
    );
    expect(twice).toEqual([]);
    expect(missing).toEqual([]);
    expect(fake.messages).toHaveLength(N);
    expect(killedAt.some((n) => n > 0 && n < N)).toBe(true); // the kills happened while draining

    const engine = await openEngine(loadConfig({ ...blank.env, CAPTO_DB_POOL_SIZE: '2' }), 'test check');
    try {
      const states = await asOwner(engine, (c) =>
        c.query<{ state: string; n: number }>(
          'SELECT state, count(*)::int AS n FROM app.outbox WHERE id = ANY ($1::uuid[]) GROUP BY state',
          [ids],
        ),
      );
      expect(states.rows).toEqual([{ state: 'sent', n: N }]);
      // Each row's provider id is the one Twilio message that was sent for it.
      const sids = await asOwner(engine, (c) =>
        c.query<{ id: string; provider_id: string }>(
          'SELECT id, provider_id FROM app.outbox WHERE id = ANY ($1::uuid[])',
          [ids],
        ),
      );
      const sidOf = new Map(fake.messages.map((m) => [messageIdOf(m.statusCallback)!, m.sid]));
      expect(sids.rows.filter((r) => sidOf.get(r.id) !== r.provider_id)).toEqual([]);
    } finally {
      await engine.close();
    }
  }, 1_200_000);
});
