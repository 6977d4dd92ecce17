// Campaigns end to end on real protocols on loopback: an email campaign to a real SMTP
// server (headers, one-click unsubscribe, postal footer, multipart bodies parsed with
// mailparser), an SMS campaign to the Twilio fake; the review's exclusions; exactly one
// message per eligible recipient (also with a double-clicked start; two real nodes on one
// campaign: test/campaign-nodes.test.ts); hard bounces and unsubscribes suppress later
// sends; pause/resume/cancel; the timeline; and who may do what, over HTTP and in SQL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asOwner } from '../src/db/engine.ts';
import { inSmsWindow } from '../src/outreach/dispatcher.ts';
import { createUnsubscribeTokens } from '../src/outreach/unsubscribe.ts';
import { parseMasterKey } from '../src/vault/master-key.ts';
import { startSmtpFake, type SmtpFake } from './fakes/smtp.ts';
import { startTwilioFake, type FakeAccount, type FakeMessage, type TwilioFake } from './fakes/twilio.ts';
import { signUp, type SignedUpUser } from './support/auth.ts';
import { addMember, newBusiness } from './support/factories.ts';
import { request, type HttpResponse } from './support/http.ts';
import { seedAudience, waitForCampaign } from './support/outreach.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { probe, summarise } from './support/tenancy.ts';

const MASTER = Buffer.alloc(32, 9).toString('base64');
let s: TestServer;
let smtp: SmtpFake;
let twilio: TwilioFake;
let acct: FakeAccount;
let owner: SignedUpUser;
let admin: SignedUpUser;
let member: SignedUpUser;
let outsider: SignedUpUser;
let bid: string;
let bidB: string;
let senderId: string;
let twilioConfigId: string;
const NUMBER = '+15005550009';
/** When set and true for a message, the Twilio fake accepts it but cuts the connection instead of answering. */
let dropAnswer: ((m: FakeMessage) => boolean) | undefined;

const call = (user: SignedUpUser, method: string, path: string, body?: unknown, business = bid) =>
  request(`${s.url}/api/businesses/${business}${path}`, { method, token: user.accessToken, body }) as Promise<
    HttpResponse<any>
  >;
/** A header as sent, unfolded (RFC 5322 §2.2.3), from the raw message. */
const rawHeader = (raw: string, name: string): string => {
  const head = raw.split(/\r?\n\r?\n/)[0]!.replace(/\r?\n[ \t]+/g, ' ');
  const line = head.split(/\r?\n/).find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  if (!line) throw new Error(`no ${name} header`);
  return line.slice(name.length + 1).trim();
};
const campaignUrl = (id: string) => `${s.url}/api/businesses/${bid}/campaigns/${id}`;

beforeAll(async () => {
  [smtp, twilio] = await Promise.all([
    startSmtpFake(),
    startTwilioFake({ onAccept: (m) => (dropAnswer?.(m) ? 'drop-response' : undefined) }),
  ]);
  acct = twilio.addAccount();
  s = await startTestServer({
    CAPTO_MASTER_KEY: MASTER,
    CAPTO_SCAN_ON_START: 'off',
    CAPTO_ALLOW_PRIVATE_HOSTS: 'on',
    TWILIO_API_BASE: twilio.url,
    CAPTO_SMS_QUIET_HOURS: 'off',
    CAPTO_CAMPAIGN_POLL_MS: '100',
  });
  const users = await Promise.all(Array.from({ length: 4 }, () => signUp(s, { verified: true })));
  [owner, admin, member, outsider] = users as [SignedUpUser, SignedUpUser, SignedUpUser, SignedUpUser];
  bid = (await newBusiness(s.engine, owner.userId, 'Keystone Mortgage')).id;
  await addMember(s.engine, bid, admin.userId, 'admin');
  await addMember(s.engine, bid, member.userId, 'member');
  bidB = (await newBusiness(s.engine, outsider.userId, 'Other Lending')).id;
  const sender = await call(admin, 'POST', '/integrations/email', {
    kind: 'smtp',
    host: '127.0.0.1',
    port: smtp.port,
    security: 'none',
    username: smtp.username,
    password: smtp.password,
    from_email: 'news@keystone.example',
    from_name: 'Keystone Mortgage',
    rate_per_second: 200,
  });
  expect(sender.status).toBe(201);
  senderId = sender.json.id;
  const cfg = await call(admin, 'POST', '/integrations/twilio', {
    friendly_name: 'Main',
    account_sid: acct.sid,
    auth_token: acct.authToken,
    phone_number: NUMBER,
  });
  expect(cfg.status).toBe(201);
  twilioConfigId = cfg.json.id;
  expect(
    (await call(admin, 'PATCH', `/integrations/twilio/${twilioConfigId}`, { messages_per_second: 50 })).status,
  ).toBe(200);
}, 120_000);
afterAll(async () => {
  await s?.stop();
  await Promise.all([smtp?.close(), twilio?.close()]);
});

async function emailTemplate(): Promise<string> {
  const t = await call(member, 'POST', '/templates', {
    name: 'Spring rates',
    channel: 'email',
    subject: 'Rates for {{ contact.first_name | default: "you" }}',
    body: 'Hi **{{ contact.first_name }}**,\n\nRates dropped. <b>not bold</b>\n\n{{ business.name }}',
  });
  expect(t.status).toBe(201);
  return t.json.id;
}

describe('email campaign', () => {
  let listId: string;
  let contactIds: string[];
  let campaignId: string;
  let templateId: string;

  it('needs the postal address at creation (CAN-SPAM)', async () => {
    templateId = await emailTemplate();
    ({ listId, contactIds } = await seedAudience(s.engine, bid, owner.userId, 24, 'e'));
    const res = await call(member, 'POST', '/campaigns', {
      name: 'Spring',
      channel: 'email',
      list_id: listId,
      template_id: templateId,
    });
    expect(res.status).toBe(409);
    expect(res.json.error.code).toBe('postal_address_required');
    expect((await call(admin, 'PATCH', '', { postal_address: '1 Main St, Springfield, IL 62701' })).status).toBe(200);
  });

  it('a member drafts and reviews; the review shows the audience after exclusions', async () => {
    // Exclusions: no email, do-not-contact, unsubscribed earlier, hard-bounced earlier.
    await asOwner(s.engine, async (c) => {
      await c.query('UPDATE app.contacts SET email = NULL WHERE id = $1', [contactIds[0]]);
      await c.query(`UPDATE app.contacts SET status = 'do_not_contact' WHERE id = $1`, [contactIds[1]]);
      await c.query(
        `INSERT INTO app.email_suppressions (business_id, email, reason) VALUES ($1, 'camp-e-3@example.com', 'unsubscribed'),
           ($1, 'camp-e-4@example.com', 'hard_bounce')`,
        [bid],
      );
    });
    const res = await call(member, 'POST', '/campaigns', {
      name: 'Spring',
      channel: 'email',
      list_id: listId,
      template_id: templateId,
      sender_id: senderId,
    });
    expect(res.status).toBe(201);
    campaignId = res.json.id;
    expect(res.json).toMatchObject({ status: 'draft', channel: 'email', sender_id: senderId });
    const review = await call(member, 'GET', `/campaigns/${campaignId}/review`);
    expect(review.status).toBe(200);
    expect(review.json).toMatchObject({
      list_members: 24,
      eligible: 20,
      excluded: { no_address: 1, do_not_contact: 1, unsubscribed: 1, suppressed: 1, opted_out: 0 },
    });
  });

  it('a member cannot send it; a double-clicked start by an admin sends once', async () => {
    const m = await call(member, 'POST', `/campaigns/${campaignId}/start`);
    expect(m.status).toBe(403);
    smtp.rejectRecipient = (to) => to === 'camp-e-5@example.com';
    const [a, b] = await Promise.all([
      call(admin, 'POST', `/campaigns/${campaignId}/start`),
      call(admin, 'POST', `/campaigns/${campaignId}/start`),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 409]);
    expect([a, b].find((r) => r.status === 409)!.json.error.code).toBe('invalid_transition');
    const done = await waitForCampaign(campaignUrl(campaignId), admin.accessToken);
    expect(done.counts).toEqual({ total: 24, eligible: 20, queued: 0, sent: 19, delivered: 0, failed: 1, skipped: 4 });
    const rows = await asOwner(s.engine, (c) =>
      c.query<{ n: string }>('SELECT count(*) AS n FROM app.campaign_recipients WHERE campaign_id = $1', [campaignId]),
    );
    expect(Number(rows.rows[0]!.n)).toBe(24);
  });

  it('each eligible recipient got exactly one message, with unsubscribe headers, the footer and both parts', async () => {
    const mine = smtp.received.filter((m) => m.parsed.headers.get('x-capto-campaign') === campaignId);
    const to = mine.map((m) => m.envelopeTo[0]);
    expect(to.length).toBe(19);
    expect(new Set(to).size).toBe(19);
    for (const excluded of ['camp-e-1', 'camp-e-2', 'camp-e-3', 'camp-e-4', 'camp-e-5'])
      expect(to).not.toContain(`${excluded}@example.com`);
    const m = mine.find((x) => x.envelopeTo[0] === 'camp-e-7@example.com')!;
    expect(m.parsed.subject).toBe('Rates for First7');
    expect(m.parsed.from?.value[0]).toMatchObject({ address: 'news@keystone.example', name: 'Keystone Mortgage' });
    const unsub = rawHeader(m.raw, 'List-Unsubscribe');
    expect(unsub).toMatch(new RegExp(`^<${s.url.replace(/[.]/g, '\\.')}/u/[A-Za-z0-9_-]+\\.\\d+\\.[A-Za-z0-9_-]+>$`));
    expect(rawHeader(m.raw, 'List-Unsubscribe-Post')).toBe('List-Unsubscribe=One-Click');
    expect(m.parsed.text).toContain('Hi **First7**');
    expect(m.parsed.text).toContain('1 Main St, Springfield, IL 62701');
    expect(m.parsed.text).toContain(unsub.slice(1, -1));
    expect(m.parsed.html).toContain('<strong>First7</strong>');
    expect(m.parsed.html).toContain('&lt;b&gt;not bold&lt;/b&gt;');
    expect(m.parsed.html).toContain('1 Main St, Springfield, IL 62701');
    expect(m.parsed.html).toContain(`href="${unsub.slice(1, -1)}"`);
  });

  it('the hard bounce is failed with the reason and suppressed for every later send', async () => {
    const failed = await call(member, 'GET', `/campaigns/${campaignId}/recipients?status=failed`);
    expect(failed.json.items).toHaveLength(1);
    expect(failed.json.items[0]).toMatchObject({ address: 'camp-e-5@example.com', status: 'failed' });
    expect(failed.json.items[0].reason).toMatch(/550/);
    const skipped = await call(member, 'GET', `/campaigns/${campaignId}/recipients?status=skipped`);
    expect(skipped.json.items.map((r: { reason: string }) => r.reason).sort()).toEqual([
      'do_not_contact',
      'no_address',
      'suppressed',
      'unsubscribed',
    ]);
    const sup = await asOwner(s.engine, (c) =>
      c.query(`SELECT reason FROM app.email_suppressions WHERE business_id = $1 AND email = 'camp-e-5@example.com'`, [
        bid,
      ]),
    );
    expect(sup.rows).toEqual([{ reason: 'hard_bounce' }]);
    smtp.rejectRecipient = () => false;
  });

  it('one-click unsubscribe: GET shows a form and changes nothing; POST suppresses; later campaigns skip them', async () => {
    const m = smtp.received.find(
      (x) => x.parsed.headers.get('x-capto-campaign') === campaignId && x.envelopeTo[0] === 'camp-e-8@example.com',
    )!;
    const link = rawHeader(m.raw, 'List-Unsubscribe').slice(1, -1);
    const page = await request(link);
    expect(page.status).toBe(200);
    expect(page.text).toContain('<form method="post"');
    const before = await asOwner(s.engine, (c) =>
      c.query(`SELECT 1 FROM app.email_suppressions WHERE email = 'camp-e-8@example.com'`),
    );
    expect(before.rowCount).toBe(0);
    // A mail client's one-click POST, multipart as RFC 8058 §3.2 recommends.
    const boundary = 'capto-test-boundary';
    const oneClick = await request(link, {
      method: 'POST',
      raw: `--${boundary}\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\nOne-Click\r\n--${boundary}--\r\n`,
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
    });
    expect(oneClick.status).toBe(200);
    expect(oneClick.text).toContain('unsubscribed');
    const after = await asOwner(s.engine, (c) =>
      c.query(`SELECT reason FROM app.email_suppressions WHERE email = 'camp-e-8@example.com'`),
    );
    expect(after.rows).toEqual([{ reason: 'unsubscribed' }]);
    // The urlencoded form (our own page's) works too, and a second POST changes nothing.
    const post = await request(link, {
      method: 'POST',
      raw: 'List-Unsubscribe=One-Click',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(post.status).toBe(200);
    expect(post.text).toContain('unsubscribed');
    // A forged or altered token is a 404 and records nothing.
    // (a middle character: the last one of a base64url block carries padding bits)
    const at = link.length - 5;
    const forged = link.slice(0, at) + (link[at] === 'A' ? 'B' : 'A') + link.slice(at + 1);
    expect(
      (
        await request(forged, {
          method: 'POST',
          raw: 'List-Unsubscribe=One-Click',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        })
      ).status,
    ).toBe(404);
    expect((await request(`${s.url}/u/not-a-token`)).status).toBe(404);

    const again = await call(member, 'POST', '/campaigns', {
      name: 'Summer',
      channel: 'email',
      list_id: listId,
      template_id: templateId,
    });
    const review = await call(member, 'GET', `/campaigns/${again.json.id}/review`);
    expect(review.json).toMatchObject({ eligible: 18, excluded: { unsubscribed: 2, suppressed: 2 } });
  });

  it('each send is on the contact’s timeline', async () => {
    const t = await call(member, 'GET', `/contacts/${contactIds[6]}/timeline`);
    expect(t.status).toBe(200);
    const item = t.json.items.find((i: { kind: string }) => i.kind === 'campaign_message');
    expect(item).toMatchObject({
      kind: 'campaign_message',
      data: { campaign_id: campaignId, status: 'sent', channel: 'email' },
    });
  });

  it('an unsubscribe link stops the address that was mailed, also after the contact’s address changed or was removed', async () => {
    const linkTo = (to: string) =>
      rawHeader(
        smtp.received.find((x) => x.parsed.headers.get('x-capto-campaign') === campaignId && x.envelopeTo[0] === to)!
          .raw,
        'List-Unsubscribe',
      ).slice(1, -1);
    const oneClick = (link: string) =>
      request(link, {
        method: 'POST',
        raw: 'List-Unsubscribe=One-Click',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
    const suppressed = async (email: string) =>
      (
        await asOwner(s.engine, (c) =>
          c.query('SELECT 1 FROM app.email_suppressions WHERE business_id = $1 AND email = $2', [bid, email]),
        )
      ).rowCount;
    // Her address changed since the mail: the page names the mailed one, never the new one.
    const moved = linkTo('camp-e-9@example.com');
    expect(
      (await call(member, 'PATCH', `/contacts/${contactIds[8]}`, { email: 'new-private@example.com' })).status,
    ).toBe(200);
    const page = await request(moved);
    expect(page.status).toBe(200);
    expect(page.text).toContain('camp-e-9@example.com');
    expect(page.text).not.toContain('new-private');
    expect((await oneClick(moved)).status).toBe(200);
    expect(await suppressed('camp-e-9@example.com')).toBe(1);
    expect(await suppressed('new-private@example.com')).toBe(0);
    // Her address was removed: the link still unsubscribes the one that was mailed.
    const removed = linkTo('camp-e-10@example.com');
    expect((await call(member, 'PATCH', `/contacts/${contactIds[9]}`, { email: null })).status).toBe(200);
    const done = await oneClick(removed);
    expect(done.status).toBe(200);
    expect(done.text).toContain('camp-e-10@example.com');
    expect(await suppressed('camp-e-10@example.com')).toBe(1);
    // A link from before tokens named the address still works: it means her current one.
    const old = createUnsubscribeTokens(parseMasterKey(MASTER)).sign({
      businessId: bid,
      contactId: contactIds[10]!,
      channel: 'email',
    });
    const before = await request(`${s.url}/u/${old}`);
    expect(before.status).toBe(200);
    expect(before.text).toContain('camp-e-11@example.com');
  });

  it('a contact marked do-not-contact after the start is skipped when her turn comes', async () => {
    const { listId: later, contactIds: ids } = await seedAudience(s.engine, bid, owner.userId, 3, 'dnc');
    const c = await call(member, 'POST', '/campaigns', {
      name: 'Later',
      channel: 'email',
      list_id: later,
      template_id: templateId,
      send_at: new Date(Date.now() + 3_000).toISOString(),
    });
    expect(c.status).toBe(201);
    const review = await call(member, 'GET', `/campaigns/${c.json.id}/review`);
    expect(review.json).toMatchObject({ eligible: 3 });
    const started = await call(admin, 'POST', `/campaigns/${c.json.id}/start`);
    expect(started.json.status).toBe('scheduled');
    // She asks not to be contacted while the campaign waits for its time.
    expect((await call(member, 'PATCH', `/contacts/${ids[0]}`, { status: 'do_not_contact' })).status).toBe(200);
    const done = await waitForCampaign(campaignUrl(c.json.id), admin.accessToken);
    expect(done.counts).toMatchObject({ total: 3, sent: 2, skipped: 1, failed: 0 });
    const skipped = await call(member, 'GET', `/campaigns/${c.json.id}/recipients?status=skipped`);
    expect(skipped.json.items).toMatchObject([{ address: 'camp-dnc-1@example.com', reason: 'do_not_contact' }]);
    const to = smtp.received
      .filter((m) => m.parsed.headers.get('x-capto-campaign') === c.json.id)
      .map((m) => m.envelopeTo[0])
      .sort();
    expect(to).toEqual(['camp-dnc-2@example.com', 'camp-dnc-3@example.com']);
  });
});

describe('SMS campaign', () => {
  it('sends once per eligible number through the Twilio number, skipping STOPped contacts', async () => {
    const { listId, contactIds } = await seedAudience(s.engine, bid, owner.userId, 12, 's', 3_000_000);
    await asOwner(s.engine, (c) =>
      c.query(`INSERT INTO app.sms_opt_outs (business_id, contact_id, our_number) VALUES ($1, $2, $3)`, [
        bid,
        contactIds[0],
        NUMBER,
      ]),
    );
    const t = await call(member, 'POST', '/templates', {
      name: 'Text',
      channel: 'sms',
      body: 'Hi {{ contact.first_name }}, rates dropped. Reply STOP to opt out.',
    });
    const c = await call(member, 'POST', '/campaigns', {
      name: 'SMS spring',
      channel: 'sms',
      list_id: listId,
      template_id: t.json.id,
    });
    expect(c.status).toBe(201);
    const review = await call(admin, 'GET', `/campaigns/${c.json.id}/review`);
    expect(review.json).toMatchObject({ eligible: 11, excluded: { opted_out: 1 }, sender_id: twilioConfigId });
    const before = twilio.messages.length;
    expect((await call(admin, 'POST', `/campaigns/${c.json.id}/start`)).status).toBe(200);
    const done = await waitForCampaign(campaignUrl(c.json.id), admin.accessToken);
    expect(done.counts).toMatchObject({ total: 12, sent: 11, skipped: 1, failed: 0, queued: 0 });
    const sent = twilio.messages.slice(before);
    expect(sent).toHaveLength(11);
    expect(new Set(sent.map((m) => m.to)).size).toBe(11);
    expect(sent.every((m) => m.from === NUMBER && m.accountSid === acct.sid)).toBe(true);
    expect(sent.map((m) => m.to)).not.toContain('+15553000001');
    expect(sent.find((m) => m.to === '+15553000002')!.body).toBe('Hi First2, rates dropped. Reply STOP to opt out.');
    // Twilio's signed status callbacks move recipients to delivered / failed (with the reason).
    expect((await twilio.deliverStatus(sent[0]!.sid, 'delivered')).status).toBe(200);
    expect((await twilio.deliverStatus(sent[1]!.sid, 'undelivered', { ErrorCode: '30003' })).status).toBe(200);
    expect((await twilio.deliverStatus(sent[0]!.sid, 'sent')).status).toBe(200); // never backwards
    const after = (await call(admin, 'GET', `/campaigns/${c.json.id}`)).json;
    expect(after.counts).toMatchObject({ sent: 9, delivered: 1, failed: 1 });
    const failed = await call(admin, 'GET', `/campaigns/${c.json.id}/recipients?status=failed`);
    expect(failed.json.items[0].reason).toBe('Twilio undelivered (error 30003)');
  });

  it('a final status that overtakes the send’s own record still lands: the send is adopted, sent once', async () => {
    const { listId } = await seedAudience(s.engine, bid, owner.userId, 1, 'early', 4_000_000);
    const t = await call(member, 'POST', '/templates', {
      name: 'Early',
      channel: 'sms',
      body: 'Hi {{ contact.first_name }}, the early one. Reply STOP to opt out.',
    });
    const c = await call(member, 'POST', '/campaigns', {
      name: 'Early status',
      channel: 'sms',
      list_id: listId,
      template_id: t.json.id,
    });
    // Twilio accepts the text, its answer is lost, and the carrier's verdict arrives at once:
    // the sender cannot know the SID yet (it would wait out its lease, 120 s, to ask Twilio).
    let callback: Promise<{ status: number }> | undefined;
    dropAnswer = (m) => {
      if (!m.body.includes('the early one')) return false;
      dropAnswer = undefined;
      callback = new Promise((r) => setTimeout(r, 100)).then(() =>
        twilio.deliverStatus(m.sid, 'undelivered', { ErrorCode: '30003' }),
      );
      return true;
    };
    expect((await call(admin, 'POST', `/campaigns/${c.json.id}/start`)).status).toBe(200);
    const done = await waitForCampaign(campaignUrl(c.json.id), admin.accessToken, ['completed'], 30_000);
    expect((await callback!).status).toBe(200);
    expect(done.counts).toMatchObject({ total: 1, sent: 0, failed: 1, queued: 0 });
    const failed = await call(admin, 'GET', `/campaigns/${c.json.id}/recipients?status=failed`);
    expect(failed.json.items[0].reason).toBe('Twilio undelivered (error 30003)');
    expect(twilio.messages.filter((m) => m.body.includes('the early one'))).toHaveLength(1);
  });

  it('quiet hours: 8:00–21:00 in the business time zone', () => {
    const at = new Date('2026-06-01T12:30:00Z'); // 08:30 in New York, 05:30 in Los Angeles
    expect(inSmsWindow([8, 21], 'America/New_York', at)).toBe(true);
    expect(inSmsWindow([8, 21], 'America/Los_Angeles', at)).toBe(false);
    expect(inSmsWindow([8, 21], 'America/New_York', new Date('2026-06-02T01:00:00Z'))).toBe(false); // 21:00
    expect(inSmsWindow([8, 21], 'America/New_York', new Date('2026-06-02T00:59:00Z'))).toBe(true); // 20:59
    expect(inSmsWindow(null, 'America/Los_Angeles', at)).toBe(true);
  });
});

describe('pause, resume, cancel and roles', () => {
  let listId: string;
  let templateId: string;

  it('any member pauses; only owners/admins resume and cancel; counts stop while paused', async () => {
    templateId = await emailTemplate();
    ({ listId } = await seedAudience(s.engine, bid, owner.userId, 40, 'p'));
    // A slow sender (10/s) so the campaign is still sending when paused.
    const slow = await call(admin, 'PATCH', `/integrations/email/${senderId}`, { rate_per_second: 10 });
    expect(slow.status).toBe(200);
    const c = await call(member, 'POST', '/campaigns', {
      name: 'Slow',
      channel: 'email',
      list_id: listId,
      template_id: templateId,
    });
    expect((await call(admin, 'POST', `/campaigns/${c.json.id}/start`)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 700));
    const paused = await call(member, 'POST', `/campaigns/${c.json.id}/pause`);
    expect(paused.status).toBe(200);
    expect(paused.json.status).toBe('paused');
    // Rows claimed before the pause still go (a batch is about half a second of the sender's
    // rate, longer on a loaded machine); then nothing more: the count holds for 1.5 s, in which
    // an unpaused campaign at 10/s would have sent about 15.
    const sentNow = async () => (await call(member, 'GET', `/campaigns/${c.json.id}`)).json.counts.sent as number;
    let a = await sentNow();
    for (let i = 0; i < 20; i++) {
      await new Promise((r) => setTimeout(r, 500));
      const n = await sentNow();
      if (n === a) break;
      a = n;
    }
    await new Promise((r) => setTimeout(r, 1500));
    const b = await sentNow();
    expect(b).toBe(a);
    expect(a).toBeGreaterThan(0);
    expect(a).toBeLessThan(40);
    expect((await call(member, 'POST', `/campaigns/${c.json.id}/resume`)).status).toBe(403);
    expect((await call(member, 'POST', `/campaigns/${c.json.id}/cancel`)).status).toBe(403);
    expect((await call(outsider, 'POST', `/campaigns/${c.json.id}/pause`)).status).toBe(404);
    await call(admin, 'PATCH', `/integrations/email/${senderId}`, { rate_per_second: 200 });
    expect((await call(admin, 'POST', `/campaigns/${c.json.id}/resume`)).status).toBe(200);
    const done = await waitForCampaign(campaignUrl(c.json.id), admin.accessToken);
    expect(done.counts).toMatchObject({ total: 40, sent: 40 });
    expect((await call(admin, 'POST', `/campaigns/${c.json.id}/cancel`)).json.error.code).toBe('invalid_transition');
  });

  it('cancel: queued recipients are skipped with the reason, nothing more is sent', async () => {
    await call(admin, 'PATCH', `/integrations/email/${senderId}`, { rate_per_second: 5 });
    const c = await call(member, 'POST', '/campaigns', {
      name: 'Cancel me',
      channel: 'email',
      list_id: listId,
      template_id: templateId,
    });
    expect((await call(owner, 'POST', `/campaigns/${c.json.id}/start`)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 400));
    const cancelled = await call(owner, 'POST', `/campaigns/${c.json.id}/cancel`);
    expect(cancelled.status).toBe(200);
    await new Promise((r) => setTimeout(r, 1200));
    const after = (await call(member, 'GET', `/campaigns/${c.json.id}`)).json;
    expect(after.status).toBe('cancelled');
    expect(after.counts.queued).toBe(0);
    expect(after.counts.sent).toBeLessThan(40);
    expect(after.counts.sent + after.counts.skipped).toBe(40);
    await call(admin, 'PATCH', `/integrations/email/${senderId}`, { rate_per_second: 200 });
  });

  it('cross-business: another business sees nothing and cannot act', async () => {
    const list = await call(member, 'GET', '/campaigns');
    expect(list.status).toBe(200);
    const id = list.json.items[0].id;
    expect((await call(outsider, 'GET', `/campaigns/${id}`)).status).toBe(404);
    expect((await call(outsider, 'GET', `/campaigns`)).status).toBe(404);
    expect((await call(outsider, 'GET', `/campaigns/${id}`, undefined, bidB)).status).toBe(404);
    expect((await call(outsider, 'GET', `/campaigns/${id}/recipients`, undefined, bidB)).status).toBe(404);
    expect((await call(outsider, 'POST', `/campaigns/${id}/start`, undefined, bidB)).status).toBe(404);
    expect((await call(outsider, 'GET', `/campaigns`, undefined, bidB)).json.items).toEqual([]);
  });

  it('in SQL: members cannot start campaigns, write recipients or suppressions; admins can start (positive control)', async () => {
    const draft = await call(member, 'POST', '/campaigns', {
      name: 'SQL',
      channel: 'email',
      list_id: listId,
      template_id: templateId,
    });
    const id = draft.json.id;
    const start = `UPDATE app.campaigns SET status = 'sending', started_at = now() WHERE id = $1`;
    // Her own draft: the row is hers to edit, but not into 'sending' (WITH CHECK refuses).
    expect(summarise(await probe(s.db, member.userId, start, [id]))).toBe('denied');
    expect(summarise(await probe(s.db, outsider.userId, start, [id]))).toBe('none');
    expect(summarise(await probe(s.db, admin.userId, start, [id]))).toBe('ok');
    // The state machine holds for admins too.
    expect(
      summarise(await probe(s.db, admin.userId, `UPDATE app.campaigns SET status = 'completed' WHERE id = $1`, [id])),
    ).toBe('invalid_transition');
    const contact = (
      await asOwner(s.engine, (c) =>
        c.query<{ id: string }>('SELECT id FROM app.contacts WHERE business_id = $1 LIMIT 1', [bid]),
      )
    ).rows[0]!.id;
    const ins = `INSERT INTO app.campaign_recipients (business_id, campaign_id, contact_id, address, status) VALUES ($1, $2, $3, 'x@example.com', 'queued')`;
    expect(summarise(await probe(s.db, member.userId, ins, [bid, id, contact]))).toMatch(/denied/);
    expect(
      summarise(
        await probe(s.db, member.userId, `UPDATE app.campaign_recipients SET status = 'sent' WHERE business_id = $1`, [
          bid,
        ]),
      ),
    ).toBe('denied');
    expect(
      summarise(
        await probe(
          s.db,
          owner.userId,
          `INSERT INTO app.email_suppressions (business_id, email, reason) VALUES ($1, 'z@example.com', 'unsubscribed')`,
          [bid],
        ),
      ),
    ).toBe('denied');
    expect(
      summarise(await probe(s.db, owner.userId, `DELETE FROM app.email_suppressions WHERE business_id = $1`, [bid])),
    ).toBe('denied');
    expect(
      summarise(await probe(s.db, member.userId, 'SELECT 1 FROM app.email_suppressions WHERE business_id = $1', [bid])),
    ).toBe('ok');
    expect(
      summarise(
        await probe(s.db, outsider.userId, 'SELECT 1 FROM app.email_suppressions WHERE business_id = $1', [bid]),
      ),
    ).toBe('none');
    expect(
      summarise(
        await probe(s.db, member.userId, 'SELECT 1 FROM app.campaign_recipients WHERE business_id = $1', [bid]),
      ),
    ).toBe('ok');
    expect(
      summarise(
        await probe(s.db, outsider.userId, 'SELECT 1 FROM app.campaign_recipients WHERE business_id = $1', [bid]),
      ),
    ).toBe('none');
    expect(summarise(await probe(s.db, member.userId, 'SELECT 1 FROM app.send_throttles'))).toBe('denied');
  });
});
