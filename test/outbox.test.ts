// The outbox (docs/ARCHITECTURE.md §24) on the engine under test: who may write and read
// app.outbox, and the delivery state machine against the Twilio fake — idempotent per
// message, an unknown send reconciled with Twilio's message list before any retry, a
// certain refusal never retried, the per-number cap, and the sweep.
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asOwner } from '../src/db/engine.ts';
import { createTwilioClient } from '../src/integrations/twilio/client.ts';
import type { JobSender } from '../src/jobs/engine.ts';
import { outboxDeliverHandler, outboxDeliverQueue, successorDelaySeconds } from '../src/jobs/outbox-deliver.ts';
import { outboxSweepHandler, outboxSweepQueue } from '../src/jobs/outbox-sweep.ts';
import { successorId } from '../src/jobs/queue.ts';
import { createOutboxDelivery, nudgeDelivery, withOutbox, type OutboxDelivery } from '../src/messaging/outbox.ts';
import { createSmsDriver } from '../src/messaging/sms-driver.ts';
import { startTwilioFake, type FakeMessage, type TwilioFake } from './fakes/twilio.ts';
import { createTestDatabase, ENGINE, type TestDatabase } from './support/engine.ts';
import { twoBusinesses } from './support/factories.ts';
import { testJobEngine } from './support/jobs.ts';
import { messageIdOf, queueMessages, smsWorld, type SmsWorld } from './support/sms-outbox.ts';

const MASTER_KEY = randomBytes(32).toString('base64');
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let t: TestDatabase;
let fake: TwilioFake;
let drop: ((m: FakeMessage) => boolean) | undefined;
beforeAll(async () => {
  t = await createTestDatabase();
  fake = await startTwilioFake({ onAccept: (m) => (drop?.(m) ? 'drop-response' : undefined) });
}, 300_000);
afterAll(async () => {
  await fake?.close();
  await t?.close();
});

const LEASE = 2;
function delivery(
  w: SmsWorld,
  leaseSeconds = LEASE,
  cap = false,
  smsWindow: [number, number] | null = null,
): OutboxDelivery {
  return createOutboxDelivery({
    db: t.db,
    logger: quiet,
    leaseSeconds,
    drivers: [
      createSmsDriver({
        db: t.db,
        vault: w.vault,
        twilio: createTwilioClient(fake.url),
        publicUrl: 'https://capto.test',
        cap,
        smsWindow,
      }),
    ],
  });
}
const row = async (id: string) =>
  (
    await asOwner(t.engine, (c) =>
      c.query<{
        state: string;
        attempts: number;
        provider_id: string | null;
        status: string;
        twilio_sid: string | null;
      }>(
        `SELECT o.state, o.attempts, o.provider_id, m.status, m.twilio_sid
           FROM app.outbox o JOIN app.messages m ON m.id = o.id WHERE o.id = $1`,
        [id],
      ),
    )
  ).rows[0]!;
const sentFor = (id: string) => fake.messages.filter((m) => messageIdOf(m.statusCallback) === id);

describe(`app.outbox access (${ENGINE})`, () => {
  it('members of every role enqueue in their own name in their business; never in another, never as someone else', async () => {
    const w = await twoBusinesses(t.engine);
    const sender = randomUUID();
    const tryInsert = (userId: string, businessId: string, createdBy = userId) =>
      t.db.asUser({ sub: userId }, (tx) =>
        withOutbox(tx, { id: randomUUID(), businessId, channel: 'sms', senderId: sender, createdBy }),
      );
    for (const role of ['owner', 'admin', 'member'] as const) {
      await expect(tryInsert(w.a[role].id, w.a.business.id)).resolves.toBeUndefined(); // positive case
      await expect(tryInsert(w.a[role].id, w.b.business.id)).rejects.toMatchObject({ code: 'forbidden' });
      await expect(
        tryInsert(w.a[role].id, w.a.business.id, w.a.owner.id === w.a[role].id ? w.a.member.id : w.a.owner.id),
      ).rejects.toMatchObject({ code: 'forbidden' });
    }
    await expect(tryInsert(w.outsider.id, w.a.business.id)).rejects.toMatchObject({ code: 'forbidden' });
    // Reading: the business's members see its rows (3), the other business and outsiders none.
    const visible = (userId: string, businessId: string) =>
      t.db.asUser({ sub: userId }, async (tx) =>
        Number(
          (await tx.query<{ n: string }>('SELECT count(*) AS n FROM app.outbox WHERE business_id = $1', [businessId]))
            .rows[0]!.n,
        ),
      );
    expect(await visible(w.a.member.id, w.a.business.id)).toBe(3);
    expect(await visible(w.b.owner.id, w.a.business.id)).toBe(0);
    expect(await visible(w.outsider.id, w.a.business.id)).toBe(0);
  });

  it('a member cannot set a delivery state or a provider id, nor change a row', async () => {
    const w = await twoBusinesses(t.engine);
    const id = randomUUID();
    await expect(
      t.db.asUser({ sub: w.a.member.id }, (tx) =>
        tx.query(
          `INSERT INTO app.outbox (id, business_id, channel, sender_id, created_by, state, provider_id) VALUES ($1, $2, 'sms', $3, $4, 'sent', 'SMx')`,
          [id, w.a.business.id, randomUUID(), w.a.member.id],
        ),
      ),
    ).rejects.toMatchObject({ code: 'forbidden' });
    await t.db.asUser({ sub: w.a.owner.id }, (tx) =>
      withOutbox(tx, {
        id,
        businessId: w.a.business.id,
        channel: 'sms',
        senderId: randomUUID(),
        createdBy: w.a.owner.id,
      }),
    );
    for (const sql of [`UPDATE app.outbox SET state = 'failed' WHERE id = $1`, 'DELETE FROM app.outbox WHERE id = $1'])
      await expect(t.db.asUser({ sub: w.a.owner.id }, (tx) => tx.query(sql, [id]))).rejects.toMatchObject({
        code: 'forbidden',
      });
    // The service role moves it.
    const moved = await t.db.asService('test.outbox', (tx) =>
      tx.query(`UPDATE app.outbox SET state = 'failed' WHERE id = $1`, [id]),
    );
    expect(moved.rowCount).toBe(1);
  });
});

describe(`outbox delivery (${ENGINE})`, () => {
  it('sends a queued message once; delivering it again sends nothing', async () => {
    const w = await smsWorld(t.engine, t.db, fake, { masterKey: MASTER_KEY, messagesPerSecond: 1 });
    const d = delivery(w);
    const [id] = await queueMessages(t.engine, w, 1);
    expect(await d.deliver(w.businessId, id!)).toBe('sent');
    expect(sentFor(id!)).toHaveLength(1);
    expect(await row(id!)).toMatchObject({
      state: 'sent',
      attempts: 1,
      status: 'sending',
      twilio_sid: sentFor(id!)[0]!.sid,
    });
    expect(await d.deliver(w.businessId, id!)).toBe('done');
    expect(sentFor(id!)).toHaveLength(1);
  });

  it('an answer lost after Twilio accepted: the retry finds the message at Twilio and does not send again', async () => {
    const w = await smsWorld(t.engine, t.db, fake, { masterKey: MASTER_KEY, messagesPerSecond: 1 });
    const d = delivery(w);
    const [id] = await queueMessages(t.engine, w, 1, () => 'Your appraisal is booked');
    drop = (m) => messageIdOf(m.statusCallback) === id;
    try {
      await expect(d.deliver(w.businessId, id!)).rejects.toMatchObject({ code: 'delivery_deferred' });
    } finally {
      drop = undefined;
    }
    expect(sentFor(id!)).toHaveLength(1); // Twilio has it; we do not know
    expect(await row(id!)).toMatchObject({ state: 'sending', provider_id: null });
    // While the attempt's lease runs, nobody touches it.
    await expect(d.deliver(w.businessId, id!)).rejects.toMatchObject({ code: 'delivery_deferred' });
    await sleep(LEASE * 1000 + 200);
    expect(await d.deliver(w.businessId, id!)).toBe('sent');
    expect(sentFor(id!)).toHaveLength(1);
    expect(await row(id!)).toMatchObject({
      state: 'sent',
      provider_id: sentFor(id!)[0]!.sid,
      twilio_sid: sentFor(id!)[0]!.sid,
    });
    // Twilio was asked with its real list filters.
    expect(fake.requests.some((r) => r.method === 'GET' && r.path.endsWith('/Messages.json'))).toBe(true);
  });

  it('an unknown send Twilio never got is sent once after the lookup', async () => {
    const w = await smsWorld(t.engine, t.db, fake, { masterKey: MASTER_KEY, messagesPerSecond: 1 });
    const d = delivery(w);
    const [id] = await queueMessages(t.engine, w, 1);
    // As a crash leaves it: claimed, lease over, no provider id, nothing at Twilio.
    await asOwner(t.engine, (c) =>
      c.query(
        `UPDATE app.outbox SET state = 'sending', attempts = 1, first_attempt_at = now() - interval '1 minute', lease_until = now() - interval '1 second' WHERE id = $1`,
        [id],
      ),
    );
    expect(await d.deliver(w.businessId, id!)).toBe('sent');
    expect(sentFor(id!)).toHaveLength(1);
    expect(await row(id!)).toMatchObject({ state: 'sent', attempts: 2 });
  });

  it('the same text twice to one number, both unknown, one at Twilio: one is adopted, the other sent — two in all', async () => {
    const w = await smsWorld(t.engine, t.db, fake, { masterKey: MASTER_KEY, messagesPerSecond: 1 });
    const d = delivery(w);
    const [a, b] = await queueMessages(t.engine, w, 2, () => 'OK');
    // Both to the same contact: point b at a's conversation.
    await asOwner(t.engine, (c) =>
      c.query(
        `UPDATE app.messages SET conversation_id = (SELECT conversation_id FROM app.messages WHERE id = $1) WHERE id = $2`,
        [a, b],
      ),
    );
    drop = (m) => messageIdOf(m.statusCallback) === a;
    await expect(d.deliver(w.businessId, a!)).rejects.toMatchObject({ code: 'delivery_deferred' });
    drop = undefined;
    await asOwner(t.engine, (c) =>
      c.query(
        `UPDATE app.outbox SET state = 'sending', attempts = 1, first_attempt_at = now() - interval '1 minute', lease_until = now() - interval '1 second' WHERE id = ANY ($1::uuid[])`,
        [[a, b]],
      ),
    );
    expect(await d.deliver(w.businessId, b!)).toBe('sent'); // adopts the one Twilio has
    expect(await d.deliver(w.businessId, a!)).toBe('sent'); // finds it taken: sends its own
    const sids = [(await row(a!)).provider_id, (await row(b!)).provider_id];
    expect(new Set(sids).size).toBe(2);
    expect(fake.messages.filter((m) => m.body === 'OK' && m.from === w.number)).toHaveLength(2);
  });

  it('a refusal is final (the message fails with Twilio’s code); a rate limit puts it back in the queue', async () => {
    const w = await smsWorld(t.engine, t.db, fake, { masterKey: MASTER_KEY, messagesPerSecond: 1 });
    const d = delivery(w);
    const [refused, limited] = await queueMessages(t.engine, w, 2);
    const to = async (id: string) =>
      (
        await asOwner(t.engine, (c) =>
          c.query<{ phone: string }>(
            'SELECT c.phone FROM app.messages m JOIN app.conversations v ON v.id = m.conversation_id JOIN app.contacts c ON c.id = v.contact_id WHERE m.id = $1',
            [id],
          ),
        )
      ).rows[0]!.phone;
    fake.failSendsTo({ code: 21614 }, await to(refused!));
    expect(await d.deliver(w.businessId, refused!)).toBe('failed');
    expect(await row(refused!)).toMatchObject({ state: 'failed', status: 'failed' });
    expect(await d.deliver(w.businessId, refused!)).toBe('done');
    fake.failSendsTo({ code: 20429, status: 429 }, await to(limited!));
    await expect(d.deliver(w.businessId, limited!)).rejects.toMatchObject({ code: 'delivery_deferred' });
    expect(await row(limited!)).toMatchObject({ state: 'queued' });
    expect(await d.deliver(w.businessId, limited!)).toBe('sent');
    expect(sentFor(limited!)).toHaveLength(1);
  });

  it('caps a number at its messages_per_second; with CAPTO_OUTBOX_CAP=off it sends at once', async () => {
    const capped = await smsWorld(t.engine, t.db, fake, { masterKey: MASTER_KEY, messagesPerSecond: 2 });
    const ids = await queueMessages(t.engine, capped, 6);
    const d = delivery(capped, 9, true); // a wait of up to a third of the lease is taken in place
    await Promise.all(ids.map((id) => d.deliver(capped.businessId, id)));
    const times = ids.map((id) => sentFor(id)[0]!.createdAt.getTime()).sort((x, y) => x - y);
    // Six sends at 2/s: slots 500 ms apart, 2.5 s from first to last (less the jitter of
    // the call that follows each slot).
    expect(times.at(-1)! - times[0]!).toBeGreaterThanOrEqual(2_100);

    const free = await smsWorld(t.engine, t.db, fake, { masterKey: MASTER_KEY, messagesPerSecond: 1 });
    const fast = await queueMessages(t.engine, free, 6);
    await Promise.all(fast.map((id) => delivery(free, LEASE, false).deliver(free.businessId, id)));
    const fastTimes = fast.map((id) => sentFor(id)[0]!.createdAt.getTime());
    expect(Math.max(...fastTimes) - Math.min(...fastTimes)).toBeLessThan(1_500);
  });

  // pg-boss keeps a delivery job that used up its retries (or whose node died during the last
  // one) as failed, and the sweep books a message by its id, which pg-boss then ignores: the
  // message would stay `sending` until an operator stepped in. The last attempt books a
  // successor first, so delivery goes on by itself.
  it('a delivery job’s last attempt books a successor; the successor delivers the message once', async () => {
    const w = await smsWorld(t.engine, t.db, fake, { masterKey: MASTER_KEY, messagesPerSecond: 1 });
    const [id] = await queueMessages(t.engine, w, 1, () => 'Your rate lock is confirmed');
    const booked: { id?: string; startAfter?: Date | number; payload: unknown }[] = [];
    const jobs: JobSender = {
      async send(_queue, payload, options) {
        booked.push({ id: options?.id, startAfter: options?.startAfter, payload });
        return options?.id ?? null;
      },
      async sendMany() {},
    };
    const delay = successorDelaySeconds(2 * LEASE + 5);
    const handler = outboxDeliverHandler(delivery(w), jobs, delay);
    const retryLimit = outboxDeliverQueue.policy.retryLimit!;
    const payload = { business_id: w.businessId, outbox_id: id! };
    const attempt = (jobId: string, retryCount: number) =>
      handler(payload, { id: jobId, retryCount, retryLimit, signal: new AbortController().signal });

    // The last retry but one: Twilio takes the text and the answer is lost — in doubt.
    drop = (m) => messageIdOf(m.statusCallback) === id;
    try {
      await expect(attempt(id!, retryLimit - 1)).rejects.toMatchObject({ code: 'delivery_deferred' });
    } finally {
      drop = undefined;
    }
    expect(booked).toEqual([]); // not the last attempt: pg-boss retries it
    // The last attempt finds the lease still running and defers too: the job now fails for good.
    await expect(attempt(id!, retryLimit)).rejects.toMatchObject({ code: 'delivery_deferred' });
    expect(await row(id!)).toMatchObject({ state: 'sending', provider_id: null });
    expect(booked).toEqual([{ id: successorId(id!), startAfter: delay, payload }]);
    expect(successorId(id!)).not.toBe(id);
    expect(delay).toBeGreaterThan(2 * LEASE + 5); // after the last attempt's claim has expired

    // The successor's first attempt: reconciles with Twilio, adopts the text — sent once.
    await sleep(LEASE * 1000 + 200);
    await attempt(successorId(id!), 0);
    expect(sentFor(id!)).toHaveLength(1);
    expect(await row(id!)).toMatchObject({ state: 'sent', provider_id: sentFor(id!)[0]!.sid });
    expect(booked).toHaveLength(1); // a first attempt books nothing
    // A successor that runs after the message is settled finds nothing to do.
    await attempt(successorId(successorId(id!)), retryLimit);
    expect(sentFor(id!)).toHaveLength(1);
  });

  it('an automated text waits for the sending hours when it is delivered; a person’s own text goes at once', async () => {
    const w = await smsWorld(t.engine, t.db, fake, { masterKey: MASTER_KEY });
    // A fixed-offset zone where it is 03:xx now: outside 8–21.
    const offset = (((3 - new Date().getUTCHours()) % 24) + 24) % 24;
    const east = offset > 12 ? offset - 24 : offset;
    const zone = east === 0 ? 'Etc/GMT' : east > 0 ? `Etc/GMT-${east}` : `Etc/GMT+${-east}`;
    const [automated, personal] = await queueMessages(t.engine, w, 2, (i) => `after hours ${i}`);
    await asOwner(t.engine, async (c) => {
      await c.query('UPDATE app.businesses SET time_zone = $2 WHERE id = $1', [w.businessId, zone]);
      // An automation's step wrote the first (no person sent it); the owner wrote the second.
      await c.query('UPDATE app.messages SET sender_user_id = NULL WHERE id = $1', [automated]);
    });
    const booked: { id?: string; startAfter?: Date | number }[] = [];
    const jobs: JobSender = {
      async send(_queue, _payload, options) {
        booked.push({ id: options?.id, startAfter: options?.startAfter });
        return options?.id ?? null;
      },
      async sendMany() {},
    };
    const handler = outboxDeliverHandler(delivery(w, LEASE, false, [8, 21]), jobs, 600);
    const run = (id: string) =>
      handler(
        { business_id: w.businessId, outbox_id: id },
        { id, retryCount: 0, retryLimit: 20, signal: new AbortController().signal },
      );

    await run(automated!);
    expect(sentFor(automated!)).toEqual([]);
    expect(await row(automated!)).toMatchObject({ state: 'queued', attempts: 0, status: 'queued' });
    // Its successor is due when the window opens: 08:00 there, 4–5 hours from 03:xx.
    expect(booked).toHaveLength(1);
    expect(booked[0]!.id).toBe(successorId(automated!));
    const wait = booked[0]!.startAfter as number;
    expect(wait).toBeGreaterThan(4 * 3600);
    expect(wait).toBeLessThanOrEqual(5 * 3600);
    expect(new Date(Date.now() + wait * 1000).getUTCMinutes() % 60).toBeLessThanOrEqual(1);

    await run(personal!);
    expect(sentFor(personal!)).toHaveLength(1);
    expect(booked).toHaveLength(1);
    // Inside the window (or with no window) the automated one goes too.
    await outboxDeliverHandler(
      delivery(w),
      jobs,
      600,
    )(
      { business_id: w.businessId, outbox_id: automated! },
      { id: successorId(automated!), retryCount: 0, retryLimit: 20, signal: new AbortController().signal },
    );
    expect(sentFor(automated!)).toHaveLength(1);
  });

  it('the sweep gives every undelivered row a delivery job, once', async () => {
    const w = await smsWorld(t.engine, t.db, fake, { masterKey: MASTER_KEY, messagesPerSecond: 1 });
    const ids = await queueMessages(t.engine, w, 3);
    const jobs = testJobEngine(t);
    jobs.register(outboxDeliverQueue); // no handler here: the jobs stay queued
    jobs.register(outboxSweepQueue);
    await jobs.start();
    try {
      const sweep = outboxSweepHandler(t.db, jobs, 2);
      const signal = new AbortController().signal;
      await sweep({}, { id: randomUUID(), retryCount: 0, retryLimit: 1, signal });
      await sweep({}, { id: randomUUID(), retryCount: 0, retryLimit: 1, signal });
      const queued = await asOwner(t.engine, (c) =>
        c.query<{ id: string }>(
          `SELECT id::text FROM pgboss.job WHERE name = 'outbox.deliver' AND id = ANY ($1::uuid[])`,
          [ids],
        ),
      );
      expect(queued.rows.map((r) => r.id).sort()).toEqual([...ids].sort());
    } finally {
      await jobs.stop();
    }
  });
});

describe('nudgeDelivery', () => {
  it('returns before the nudge ends; a failed nudge is logged (the sweep delivers), never thrown', async () => {
    const warnings: unknown[] = [];
    const logger = { warn: (o: unknown) => void warnings.push(o) };
    let release!: () => void;
    const nudged: string[] = [];
    const slow = {
      notify: (m: { id: string }) => new Promise<void>((r) => (release = r)).then(() => void nudged.push(m.id)),
    };
    nudgeDelivery(slow, logger, { id: 'a', businessId: 'b' });
    expect(nudged).toEqual([]); // the caller did not wait
    release();
    await sleep(0);
    expect(nudged).toEqual(['a']);
    expect(warnings).toEqual([]);

    const failing = { notify: () => Promise.reject(new Error('job engine stopped')) };
    nudgeDelivery(failing, logger, { id: 'c', businessId: 'b' });
    await sleep(0);
    expect(warnings).toEqual([expect.objectContaining({ message_id: 'c', err: expect.any(Error) })]);
  });
});
