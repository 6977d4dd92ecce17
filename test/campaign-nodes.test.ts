// Two real nodes drain one campaign (docs/ARCHITECTURE.md §21 "Campaigns: exactly once"), on
// server PostgreSQL only — an embedded data dir belongs to one process by design (§5), so there
// is no second node to run. Two `capto start` processes on the same database, both up before
// an email campaign and an SMS campaign of N recipients each (ten excluded in each) are
// started by a setup node that never sends; the senders' rates are low enough that the drain
// lasts seconds, so both nodes claim batches. Counted at the fakes (a real SMTP server, the
// Twilio fake): every eligible address exactly one message, every excluded one none. Both
// nodes did real work: the Twilio fake sees each node under its own base URL
// (<fake>/_node/<label>), and every recipient row records the node whose claim sent it
// (`claimed_by`) — the two agree, and each node sent some emails and some texts.
// CAPTO_NODES_RECIPIENTS sets N (default 300).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { campaignRig, EXCLUDED, receivedByAddress, recipientRows, type CampaignRig } from './support/campaign-world.ts';
import { startServerNode, stopNode, type ServerNode } from './support/capto-process.ts';
import { ENGINE } from './support/engine.ts';

const N = Number(process.env.CAPTO_NODES_RECIPIENTS ?? 300);
const SKIP = ENGINE !== 'server';
const MASTER = Buffer.alloc(32, 12).toString('base64');
const LABELS = ['a', 'b'] as const;

describe.skipIf(SKIP)(`two capto start processes drain one email and one SMS campaign (${N} + ${N})`, () => {
  let rig: CampaignRig;
  const nodes: ServerNode[] = [];

  beforeAll(async () => {
    // 100 emails and 50 texts a second, shared by both nodes: a drain of several seconds.
    rig = await campaignRig({ n: N, masterKey: MASTER, emailRate: 100, smsRate: 50 });
    const { twilio } = rig;
    nodes.push(
      ...(await Promise.all(
        LABELS.map((label) => startServerNode(rig.nodeEnv(label, {}, `${twilio.url}/_node/${label}`))),
      )),
    );
  }, 600_000);

  afterAll(async () => {
    await Promise.all(nodes.map((n) => stopNode(n.child, 'SIGKILL')));
    await rig?.close();
  });

  it('every eligible recipient gets exactly one message, excluded ones none, and both nodes sent', async () => {
    const { world, smtp, twilio } = rig;
    const began = Date.now();
    await world.start();
    for (;;) {
      const a = await world.call('GET', `/campaigns/${world.ids.email}`);
      const b = await world.call('GET', `/campaigns/${world.ids.sms}`);
      if (a.json.status === 'completed' && b.json.status === 'completed') break;
      if (Date.now() - began > 240_000) throw new Error(`not done: ${a.text} ${b.text}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    const seconds = (Date.now() - began) / 1000;
    await new Promise((r) => setTimeout(r, 1_000)); // a duplicate would arrive now
    await Promise.all(nodes.map((n) => stopNode(n.child)));

    const byAddress = receivedByAddress(smtp, twilio);
    const rows = await recipientRows(world.setup.engine, world.businessId);
    expect([...byAddress].filter(([, n]) => n > 1)).toEqual([]);
    expect(rows).toHaveLength(2 * N);
    const skipped = rows.filter((r) => r.status === 'skipped');
    const sent = rows.filter((r) => r.status !== 'skipped');
    expect(skipped).toHaveLength(2 * EXCLUDED);
    for (const r of skipped) {
      expect(r.reason).toMatch(/unsubscribed|opted_out/);
      expect(r.outbox).toBeNull();
      expect(byAddress.get(r.address!) ?? 0).toBe(0);
    }
    // No kills here: nothing in doubt, nothing failed.
    expect(sent.filter((r) => r.status !== 'sent' || r.outbox !== 'sent')).toEqual([]);
    expect(sent.filter((r) => byAddress.get(r.address!) !== 1)).toEqual([]);
    expect(smtp.received).toHaveLength(N - EXCLUDED);
    expect(twilio.messages).toHaveLength(N - EXCLUDED);

    // Which node sent what. At the Twilio fake: by each node's base URL.
    const textsBy = { a: 0, b: 0 } as Record<string, number>;
    for (const m of twilio.messages) textsBy[m.node ?? '?'] = (textsBy[m.node ?? '?'] ?? 0) + 1;
    // In the rows: the node id of the claim that sent each one; for texts it must name the
    // same process as the fake's label, which tells whose id is whose for the emails.
    const labelOf = new Map<string, Set<string>>();
    const nodeOfText = new Map(twilio.messages.map((m) => [m.to, m.node!]));
    for (const r of sent.filter((r) => !r.address!.includes('@'))) {
      const set = labelOf.get(r.claimed_by!) ?? new Set<string>();
      set.add(nodeOfText.get(r.address!)!);
      labelOf.set(r.claimed_by!, set);
    }
    expect([...labelOf.values()].map((s) => [...s].length)).toEqual([1, 1]); // one label per node id
    const label = new Map([...labelOf].map(([id, s]) => [id, [...s][0]!]));
    const emailsBy = { a: 0, b: 0 } as Record<string, number>;
    for (const r of sent.filter((r) => r.address!.includes('@'))) {
      const l = label.get(r.claimed_by!) ?? '?';
      emailsBy[l] = (emailsBy[l] ?? 0) + 1;
    }
    console.info(
      JSON.stringify({
        campaign_nodes: { recipients_per_campaign: N, seconds: Math.round(seconds), texts: textsBy, emails: emailsBy },
      }),
    );
    expect(Object.keys(textsBy).sort()).toEqual(['a', 'b']);
    expect(Object.keys(emailsBy).sort()).toEqual(['a', 'b']);
    for (const l of LABELS) {
      expect(textsBy[l], `texts sent by node ${l}`).toBeGreaterThan(0);
      expect(emailsBy[l], `emails sent by node ${l}`).toBeGreaterThan(0);
    }
  }, 600_000);
});
