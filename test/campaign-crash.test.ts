// The crash test (docs/ARCHITECTURE.md §21 "Campaigns: exactly once", §24): an email
// campaign and an SMS campaign of N recipients each are drained by a real `capto start`
// process that is killed with SIGKILL five times at random moments and restarted, on both
// engines. At the fakes (a real SMTP server, the Twilio fake) no address received anything
// twice, no excluded address anything, every text and every email recorded sent arrived
// exactly once; every recipient ends terminal — sent, or skipped with why. An email whose
// point of no return was committed at a kill is the one case that cannot be known (SMTP
// cannot be asked): it is reported failed "outcome unknown" and never resent; the test
// counts those, and how many of them did not arrive (the node died between the mark's
// commit and the dot).
//
// Sizes: CAPTO_CRASH_RECIPIENTS (default 2,000 on server PostgreSQL, the size the proof asks
// for; 60 on PGlite). CAPTO_CRASH_START_SECONDS bounds a node's start (default 240),
// CAPTO_CRASH_DRAIN_SECONDS the last node's drain (default 480), CAPTO_CRASH_PROGRESS=<file>
// appends the count at the fakes every 30 s, CAPTO_CRASH_LOG=<file> keeps the nodes' logs.
// The full size on PGlite, run once 2026-12-05 (load average ~10–24 on the shared 2-core
// machine; the JSON line below prints these): CAPTO_CRASH_RECIPIENTS=2000
// CAPTO_CRASH_DRAIN_SECONDS=3000 — passed, 0 duplicates, 3,980 / 3,980 eligible received, 0 in
// doubt; 825 s for the file: ~200 s seeding 4,000 contacts and starting both campaigns on the
// setup node, then 586 s from the first crash node's spawn to the check. The six starts took
// 26–57 s each (230 s), the five killed nodes sent 375 between them,
// and the last one drained the remaining 3,605 in 257 s (14/s on average, 2.5–7/s while the
// queue was full, 16–56/s as it emptied). Not minutes, so the default stays 60 on PGlite;
// why the drain is slow there: docs/ARCHITECTURE.md §21.
//
// Embedded: the data dir belongs to one process at a time, so the setup node (which never
// sends: CAPTO_CAMPAIGNS=off) closes before the first crash node starts, and the final
// check reopens the database after the last node stopped.
import type { ChildProcess } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/index.ts';
import { openEngine } from '../src/db/index.ts';
import { signIn } from './support/auth.ts';
import { campaignRig, EXCLUDED, receivedByAddress, recipientRows, type CampaignRig } from './support/campaign-world.ts';
import { startServerNode, stopNode } from './support/capto-process.ts';
import { ENGINE } from './support/engine.ts';
import { request } from './support/http.ts';

const N = Number(process.env.CAPTO_CRASH_RECIPIENTS ?? (ENGINE === 'embedded' ? 60 : 2000));
const KILLS = 5;
const START_SECONDS = Number(process.env.CAPTO_CRASH_START_SECONDS ?? 240);
// The last node's drain of what is left: at ~3 messages/s on PGlite a full-size run needs more.
const DRAIN_SECONDS = Number(process.env.CAPTO_CRASH_DRAIN_SECONDS ?? 480);
const MASTER = Buffer.alloc(32, 11).toString('base64');

describe(`campaign crash test (${ENGINE}; kill -9 ×${KILLS})`, () => {
  let rig: CampaignRig;
  let url = '';
  let token = '';
  let child: ChildProcess | undefined;

  const call = (method: string, p: string, body?: unknown) =>
    request<any>(`${url}/api/businesses/${rig.world.businessId}${p}`, { method, token, body });

  beforeAll(async () => {
    rig = await campaignRig({ n: N, masterKey: MASTER });
    // Start both, then hand the database to the crash nodes (embedded: one process at a time).
    await rig.world.start();
    await rig.world.setup.close();
  }, 600_000);

  afterAll(async () => {
    if (child) await stopNode(child, 'SIGKILL');
    await rig?.close();
  });

  async function startNode(): Promise<ChildProcess> {
    const env = rig.nodeEnv('node', { CAPTO_CAMPAIGN_LEASE_SECONDS: '6' });
    const node = await startServerNode(env, { startSeconds: START_SECONDS, logLevel: 'info' });
    url = node.url;
    return node.child;
  }

  const sentSoFar = () => rig.smtp.received.length + rig.twilio.messages.length;
  // CAPTO_CRASH_PROGRESS=<file>: a line every 30 s (seconds since the first start, messages at the
  // fakes), to see how far a long run got.
  const progress = (began: number) => {
    const file = process.env.CAPTO_CRASH_PROGRESS;
    if (!file) return () => undefined;
    const t = setInterval(
      () => appendFileSync(file, `${Math.round((Date.now() - began) / 1000)} s: ${sentSoFar()} sent\n`),
      30_000,
    ).unref();
    return () => clearInterval(t);
  };

  it(
    `every eligible recipient gets exactly one message, none is skipped silently (${N} + ${N} recipients, ${KILLS} kills)`,
    async () => {
      const began = Date.now();
      const stopProgress = progress(began);
      const kills: number[] = [];
      const startsMs: number[] = []; // spawn → "Capto is running", per node
      const timedStart = async () => {
        const t = Date.now();
        const p = await startNode();
        startsMs.push(Date.now() - t);
        return p;
      };
      for (let k = 0; k < KILLS; k++) {
        child = await timedStart();
        const base = sentSoFar();
        // Let it send a little (between 1 and ~8% of the work), then kill it mid-flight.
        const target = base + 1 + Math.floor(Math.random() * Math.max(2, (2 * N) / 12));
        const t0 = Date.now();
        while (sentSoFar() < target && Date.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 5));
        await stopNode(child, 'SIGKILL');
        kills.push(sentSoFar());
      }
      child = await timedStart();
      const lastStarted = Date.now();
      // A session of this node (the setup node's access token is not valid across processes).
      token = (await signIn({ url } as never, rig.world.owner.email, rig.world.owner.password)).accessToken;
      const t0 = Date.now();
      for (;;) {
        const a = await call('GET', `/campaigns/${rig.world.ids.email}`);
        const b = await call('GET', `/campaigns/${rig.world.ids.sms}`);
        if (a.json.status === 'completed' && b.json.status === 'completed') break;
        if (Date.now() - t0 > DRAIN_SECONDS * 1000) throw new Error(`not done: ${a.text} ${b.text}`);
        await new Promise((r) => setTimeout(r, 250));
      }
      const finalDrainMs = Date.now() - lastStarted;
      stopProgress();
      await stopNode(child);

      const byAddress = receivedByAddress(rig.smtp, rig.twilio);
      const twice = [...byAddress].filter(([, n]) => n > 1);

      // Reopen the database (embedded: the last node has let go of the data dir).
      const engine = await openEngine(
        loadConfig({
          CAPTO_ENV: 'test',
          CAPTO_DATA_DIR: path.join(rig.scratch, 'check'),
          ...rig.blank.env,
          CAPTO_DB_POOL_SIZE: '2',
        }),
        'test check',
      );
      let rows;
      try {
        rows = await recipientRows(engine, rig.world.businessId);
      } finally {
        await engine.close();
      }
      const info = new Map(rows.map((r) => [r.address, r]));
      expect(twice.map(([a, n]) => ({ a, n, row: info.get(a) }))).toEqual([]);
      let received = 0;
      let inDoubt = 0;
      let inDoubtLost = 0;
      for (const r of rows) {
        expect(['sent', 'delivered', 'failed', 'skipped']).toContain(r.status);
        if (r.status === 'skipped') {
          expect(r.reason).toMatch(/unsubscribed|opted_out/);
          expect(r.outbox).toBeNull(); // excluded at the start: no outbox row at all
          expect(byAddress.get(r.address ?? '') ?? 0).toBe(0);
          continue;
        }
        const got = byAddress.get(r.address!) ?? 0;
        received += got;
        if (r.status === 'failed') {
          // Only an email caught past its point of no return: never sent twice. It was lost only
          // if the node died after the mark committed and before the dot went out.
          expect(r.reason).toMatch(/outcome unknown/);
          expect(r.address).toMatch(/@/);
          expect(got).toBeLessThanOrEqual(1);
          inDoubt++;
          if (got === 0) inDoubtLost++;
          continue;
        }
        expect(r.outbox).toBe('sent');
        expect(got, `${r.address} (${r.status})`).toBe(1);
      }
      const eligible = rows.filter((r) => r.status !== 'skipped').length;
      expect(eligible).toBe(2 * (N - EXCLUDED));
      expect(received + inDoubtLost).toBe(eligible);
      // At most the marks in flight at a kill can be lost: a few per kill, not whole batches.
      expect(inDoubtLost).toBeLessThanOrEqual(KILLS * 4);
      console.log(
        JSON.stringify({
          crash_test: {
            engine: ENGINE,
            recipients_per_campaign: N,
            kills: KILLS,
            sent_at_kills: kills,
            eligible,
            received,
            in_doubt: inDoubt,
            in_doubt_not_received: inDoubtLost,
            duplicates: twice.length,
            seconds: Math.round((Date.now() - began) / 1000),
            node_starts_ms: startsMs,
            sent_before_last_start: kills[kills.length - 1],
            final_drain_ms: finalDrainMs,
          },
        }),
      );
    },
    (KILLS + 1) * START_SECONDS * 1000 + KILLS * 20_000 + DRAIN_SECONDS * 1000 + 120_000,
  );
});
