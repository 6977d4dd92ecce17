// Two app nodes drain one outbox (docs/ARCHITECTURE.md §24), server PostgreSQL only (an
// embedded data dir serves one process): N queued SMS, both nodes' workers claim delivery
// jobs from the same queue, and the Twilio fake — which sees each node under its own base
// URL — receives every message exactly once, from both nodes.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/index.ts';
import { startCapto, type RunningCapto } from '../src/main.ts';
import { outboxDeliverQueue } from '../src/jobs/outbox-deliver.ts';
import { sharedFakeHibp } from './fakes/hibp.ts';
import { startTwilioFake, type TwilioFake } from './fakes/twilio.ts';
import { createBlankDatabase, ENGINE } from './support/engine.ts';
import { freePort } from './support/server.ts';
import { messageIdOf, queueMessages, smsWorld } from './support/sms-outbox.ts';

const N = Number(process.env.CAPTO_NODES_MESSAGES ?? 300);
const SKIP = ENGINE !== 'server';
const MASTER_KEY = randomBytes(32).toString('base64');
const scratch = mkdtempSync(path.join(os.tmpdir(), 'capto-outbox-nodes-'));
let fake: TwilioFake;
let drop: (() => Promise<void>) | undefined;
const nodes: RunningCapto[] = [];

async function node(env: Record<string, string>, label: string): Promise<RunningCapto> {
  const port = await freePort();
  return startCapto(
    loadConfig({
      CAPTO_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'silent',
      CAPTO_DB_POOL_SIZE: '4',
      HIBP_RANGE_URL: (await sharedFakeHibp()).url,
      CAPTO_DATA_DIR: path.join(scratch, label),
      CAPTO_MASTER_KEY: MASTER_KEY,
      CAPTO_PUBLIC_URL: 'https://capto.example.test',
      TWILIO_API_BASE: `${fake.url}/_node/${label}`,
      CAPTO_SCAN_ON_START: 'off',
      CAPTO_OUTBOX_CAP: 'off',
      CAPTO_JOBS_POLL_SECONDS: '0.5',
      CAPTO_JOBS_CONCURRENCY: '4',
      ...env,
    }),
  );
}

beforeAll(async () => {
  if (SKIP) return;
  fake = await startTwilioFake();
  const blank = await createBlankDatabase();
  drop = blank.drop;
  nodes.push(await node(blank.env, 'a'));
  nodes.push(await node(blank.env, 'b'));
}, 240_000);

afterAll(async () => {
  for (const n of nodes) await n.close();
  await drop?.();
  await fake?.close();
  rmSync(scratch, { recursive: true, force: true });
});

describe.skipIf(SKIP)(`two nodes drain one outbox (${N} messages)`, () => {
  it('every message is sent once, and both nodes took part', async () => {
    const [a] = nodes;
    const w = await smsWorld(a!.engine, a!.db, fake, { masterKey: MASTER_KEY });
    const ids = await queueMessages(a!.engine, w, N);
    // As N requests would: nudge each message — half through each node.
    await Promise.all(
      ids.map((id, i) =>
        nodes[i % 2]!.jobs.send(outboxDeliverQueue, { business_id: w.businessId, outbox_id: id }, { id }),
      ),
    );
    const deadline = Date.now() + 120_000;
    while (fake.messages.length < N && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 1_000)); // a duplicate would arrive now
    const counts = new Map<string, number>();
    for (const m of fake.messages)
      counts.set(messageIdOf(m.statusCallback)!, (counts.get(messageIdOf(m.statusCallback)!) ?? 0) + 1);
    const byNode = { a: 0, b: 0 } as Record<string, number>;
    for (const m of fake.messages) byNode[m.node ?? '?'] = (byNode[m.node ?? '?'] ?? 0) + 1;
    console.info(
      `outbox two nodes: ${fake.messages.length} sends for ${N} messages; node a ${byNode.a}, node b ${byNode.b}`,
    );
    expect([...counts.values()].filter((n) => n > 1)).toEqual([]);
    expect(ids.filter((id) => !counts.has(id))).toEqual([]);
    expect(fake.messages).toHaveLength(N);
    expect(byNode.a).toBeGreaterThan(0);
    expect(byNode.b).toBeGreaterThan(0);
  }, 180_000);
});
