// 1:1 email from a contact: 202 queued, delivered once through the chosen sender to a
// real SMTP server (text + safe HTML), on the contact's timeline with its status;
// suppressed addresses refused; members send, outsiders cannot; in SQL nobody queues in
// someone else's name or moves a message's status.
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asOwner } from '../src/db/engine.ts';
import { createEmailDelivery } from '../src/integrations/email/deliver.ts';
import { createCommitMarks } from '../src/messaging/commit-marks.ts';
import { createOutboxDelivery } from '../src/messaging/outbox.ts';
import { createEmailDriver } from '../src/outreach/email-driver.ts';
import { createUnsubscribeTokens } from '../src/outreach/unsubscribe.ts';
import { parseMasterKey } from '../src/vault/master-key.ts';
import { createVault } from '../src/vault/secrets.ts';
import { startSmtpFake, type SmtpFake } from './fakes/smtp.ts';
import { signUp, type SignedUpUser } from './support/auth.ts';
import { addMember, newBusiness } from './support/factories.ts';
import { request, type HttpResponse } from './support/http.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { probe, summarise } from './support/tenancy.ts';

let s: TestServer;
let smtp: SmtpFake;
let owner: SignedUpUser;
let member: SignedUpUser;
let outsider: SignedUpUser;
let bid: string;
let bidB: string;
let contactId: string;
let senderId: string;
const MASTER = Buffer.alloc(32, 6).toString('base64');

const call = (user: SignedUpUser, method: string, path: string, body?: unknown, business = bid) =>
  request(`${s.url}/api/businesses/${business}${path}`, { method, token: user.accessToken, body }) as Promise<
    HttpResponse<any>
  >;

async function until<T>(fn: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  smtp = await startSmtpFake();
  s = await startTestServer({
    CAPTO_MASTER_KEY: MASTER,
    CAPTO_SCAN_ON_START: 'off',
    CAPTO_ALLOW_PRIVATE_HOSTS: 'on',
    CAPTO_CAMPAIGN_POLL_MS: '100',
  });
  const users = await Promise.all(Array.from({ length: 3 }, () => signUp(s, { verified: true })));
  [owner, member, outsider] = users as [SignedUpUser, SignedUpUser, SignedUpUser];
  bid = (await newBusiness(s.engine, owner.userId, 'Keystone Mortgage')).id;
  await addMember(s.engine, bid, member.userId, 'member');
  bidB = (await newBusiness(s.engine, outsider.userId, 'Other')).id;
  const sender = await call(owner, 'POST', '/integrations/email', {
    kind: 'smtp',
    host: '127.0.0.1',
    port: smtp.port,
    security: 'none',
    username: smtp.username,
    password: smtp.password,
    from_email: 'dana@keystone.example',
    from_name: 'Dana Loans',
  });
  senderId = sender.json.id;
  const c = await call(member, 'POST', '/contacts', { first_name: 'Ana', email: 'ana@example.com' });
  contactId = c.json.id;
}, 120_000);
afterAll(async () => {
  await s?.stop();
  await smtp?.close();
});

describe('1:1 email', () => {
  it('a member sends: 202 queued, then exactly one message arrives, and the timeline shows it sent', async () => {
    const before = smtp.received.length;
    const res = await call(member, 'POST', `/contacts/${contactId}/emails`, {
      sender_id: senderId,
      subject: 'Your documents',
      body: 'Hi Ana,\n\nPlease upload your **W-2**. <script>x</script>',
    });
    expect(res.status).toBe(202);
    expect(res.json).toMatchObject({ status: 'queued', to: 'ana@example.com', sender_id: senderId });
    await smtp.waitFor(before + 1);
    const m = smtp.received[before]!;
    expect(m.envelopeTo).toEqual(['ana@example.com']);
    expect(m.parsed.subject).toBe('Your documents');
    expect(m.parsed.from?.value[0]).toMatchObject({ address: 'dana@keystone.example', name: 'Dana Loans' });
    expect(m.parsed.text).toContain('Please upload your **W-2**.');
    expect(m.parsed.html).toContain('<strong>W-2</strong>');
    expect(m.parsed.html).not.toContain('<script>');
    const item = await until(async () => {
      const t = await call(member, 'GET', `/contacts/${contactId}/timeline`);
      const e = t.json.items.find((i: { kind: string; id: string }) => i.kind === 'email' && i.id === res.json.id);
      return e?.data.status === 'sent' ? e : undefined;
    });
    expect(item.data).toMatchObject({ subject: 'Your documents', from: 'dana@keystone.example', status: 'sent' });
    expect(item.data.snippet).toContain('Hi Ana');
    await new Promise((r) => setTimeout(r, 300));
    expect(smtp.received.length).toBe(before + 1); // and only one
  });

  it('a hard bounce fails the message and suppresses the address; the next send is refused with 409', async () => {
    const c = await call(member, 'POST', '/contacts', { first_name: 'Gone', email: 'gone@example.com' });
    smtp.rejectRecipient = (to) => to === 'gone@example.com';
    const res = await call(member, 'POST', `/contacts/${c.json.id}/emails`, { subject: 'Hi', body: 'Hello' });
    expect(res.status).toBe(202);
    await until(async () => {
      const r = await asOwner(s.engine, (q) =>
        q.query<{ status: string }>('SELECT status FROM app.contact_emails WHERE id = $1', [res.json.id]),
      );
      return r.rows[0]?.status === 'failed' ? true : undefined;
    });
    smtp.rejectRecipient = () => false;
    const again = await call(member, 'POST', `/contacts/${c.json.id}/emails`, { subject: 'Hi', body: 'Hello' });
    expect(again.status).toBe(409);
    expect(again.json.error.code).toBe('email_suppressed');
  });

  it('validation, a contact without email, outsiders and other businesses', async () => {
    expect(
      (await call(member, 'POST', `/contacts/${contactId}/emails`, { subject: 'a\nBcc: x@y.z', body: 'b' })).status,
    ).toBe(400);
    expect(
      (await call(member, 'POST', `/contacts/${contactId}/emails`, { subject: 'a', body: 'b', cc: 'x' })).status,
    ).toBe(400);
    const noEmail = await call(member, 'POST', '/contacts', { first_name: 'Phone', phone: '+14155550188' });
    expect(
      (await call(member, 'POST', `/contacts/${noEmail.json.id}/emails`, { subject: 'a', body: 'b' })).status,
    ).toBe(400);
    expect((await call(outsider, 'POST', `/contacts/${contactId}/emails`, { subject: 'a', body: 'b' })).status).toBe(
      404,
    );
    expect(
      (await call(outsider, 'POST', `/contacts/${contactId}/emails`, { subject: 'a', body: 'b' }, bidB)).status,
    ).toBe(404);
    // B has no senders: its own contacts get 409 no_email_sender.
    const cb = await call(outsider, 'POST', '/contacts', { first_name: 'B', email: 'b@example.com' }, bidB);
    const r = await call(outsider, 'POST', `/contacts/${cb.json.id}/emails`, { subject: 'a', body: 'b' }, bidB);
    expect(r.status).toBe(409);
    expect(r.json.error.code).toBe('no_email_sender');
    // Using A's sender from B is not possible either.
    const cross = await call(
      outsider,
      'POST',
      `/contacts/${cb.json.id}/emails`,
      { subject: 'a', body: 'b', sender_id: senderId },
      bidB,
    );
    expect(cross.status).toBe(400);
  });

  it('in SQL: a member queues in her own name only, cannot change a status; outsiders see nothing', async () => {
    const ins = `INSERT INTO app.contact_emails (business_id, contact_id, sender_id, sent_by, to_address, subject, body) VALUES ($1, $2, $3, $4, 'ana@example.com', 's', 'b')`;
    expect(summarise(await probe(s.db, member.userId, ins, [bid, contactId, senderId, member.userId]))).toBe('ok');
    expect(summarise(await probe(s.db, member.userId, ins, [bid, contactId, senderId, owner.userId]))).toMatch(
      /denied/,
    );
    expect(summarise(await probe(s.db, outsider.userId, ins, [bid, contactId, senderId, outsider.userId]))).toMatch(
      /denied/,
    );
    expect(
      summarise(
        await probe(s.db, owner.userId, `UPDATE app.contact_emails SET status = 'sent' WHERE business_id = $1`, [bid]),
      ),
    ).toBe('denied');
    expect(
      summarise(await probe(s.db, member.userId, 'SELECT 1 FROM app.contact_emails WHERE business_id = $1', [bid])),
    ).toBe('ok');
    expect(
      summarise(await probe(s.db, outsider.userId, 'SELECT 1 FROM app.contact_emails WHERE business_id = $1', [bid])),
    ).toBe('none');
  });
});

describe('1:1 email through the outbox (docs/ARCHITECTURE.md §24 "Email")', () => {
  const lease = 5;
  let delivery: ReturnType<typeof createOutboxDelivery>;
  let email: ReturnType<typeof createEmailDelivery>;
  beforeAll(() => {
    const vault = createVault(parseMasterKey(MASTER));
    email = createEmailDelivery({
      db: s.db,
      vault,
      googleApiBase: 'http://127.0.0.1:9',
      smtpPolicy: { allowPrivateHosts: true },
      messageIdDomain: new URL(s.config.publicUrl).hostname,
    });
    delivery = createOutboxDelivery({
      db: s.db,
      logger: s.app.log as never,
      leaseSeconds: lease,
      drivers: [
        createEmailDriver({
          db: s.db,
          email,
          marks: createCommitMarks(s.db),
          tokens: createUnsubscribeTokens(parseMasterKey(randomBytes(32).toString('base64'))),
          publicUrl: s.config.publicUrl,
          cap: false,
        }),
      ],
    });
  });
  afterAll(() => email?.close());

  /** A queued email and its outbox row left by an attempt that died (state sending, lease over). */
  async function crashed(committed: boolean): Promise<string> {
    const id = randomUUID();
    await asOwner(s.engine, async (q) => {
      await q.query(
        `INSERT INTO app.contact_emails (id, business_id, contact_id, sender_id, sent_by, to_address, subject, body, status)
         VALUES ($1, $2, $3, $4, $5, 'ana@example.com', 'Crashed', 'body', 'sending')`,
        [id, bid, contactId, senderId, member.userId],
      );
      await q.query(
        `INSERT INTO app.outbox (id, business_id, channel, sender_id, created_by, state, attempts, first_attempt_at,
                                 lease_until, committed_at)
         VALUES ($1, $2, 'email', $3, $4, 'sending', 1, now() - interval '1 minute', now() - interval '1 second', $5)`,
        [id, bid, senderId, member.userId, committed ? new Date(Date.now() - 30_000) : null],
      );
    });
    return id;
  }
  const state = async (id: string) =>
    (
      await asOwner(s.engine, (q) =>
        q.query<{ state: string; error_code: string | null; status: string; reason: string | null }>(
          `SELECT o.state, o.error_code, e.status, e.reason FROM app.outbox o JOIN app.contact_emails e ON e.id = o.id
            WHERE o.id = $1`,
          [id],
        ),
      )
    ).rows[0]!;
  const receivedWithId = (id: string) => smtp.received.filter((m) => m.parsed.messageId?.startsWith(`<${id}@`));

  it('the request writes the outbox row in its own transaction, in the member’s name; delivery settles both', async () => {
    const res = await call(member, 'POST', `/contacts/${contactId}/emails`, { subject: 'Outbox', body: 'via outbox' });
    expect(res.status).toBe(202);
    const row = await asOwner(s.engine, (q) =>
      q.query('SELECT channel, sender_id, created_by, campaign_id FROM app.outbox WHERE id = $1', [res.json.id]),
    );
    expect(row.rows[0]).toEqual({
      channel: 'email',
      sender_id: senderId,
      created_by: member.userId,
      campaign_id: null,
    });
    await until(async () => ((await state(res.json.id)).state === 'sent' ? true : undefined));
    expect(await state(res.json.id)).toMatchObject({ state: 'sent', status: 'sent' });
    expect(receivedWithId(res.json.id)).toHaveLength(1);
  });

  it('an attempt that died before its point of no return sent nothing: the message is sent, once', async () => {
    const id = await crashed(false);
    expect(await delivery.deliver(bid, id)).toBe('sent');
    expect(await state(id)).toMatchObject({ state: 'sent', status: 'sent' });
    await new Promise((r) => setTimeout(r, 200));
    expect(receivedWithId(id)).toHaveLength(1);
    expect(await delivery.deliver(bid, id)).toBe('done'); // a second job is a no-op
  });

  it('an SMTP attempt that died after it is in doubt: failed for review, never resent', async () => {
    const id = await crashed(true);
    expect(await delivery.deliver(bid, id)).toBe('failed');
    const st = await state(id);
    expect(st).toMatchObject({ state: 'failed', error_code: 'outcome_unknown', status: 'failed' });
    expect(st.reason).toMatch(/outcome unknown/);
    await new Promise((r) => setTimeout(r, 200));
    expect(receivedWithId(id)).toHaveLength(0);
  });

  it('a stale attempt cannot pass the point of no return once another attempt owns the row', async () => {
    const id = await crashed(false);
    const marks = createCommitMarks(s.db);
    expect(await marks.mark(id, 1, 0)).toBe(false); // its lease is over
    await asOwner(s.engine, (q) =>
      q.query(`UPDATE app.outbox SET attempts = 2, lease_until = now() + interval '1 minute' WHERE id = $1`, [id]),
    );
    expect(await marks.mark(id, 1, 0)).toBe(false); // another attempt (2) owns it
    expect(await marks.mark(id, 2, 120_000)).toBe(false); // less lease left than the call may take
    expect(await marks.mark(id, 2, 1000)).toBe(true);
  });
});
