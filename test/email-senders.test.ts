// Email senders against real protocols on loopback: a real SMTP server (smtp-server,
// AUTH checked, messages parsed with mailparser) and a Gmail API fake. Owners/admins
// only (service + database), every change audited, the password only in the vault and
// never in a response or log line, a stored password never redirected to another host.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asOwner } from '../src/db/engine.ts';
import { createGoogleConnection } from '../src/integrations/google/connection.ts';
import { createEmailDelivery, EmailDeliveryError } from '../src/integrations/email/deliver.ts';
import { addEmailSender, GMAIL_SEND_SCOPE } from '../src/integrations/email/senders.ts';
import { AppError } from '../src/shared/errors.ts';
import { parseMasterKey } from '../src/vault/master-key.ts';
import { createVault } from '../src/vault/secrets.ts';
import { startGmailFake, type GmailFake } from './fakes/gmail.ts';
import { startSmtpFake, type SmtpFake } from './fakes/smtp.ts';
import { signUp, type SignedUpUser } from './support/auth.ts';
import { startCapturingServer, type CapturingServer } from './support/capturing-server.ts';
import { addMember, newBusiness } from './support/factories.ts';
import { connectGoogleFixture } from './support/google.ts';
import { request, type HttpResponse } from './support/http.ts';
import { probe, summarise } from './support/tenancy.ts';

const MASTER = Buffer.alloc(32, 7).toString('base64');
let s: CapturingServer;
let smtp: SmtpFake;
let tlsSmtp: SmtpFake;
let gmail: GmailFake;
let owner: SignedUpUser;
let admin: SignedUpUser;
let member: SignedUpUser;
let otherAdmin: SignedUpUser; // admin of business B only
let bid: string;
let bidB: string;
const bodies: string[] = [];

async function api(user: SignedUpUser, method: string, path: string, body?: unknown): Promise<HttpResponse<any>> {
  const res = await request(
    `${s.url}/api/businesses/${path.startsWith('B:') ? bidB : bid}/integrations/email${path.replace(/^B:/, '')}`,
    {
      method,
      token: user.accessToken,
      body,
    },
  );
  bodies.push(`${res.status} ${res.text}`);
  return res;
}

const smtpBody = (over: Record<string, unknown> = {}) => ({
  kind: 'smtp',
  host: '127.0.0.1',
  port: smtp.port,
  security: 'none',
  username: smtp.username,
  password: smtp.password,
  from_email: 'Office@Keystone.example',
  from_name: 'Keystone Mortgage',
  ...over,
});

const auditActions = async (businessId: string) =>
  (
    await asOwner(s.engine, (c) =>
      c.query<{ action: string; details: Record<string, unknown> }>(
        'SELECT action, details FROM audit.integration_events WHERE business_id = $1 ORDER BY seq',
        [businessId],
      ),
    )
  ).rows;

beforeAll(async () => {
  [smtp, tlsSmtp, gmail] = await Promise.all([startSmtpFake(), startSmtpFake({ tls: 'implicit' }), startGmailFake()]);
  s = await startCapturingServer({
    CAPTO_MASTER_KEY: MASTER,
    CAPTO_ALLOW_PRIVATE_HOSTS: 'on',
    GOOGLE_API_BASE: gmail.url,
    CAPTO_SCAN_ON_START: 'off',
  });
  [owner, admin, member, otherAdmin] = await Promise.all([
    signUp(s, { verified: true }),
    signUp(s, { verified: true }),
    signUp(s, { verified: true }),
    signUp(s, { verified: true }),
  ]);
  bid = (await newBusiness(s.engine, owner.userId)).id;
  await addMember(s.engine, bid, admin.userId, 'admin');
  await addMember(s.engine, bid, member.userId, 'member');
  bidB = (await newBusiness(s.engine, otherAdmin.userId)).id;
}, 120_000);
afterAll(async () => {
  await s?.stop();
  await Promise.all([smtp?.close(), tlsSmtp?.close(), gmail?.close()]);
});

describe('SMTP senders', () => {
  let senderId: string;

  it('an admin adds one: the login is verified first, the password is sealed in the vault and never returned', async () => {
    const authsBefore = smtp.auths.length;
    const res = await api(admin, 'POST', '', smtpBody());
    expect(res.status).toBe(201);
    senderId = res.json.id;
    expect(res.json).toMatchObject({
      kind: 'smtp',
      host: '127.0.0.1',
      port: smtp.port,
      security: 'none',
      username: smtp.username,
      from_email: 'office@keystone.example',
      from_name: 'Keystone Mortgage',
      rate_per_second: 5,
      is_default: true,
    });
    expect(res.text).not.toContain(smtp.password);
    expect(smtp.auths.slice(authsBefore)).toEqual([{ username: smtp.username, ok: true }]);
    const stored = await asOwner(s.engine, (c) =>
      c.query<{ kind: string; ciphertext: Buffer }>(
        `SELECT v.kind, v.ciphertext FROM vault.secrets v JOIN app.email_senders e ON e.secret_id = v.id WHERE e.id = $1`,
        [senderId],
      ),
    );
    expect(stored.rows).toHaveLength(1);
    expect(stored.rows[0]!.kind).toBe('smtp.password');
    expect(stored.rows[0]!.ciphertext.toString('latin1')).not.toContain(smtp.password);
    const audit = await auditActions(bid);
    expect(audit.at(-1)).toMatchObject({
      action: 'email.sender.added',
      details: { kind: 'smtp', host: '127.0.0.1', from_email: 'office@keystone.example' },
    });
    expect(JSON.stringify(audit)).not.toContain(smtp.password);
  });

  it('a wrong password is 400 smtp_auth_failed and nothing is stored or audited', async () => {
    const before = (await auditActions(bid)).length;
    const res = await api(owner, 'POST', '', smtpBody({ password: 'wrong-password' }));
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('smtp_auth_failed');
    expect(res.text).not.toContain('wrong-password');
    expect((await auditActions(bid)).length).toBe(before);
  });

  it('tls to a server with an untrusted certificate, and starttls to one that offers none, are refused', async () => {
    const tls = await api(
      owner,
      'POST',
      '',
      smtpBody({ port: tlsSmtp.port, security: 'tls', password: tlsSmtp.password }),
    );
    expect(tls.status).toBe(400);
    expect(tls.json.error.code).toBe('smtp_connection_failed');
    expect(tlsSmtp.auths).toHaveLength(0); // the password never crossed the unverified connection
    const starttls = await api(owner, 'POST', '', smtpBody({ security: 'starttls' }));
    expect(starttls.status).toBe(400);
    expect(starttls.json.error.code).toBe('smtp_connection_failed');
  });

  it('without CAPTO_ALLOW_PRIVATE_HOSTS, loopback hosts and plaintext are refused before any connection', async () => {
    const deps = { db: s.db, vault: createVault(parseMasterKey(MASTER)), smtpPolicy: { allowPrivateHosts: false } };
    const connections = smtp.connections;
    for (const host of ['127.0.0.1', 'localhost', '::ffff:127.0.0.1', '10.0.0.1']) {
      const e = await addEmailSender(deps, { userId: owner.userId }, bid, {
        kind: 'smtp',
        host,
        port: smtp.port,
        security: 'tls',
        username: 'u',
        password: 'p',
        from_email: 'a@b.example',
        from_name: 'A',
      }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(AppError);
      expect((e as AppError).code).toBe('host_not_allowed');
    }
    // Plaintext even to a public address: refused (no connection is attempted to it).
    const plain = await addEmailSender(deps, { userId: owner.userId }, bid, {
      kind: 'smtp',
      host: '192.0.2.10'.replace('192.0.2.10', '8.8.8.8'),
      port: 25,
      security: 'none',
      username: 'u',
      password: 'p',
      from_email: 'a@b.example',
      from_name: 'A',
    }).catch((x: unknown) => x);
    expect((plain as AppError).code).toBe('smtp_plaintext_refused');
    expect(smtp.connections).toBe(connections);
  });

  it('a member gets 403 and an outsider 404, and neither causes an SMTP connection', async () => {
    const connections = smtp.connections;
    const m = await api(member, 'POST', '', smtpBody());
    expect(m.status).toBe(403);
    const o = await api(otherAdmin, 'POST', '', smtpBody());
    expect(o.status).toBe(404);
    expect(smtp.connections).toBe(connections);
    // Members may read the list (no password in it); the outsider may not.
    const list = await api(member, 'GET', '');
    expect(list.status).toBe(200);
    expect(list.json.items.map((i: { id: string }) => i.id)).toContain(senderId);
    expect((await api(otherAdmin, 'GET', '')).status).toBe(404);
    // …and the admin of B sees B's (empty) list, not A's.
    const b = await api(otherAdmin, 'GET', 'B:');
    expect(b.status).toBe(200);
    expect(b.json.items).toEqual([]);
  });

  it('changing host, port, security or username needs the password again; other fields do not', async () => {
    for (const change of [
      { host: 'localhost' },
      { port: smtp.port + 1 },
      { username: 'someone-else' },
      { security: 'starttls' },
    ]) {
      const res = await api(admin, 'PATCH', `/${senderId}`, change);
      expect(res.status).toBe(400);
      expect(res.json.error.code).toBe('password_required');
    }
    const name = await api(admin, 'PATCH', `/${senderId}`, { from_name: 'Keystone Team', rate_per_second: 20 });
    expect(name.status).toBe(200);
    expect(name.json).toMatchObject({ from_name: 'Keystone Team', rate_per_second: 20, host: '127.0.0.1' });
    const authsBefore = smtp.auths.length;
    const moved = await api(admin, 'PATCH', `/${senderId}`, { host: 'localhost', password: smtp.password });
    expect(moved.status).toBe(200);
    expect(moved.json.host).toBe('localhost');
    expect(smtp.auths.slice(authsBefore)).toEqual([{ username: smtp.username, ok: true }]);
    const wrong = await api(admin, 'PATCH', `/${senderId}`, { host: '127.0.0.1', password: 'nope' });
    expect(wrong.status).toBe(400);
    expect(wrong.json.error.code).toBe('smtp_auth_failed');
    const audit = await auditActions(bid);
    expect(audit.filter((a) => a.action === 'email.sender.updated').map((a) => a.details.changed)).toEqual([
      ['from_name', 'rate_per_second'],
      ['host', 'password'],
    ]);
    expect((await api(member, 'PATCH', `/${senderId}`, { from_name: 'Mine now' })).status).toBe(403);
  });

  it('default and removal: a second sender is not default until set; removing the default promotes the oldest', async () => {
    const second = await api(owner, 'POST', '', smtpBody({ from_email: 'loans@keystone.example', from_name: 'Loans' }));
    expect(second.status).toBe(201);
    expect(second.json.is_default).toBe(false);
    expect((await api(member, 'POST', `/${second.json.id}/default`)).status).toBe(403);
    const set = await api(owner, 'POST', `/${second.json.id}/default`);
    expect(set.status).toBe(200);
    expect(set.json.is_default).toBe(true);
    expect((await api(member, 'DELETE', `/${second.json.id}`)).status).toBe(403);
    expect((await api(otherAdmin, 'DELETE', `/${second.json.id}`)).status).toBe(404);
    const del = await api(owner, 'DELETE', `/${second.json.id}`);
    expect(del.status).toBe(204);
    const list = await api(owner, 'GET', '');
    expect(list.json.items).toHaveLength(1);
    expect(list.json.items[0]).toMatchObject({ id: senderId, is_default: true });
    const actions = (await auditActions(bid)).map((a) => a.action);
    expect(actions.slice(-4)).toEqual([
      'email.sender.added',
      'email.sender.default_set',
      'email.sender.removed',
      'email.sender.default_set',
    ]);
    const orphaned = await asOwner(s.engine, (c) =>
      c.query(`SELECT 1 FROM vault.secrets WHERE business_id = $1 AND kind = 'smtp.password'`, [bid]),
    );
    expect(orphaned.rowCount).toBe(1); // only the remaining sender's
  });

  it('delivers a multipart message through the stored sender; a 550 is a permanent failure, a 451 temporary', async () => {
    const delivery = createEmailDelivery({
      db: s.db,
      vault: createVault(parseMasterKey(MASTER)),
      googleApiBase: gmail.url,
      smtpPolicy: { allowPrivateHosts: true },
      messageIdDomain: 'capto.test',
    });
    try {
      const n = smtp.received.length;
      await delivery.send(bid, senderId, {
        id: '11111111-1111-4111-8111-111111111111',
        to: 'borrower@example.com',
        subject: 'Your rate lock',
        text: 'Hello there',
        html: '<p>Hello there</p>',
        headers: { 'X-Capto-Test': 'yes' },
      });
      await smtp.waitFor(n + 1);
      const got = smtp.received[n]!;
      expect(got.envelopeTo).toEqual(['borrower@example.com']);
      expect(got.parsed.from?.value[0]).toMatchObject({ address: 'office@keystone.example', name: 'Keystone Team' });
      expect(got.parsed.subject).toBe('Your rate lock');
      expect(got.parsed.text?.trim()).toBe('Hello there');
      expect(got.parsed.html).toContain('<p>Hello there</p>');
      expect(got.parsed.messageId).toBe('<11111111-1111-4111-8111-111111111111@capto.test>');
      expect(got.parsed.headers.get('x-capto-test')).toBe('yes');

      smtp.rejectRecipient = (to) => to.startsWith('gone');
      smtp.deferRecipient = (to) => to.startsWith('later');
      const hard = await delivery
        .send(bid, senderId, {
          id: '22222222-2222-4222-8222-222222222222',
          to: 'gone@example.com',
          subject: 's',
          text: 't',
        })
        .catch((e: unknown) => e);
      expect(hard).toBeInstanceOf(EmailDeliveryError);
      expect(hard).toMatchObject({ permanent: true, code: 'smtp_550' });
      const soft = await delivery
        .send(bid, senderId, {
          id: '33333333-3333-4333-8333-333333333333',
          to: 'later@example.com',
          subject: 's',
          text: 't',
        })
        .catch((e: unknown) => e);
      expect(soft).toMatchObject({ permanent: false, code: 'smtp_451' });

      // The point of no return (docs/ARCHITECTURE.md §24 "Email"): `beforeEnd` runs once the
      // server took DATA and the whole message, before the dot. Refused → nothing delivered.
      const calls: string[] = [];
      const before = smtp.received.length;
      const fenced = await delivery
        .send(
          bid,
          senderId,
          { id: '77777777-7777-4777-8777-777777777777', to: 'fenced@example.com', subject: 's', text: 'fenced' },
          { beforeEnd: async () => (calls.push('fenced'), false) },
        )
        .catch((e: unknown) => e);
      expect(fenced).toMatchObject({ code: 'fenced', unknown: false });
      // A recipient refused at RCPT never reaches the point of no return.
      const refused = await delivery
        .send(
          bid,
          senderId,
          { id: '88888888-8888-4888-8888-888888888888', to: 'gone2@example.com', subject: 's', text: 't' },
          { beforeEnd: async () => (calls.push('refused'), true) },
        )
        .catch((e: unknown) => e);
      expect(refused).toMatchObject({ permanent: true, code: 'smtp_550' });
      await delivery.send(
        bid,
        senderId,
        { id: '99999999-9999-4999-8999-999999999999', to: 'ok@example.com', subject: 's', text: 'gated' },
        { beforeEnd: async () => (calls.push('ok'), true) },
      );
      await smtp.waitFor(before + 1);
      await new Promise((r) => setTimeout(r, 200));
      expect(calls).toEqual(['fenced', 'ok']);
      expect(smtp.received.slice(before).map((m) => m.envelopeTo[0])).toEqual(['ok@example.com']);
      expect(smtp.received.at(-1)!.parsed.text?.trim()).toBe('gated');
    } finally {
      smtp.rejectRecipient = () => false;
      smtp.deferRecipient = () => false;
      delivery.close();
    }
  });
});

describe('SMTP delivery under concurrency', () => {
  // The first sends of a campaign arrive together (workers × batch). Each used to read the
  // sender itself — 200 transactions at once, which under load timed out waiting for a
  // database connection and left claimed campaign rows `sending` with nothing working on
  // them until their lease ended — and, when building the transport had to wait (a host
  // name to resolve), each built a pool of its own.
  type Db = typeof s.db;
  const counting = (db: Db, fail: { loads: number } = { loads: 0 }) => {
    const loads = { n: 0 };
    const wrapped: Db = {
      ...db,
      asService: (reason, fn) => {
        if (reason !== 'email.deliver.sender') return db.asService(reason, fn);
        loads.n++;
        if (fail.loads > 0) {
          fail.loads--;
          return Promise.reject(new AppError('database_unavailable', 'the database is unavailable; try again shortly'));
        }
        return db.asService(reason, fn);
      },
    };
    return { db: wrapped, loads };
  };
  const bulk = (i: number, text = `bulk ${i}`) => ({
    id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    to: `bulk-${i}@example.com`,
    subject: 's',
    text,
  });
  let bulkSender: string;

  it('many concurrent first sends read the sender once and share one pool of at most 8 connections; each message arrives once', async () => {
    // A host name, so that building the transport waits for DNS while the other sends arrive.
    const created = await api(admin, 'POST', '', smtpBody({ host: 'localhost', from_email: 'bulk@keystone.example' }));
    expect(created.status).toBe(201);
    bulkSender = created.json.id;
    const { db, loads } = counting(s.db);
    const delivery = createEmailDelivery({
      db,
      vault: createVault(parseMasterKey(MASTER)),
      googleApiBase: gmail.url,
      smtpPolicy: { allowPrivateHosts: true },
      messageIdDomain: 'capto.test',
    });
    const N = 200;
    const before = smtp.received.length;
    const connectionsBefore = smtp.connections;
    try {
      const settled = new Set<number>();
      const outcomes = Promise.allSettled(
        Array.from({ length: N }, (_, i) =>
          delivery
            // A group commit a few ms away, like the outbox's marks.
            .send(bid, bulkSender, bulk(i), {
              beforeEnd: () => new Promise((r) => setTimeout(() => r(true), 2 + (i % 7))),
            })
            .finally(() => settled.add(i)),
        ),
      );
      const done = await Promise.race([
        outcomes,
        new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 60_000)),
      ]);
      expect(Array.from({ length: N }, (_, i) => i).filter((i) => !settled.has(i))).toEqual([]);
      expect(done).not.toBe('timeout');
      const failed = (done as PromiseSettledResult<unknown>[]).filter((r) => r.status === 'rejected');
      expect(failed.map((f) => String((f as PromiseRejectedResult).reason))).toEqual([]);
      await smtp.waitFor(before + N);
      const got = smtp.received.slice(before).map((m) => m.envelopeTo[0]);
      expect(got).toHaveLength(N);
      expect(new Set(got).size).toBe(N);
      expect(loads.n).toBe(1);
      expect(smtp.connections - connectionsBefore).toBeGreaterThan(0);
      expect(smtp.connections - connectionsBefore).toBeLessThanOrEqual(8);
    } finally {
      delivery.close();
    }
  }, 120_000);

  it('a sender that cannot be read (our database) fails its sends as certainly not sent, and the next send reads it again', async () => {
    const fail = { loads: 1 };
    const { db, loads } = counting(s.db, fail);
    const delivery = createEmailDelivery({
      db,
      vault: createVault(parseMasterKey(MASTER)),
      googleApiBase: gmail.url,
      smtpPolicy: { allowPrivateHosts: true },
      messageIdDomain: 'capto.test',
    });
    const before = smtp.received.length;
    try {
      const first = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) => delivery.send(bid, bulkSender, bulk(300 + i))),
      );
      for (const r of first) {
        expect(r.status).toBe('rejected');
        const e = (r as PromiseRejectedResult).reason as EmailDeliveryError;
        expect(e).toBeInstanceOf(EmailDeliveryError);
        expect(e).toMatchObject({ code: 'sender_unavailable', permanent: false, unknown: false, local: true });
      }
      expect(loads.n).toBe(1);
      await delivery.send(bid, bulkSender, bulk(310));
      expect(loads.n).toBe(2);
      await smtp.waitFor(before + 1);
      expect(smtp.received.slice(before).map((m) => m.envelopeTo[0])).toEqual(['bulk-310@example.com']);
    } finally {
      delivery.close();
    }
  });

  it('a changed sender gets a new pool and the old one is closed; a mark that fails is certainly not sent', async () => {
    const delivery = createEmailDelivery({
      db: s.db,
      vault: createVault(parseMasterKey(MASTER)),
      googleApiBase: gmail.url,
      smtpPolicy: { allowPrivateHosts: true },
      messageIdDomain: 'capto.test',
      senderTtlMs: 100,
    });
    const openBefore = smtp.open;
    const before = smtp.received.length;
    try {
      await Promise.all(Array.from({ length: 20 }, (_, i) => delivery.send(bid, bulkSender, bulk(400 + i))));
      const firstPool = smtp.open - openBefore;
      expect(firstPool).toBeGreaterThan(0);
      expect(firstPool).toBeLessThanOrEqual(8);
      const renamed = await api(admin, 'PATCH', `/${bulkSender}`, { from_name: 'Bulk Renamed' });
      expect(renamed.status).toBe(200);
      await new Promise((r) => setTimeout(r, 150));
      await Promise.all(Array.from({ length: 20 }, (_, i) => delivery.send(bid, bulkSender, bulk(420 + i))));
      await smtp.waitFor(before + 40);
      const from = smtp.received.slice(before).map((m) => m.parsed.from?.value[0]?.name);
      expect(from.slice(0, 20).every((n) => n === 'Keystone Mortgage')).toBe(true);
      expect(from.slice(20).every((n) => n === 'Bulk Renamed')).toBe(true);
      // The first pool's connections were closed once the new one took over.
      for (let i = 0; i < 50 && smtp.open - openBefore > 8; i++) await new Promise((r) => setTimeout(r, 100));
      expect(smtp.open - openBefore).toBeLessThanOrEqual(8);

      const markFailed = await delivery
        .send(bid, bulkSender, bulk(440), { beforeEnd: () => Promise.reject(new Error('connection terminated')) })
        .catch((e: unknown) => e);
      expect(markFailed).toMatchObject({ code: 'mark_failed', permanent: false, unknown: false, local: true });
      await new Promise((r) => setTimeout(r, 200));
      expect(smtp.received.slice(before)).toHaveLength(40);
    } finally {
      delivery.close();
    }
    for (let i = 0; i < 50 && smtp.open > openBefore; i++) await new Promise((r) => setTimeout(r, 100));
    expect(smtp.open).toBeLessThanOrEqual(openBefore);
  });
});

describe('Gmail senders', () => {
  it('needs a Google connection with gmail.send; then sends as the connected account through the Gmail API', async () => {
    const none = await api(owner, 'POST', '', { kind: 'gmail', from_name: 'Dana at Keystone' });
    expect(none.status).toBe(409);
    expect(none.json.error.code).toBe('google_not_connected');

    const vault = createVault(parseMasterKey(MASTER));
    const token = `ya29.test-${Date.now()}`;
    gmail.acceptedTokens.add(token);
    await connectGoogleFixture(s.db, vault, {
      businessId: bid,
      actorUserId: owner.userId,
      email: 'Dana@Keystone.example',
      accessToken: token,
      scopes: ['openid', 'email', GMAIL_SEND_SCOPE],
    });
    expect((await api(member, 'POST', '', { kind: 'gmail', from_name: 'Dana' })).status).toBe(403);
    const res = await api(owner, 'POST', '', { kind: 'gmail', from_name: 'Dana at Keystone' });
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({ kind: 'gmail', from_email: 'dana@keystone.example', host: null, username: null });
    // A Gmail sender has no SMTP settings to change.
    const bad = await api(owner, 'PATCH', `/${res.json.id}`, { host: 'smtp.example.com', password: 'x' });
    expect(bad.status).toBe(400);

    const delivery = createEmailDelivery({
      db: s.db,
      vault,
      google: createGoogleConnection({ config: s.config, db: s.db, vault }),
      googleApiBase: s.config.google.apiBase,
      smtpPolicy: { allowPrivateHosts: true },
      messageIdDomain: 'capto.test',
    });
    try {
      const out = await delivery.send(bid, res.json.id, {
        id: '44444444-4444-4444-8444-444444444444',
        to: 'client@example.org',
        subject: 'Documents',
        text: 'Please upload your W-2.',
        html: '<p>Please upload your W-2.</p>',
      });
      expect(out.providerId).toBe(`gmail:${gmail.sent.at(-1)!.id}`);
      // A lost answer is `unknown`; the mailbox search by Message-ID finds what was sent.
      expect(await delivery.findSent(bid, res.json.id, '44444444-4444-4444-8444-444444444444', 5000)).toBe(
        out.providerId,
      );
      expect(await delivery.findSent(bid, res.json.id, '12121212-1212-4212-8212-121212121212', 5000)).toBeUndefined();
      gmail.loseAnswerNext = true;
      await expect(
        delivery.send(bid, res.json.id, {
          id: '13131313-1313-4313-8313-131313131313',
          to: 'lost@example.org',
          subject: 's',
          text: 't',
        }),
      ).rejects.toMatchObject({ unknown: true });
      expect(await delivery.findSent(bid, res.json.id, '13131313-1313-4313-8313-131313131313', 5000)).toBe(
        `gmail:${gmail.sent.at(-1)!.id}`,
      );
      const sent = gmail.sent.find((m) => `gmail:${m.id}` === out.providerId)!;
      expect(sent.token).toBe(token);
      expect(sent.parsed.to).toMatchObject({ value: [{ address: 'client@example.org' }] });
      expect(sent.parsed.from?.value[0]).toMatchObject({ address: 'dana@keystone.example', name: 'Dana at Keystone' });
      expect(sent.parsed.text?.trim()).toBe('Please upload your W-2.');
      gmail.failNext = 400;
      await expect(
        delivery.send(bid, res.json.id, {
          id: '55555555-5555-4555-8555-555555555555',
          to: 'x@example.org',
          subject: 's',
          text: 't',
        }),
      ).rejects.toMatchObject({ permanent: true, code: 'gmail_400' });
      gmail.failNext = 503;
      await expect(
        delivery.send(bid, res.json.id, {
          id: '66666666-6666-4666-8666-666666666666',
          to: 'x@example.org',
          subject: 's',
          text: 't',
        }),
      ).rejects.toMatchObject({ permanent: false, code: 'gmail_503' });
    } finally {
      delivery.close();
    }
  });
});

describe('in the database', () => {
  it('request roles cannot write senders or read their secret reference; members read the rest', async () => {
    expect(
      summarise(
        await probe(s.db, member.userId, 'SELECT id, host FROM app.email_senders WHERE business_id = $1', [bid]),
      ),
    ).toBe('ok');
    expect(
      summarise(await probe(s.db, otherAdmin.userId, 'SELECT id FROM app.email_senders WHERE business_id = $1', [bid])),
    ).toBe('none');
    expect(summarise(await probe(s.db, owner.userId, 'SELECT secret_id FROM app.email_senders'))).toBe('denied');
    expect(
      summarise(
        await probe(s.db, owner.userId, `UPDATE app.email_senders SET host = 'evil.example' WHERE business_id = $1`, [
          bid,
        ]),
      ),
    ).toBe('denied');
    expect(
      summarise(await probe(s.db, owner.userId, `DELETE FROM app.email_senders WHERE business_id = $1`, [bid])),
    ).toBe('denied');
  });

  it('even the service role cannot change a sender without an audit row by an owner/admin in the same transaction', async () => {
    const err = await s.db
      .asService('test.unaudited', (tx) =>
        tx.query(`UPDATE app.email_senders SET host = 'evil.example' WHERE business_id = $1 AND kind = 'smtp'`, [bid]),
      )
      .catch((e: { code?: string }) => e);
    // 42501 from the trigger, surfaced by the database layer as 403 forbidden.
    expect(['42501', 'forbidden']).toContain((err as { code?: string }).code);
    expect(String((err as { cause?: { message?: string } }).cause?.message ?? (err as Error).message)).toMatch(
      /audit row|permission/,
    );
    const host = await asOwner(s.engine, (c) =>
      c.query<{ host: string }>(`SELECT host FROM app.email_senders WHERE business_id = $1 AND kind = 'smtp'`, [bid]),
    );
    expect(host.rows[0]!.host).toBe('localhost');
  });

  it('no response or log line carried an SMTP password', () => {
    const everything = [...bodies, ...s.logLines].join('\n');
    expect(everything).not.toContain(smtp.password);
    expect(everything).not.toContain(tlsSmtp.password);
  });
});
