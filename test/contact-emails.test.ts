// 1:1 email from a contact: 202 queued, delivered once through the chosen sender to a
// real SMTP server (text + safe HTML), on the contact's timeline with its status;
// suppressed addresses refused; members send, outsiders cannot; in SQL nobody queues in
// someone else's name or moves a message's status.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asOwner } from '../src/db/engine.ts';
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
