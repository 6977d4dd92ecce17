// Review requests (docs/ARCHITECTURE.md §26 "Review requests", migration 0123) on the engine
// under test, over HTTP against the Twilio fake, the SMTP fake and the Business Profile fake:
// the `business.review_link` merge field (Google's newReviewUri of the attached location) and its
// refusal without a location (gbp_location_missing: preview, campaign start, review request);
// a funded deal's borrower asked by text and by email exactly once at the fakes, not again
// within 180 days; opt-outs, suppressions, do-not-contact and quiet hours refused; a list asked
// as a campaign with the recently asked skipped; who may ask (HTTP and SQL, another business);
// and the scan's probe of the new table.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asOwner } from '../src/db/engine.ts';
import { requestReviews } from '../src/gbp/review-requests.ts';
import { scanEngine } from '../src/scan/index.ts';
import { parseMasterKey } from '../src/vault/master-key.ts';
import { createVault } from '../src/vault/secrets.ts';
import { BUSINESS_MANAGE, startGoogleBusinessFake, type GoogleBusinessFake } from './fakes/google-business.ts';
import { startSmtpFake, type SmtpFake } from './fakes/smtp.ts';
import { startTwilioFake, type TwilioFake } from './fakes/twilio.ts';
import { signUp, type SignedUpUser } from './support/auth.ts';
import { ENGINE } from './support/engine.ts';
import { addMember, newBusiness } from './support/factories.ts';
import { connectGoogleFixture } from './support/google.ts';
import { request, type HttpResponse } from './support/http.ts';
import { seedAudience, waitForCampaign } from './support/outreach.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { probe, summarise } from './support/tenancy.ts';

const MASTER = Buffer.alloc(32, 9).toString('base64');
const vault = createVault(parseMasterKey(MASTER));
const NUMBER = '+15005550019';
let s: TestServer;
let smtp: SmtpFake;
let twilio: TwilioFake;
let gbp: GoogleBusinessFake;
let owner: SignedUpUser, admin: SignedUpUser, member: SignedUpUser, member2: SignedUpUser, outsider: SignedUpUser;
let bid: string;
let bidB: string;
let place: ReturnType<GoogleBusinessFake['addAccountWithLocation']>;
let smsTemplate: string;
let emailTemplate: string;
let plainSms: string;
let otherSms: string;

const call = (user: SignedUpUser, method: string, path: string, body?: unknown, business = bid) =>
  request(`${s.url}/api/businesses/${business}${path}`, { method, token: user.accessToken, body }) as Promise<
    HttpResponse<any>
  >;
const ask = (user: SignedUpUser, body: Record<string, unknown>, business = bid) =>
  call(user, 'POST', '/gbp/review-requests', body, business);

let phones = 0;
async function fundedDeal(
  opts: { owner?: string; contactOwner?: string; stage?: string; email?: boolean; business?: string } = {},
): Promise<{ dealId: string; contactId: string; phone: string; email: string; name: string }> {
  const n = ++phones;
  const phone = `+1555${String(process.pid % 1000).padStart(3, '0')}${String(8000 + n).padStart(4, '0')}`;
  const email = `borrower-${n}-${ENGINE}@example.com`;
  return asOwner(s.engine, async (c) => {
    const contact = await c.query<{ id: string }>(
      `INSERT INTO app.contacts (business_id, first_name, last_name, phone, email, owner_id)
       VALUES ($1, 'Bo' || $2::text, 'Rower', $3, $4, $5) RETURNING id`,
      [opts.business ?? bid, n, phone, opts.email === false ? null : email, opts.contactOwner ?? null],
    );
    const deal = await c.query<{ id: string }>(
      `INSERT INTO app.deals (business_id, title, contact_id, stage, owner_id) VALUES ($1, 'Purchase', $2, $3, $4) RETURNING id`,
      [opts.business ?? bid, contact.rows[0]!.id, opts.stage ?? 'funded', opts.owner ?? null],
    );
    return { dealId: deal.rows[0]!.id, contactId: contact.rows[0]!.id, phone, email, name: `Bo${n}` };
  });
}

async function waitFor(what: () => boolean, label: string, timeoutMs = 30_000): Promise<void> {
  const t0 = Date.now();
  while (!what()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${label}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  [smtp, twilio, gbp] = await Promise.all([startSmtpFake(), startTwilioFake(), startGoogleBusinessFake()]);
  const acct = twilio.addAccount();
  s = await startTestServer({
    CAPTO_MASTER_KEY: MASTER,
    CAPTO_SCAN_ON_START: 'off',
    CAPTO_ALLOW_PRIVATE_HOSTS: 'on',
    TWILIO_API_BASE: twilio.url,
    GOOGLE_API_BASE: gbp.url,
    CAPTO_SMS_QUIET_HOURS: 'off',
    CAPTO_CAMPAIGN_POLL_MS: '100',
  });
  const users = await Promise.all(Array.from({ length: 5 }, () => signUp(s, { verified: true })));
  [owner, admin, member, member2, outsider] = users as [
    SignedUpUser,
    SignedUpUser,
    SignedUpUser,
    SignedUpUser,
    SignedUpUser,
  ];
  bid = (await newBusiness(s.engine, owner.userId, 'Keystone Mortgage')).id;
  await addMember(s.engine, bid, admin.userId, 'admin');
  await addMember(s.engine, bid, member.userId, 'member');
  await addMember(s.engine, bid, member2.userId, 'member');
  bidB = (await newBusiness(s.engine, outsider.userId, 'Other Lending')).id;
  expect((await call(admin, 'PATCH', '', { postal_address: '1 Main St, Springfield, IL 62701' })).status).toBe(200);
  const sender = await call(admin, 'POST', '/integrations/email', {
    kind: 'smtp',
    host: '127.0.0.1',
    port: smtp.port,
    security: 'none',
    username: smtp.username,
    password: smtp.password,
    from_email: 'loans@keystone.example',
    from_name: 'Keystone Mortgage',
    rate_per_second: 100,
  });
  expect(sender.status).toBe(201);
  const cfg = await call(admin, 'POST', '/integrations/twilio', {
    friendly_name: 'Main',
    account_sid: acct.sid,
    auth_token: acct.authToken,
    phone_number: NUMBER,
  });
  expect(cfg.status).toBe(201);
  expect((await call(admin, 'PATCH', `/integrations/twilio/${cfg.json.id}`, { messages_per_second: 50 })).status).toBe(
    200,
  );
  place = gbp.addAccountWithLocation({ title: 'Keystone Downtown' });
  gbp.grant('token-rr');
  await connectGoogleFixture(s.db, vault, {
    businessId: bid,
    actorUserId: owner.userId,
    email: 'office@keystone.example',
    accessToken: 'token-rr',
    scopes: ['openid', 'email', BUSINESS_MANAGE],
  });
  const t1 = await call(member, 'POST', '/templates', {
    name: 'Review (text)',
    channel: 'sms',
    body: 'Thanks {{ contact.first_name }}! A review helps us: {{ business.review_link }}',
  });
  expect(t1.status).toBe(201);
  smsTemplate = t1.json.id;
  const t2 = await call(member, 'POST', '/templates', {
    name: 'Review (email)',
    channel: 'email',
    subject: 'How did we do, {{ contact.first_name }}?',
    body: 'Would you [leave us a review]({{ business.review_link }})?\n\n{{ business.name }}',
  });
  expect(t2.status).toBe(201);
  emailTemplate = t2.json.id;
  const t3 = await call(member, 'POST', '/templates', { name: 'No link', channel: 'sms', body: 'Hello!' });
  plainSms = t3.json.id;
  const t4 = await call(
    outsider,
    'POST',
    '/templates',
    {
      name: 'Theirs',
      channel: 'sms',
      body: '{{ business.review_link }}',
    },
    bidB,
  );
  otherSms = t4.json.id;
}, 300_000);
afterAll(async () => {
  await s?.stop();
  await Promise.all([smtp?.close(), twilio?.close(), gbp?.close()]);
});

describe(`review link merge field without a location (${ENGINE})`, () => {
  it('an unknown business field is still refused at save; review_link is accepted', async () => {
    const bad = await call(member, 'POST', '/templates', { name: 'x', channel: 'sms', body: '{{ business.review }}' });
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe('invalid_template');
  });

  it('preview, review request and campaign start answer 409 gbp_location_missing, never a blank link', async () => {
    const d = await fundedDeal({ owner: member.userId });
    const preview = await call(member, 'POST', `/templates/${smsTemplate}/preview`, { contact_id: d.contactId });
    expect(preview.status).toBe(409);
    expect(preview.json.error.code).toBe('gbp_location_missing');
    // A template without the link previews as before.
    expect((await call(member, 'POST', `/templates/${plainSms}/preview`, { contact_id: d.contactId })).status).toBe(
      200,
    );
    const res = await ask(member, { channel: 'sms', template_id: smsTemplate, deal_id: d.dealId });
    expect(res.status).toBe(409);
    expect(res.json.error.code).toBe('gbp_location_missing');
    const { listId } = await seedAudience(s.engine, bid, owner.userId, 2, `nl-${ENGINE}`);
    const camp = await call(admin, 'POST', '/campaigns', {
      name: 'Reviews',
      channel: 'sms',
      list_id: listId,
      template_id: smsTemplate,
    });
    expect(camp.status).toBe(201);
    const start = await call(admin, 'POST', `/campaigns/${camp.json.id}/start`);
    expect(start.status).toBe(409);
    expect(start.json.error.code).toBe('gbp_location_missing');
    expect((await call(admin, 'GET', `/campaigns/${camp.json.id}`)).json.status).toBe('draft');
    expect(twilio.messages.length).toBe(0);
  });
});

describe(`review requests with a location attached (${ENGINE})`, () => {
  let link: string;

  beforeAll(async () => {
    const put = await call(owner, 'PUT', '/google/location', {
      account_name: place.account.name,
      location_name: place.location.name,
    });
    expect(put.status).toBe(200);
    link = place.location.metadata.newReviewUri;
    expect(put.json.location.review_uri).toBe(link);
  });

  it('the preview renders Google’s newReviewUri', async () => {
    const d = await fundedDeal();
    const preview = await call(member, 'POST', `/templates/${smsTemplate}/preview`, { contact_id: d.contactId });
    expect(preview.status).toBe(200);
    expect(preview.json.text).toContain(link);
  });

  it('a member asks her own funded deal’s borrower by text: one message at the Twilio fake, recorded; not again', async () => {
    const d = await fundedDeal({ owner: member.userId });
    const before = twilio.messages.length;
    const res = await ask(member, { channel: 'sms', template_id: smsTemplate, deal_id: d.dealId });
    expect(res.status).toBe(202);
    expect(res.json).toMatchObject({ queued: 1, campaign_id: null });
    await waitFor(() => twilio.messages.some((m) => m.to === d.phone), 'the text');
    const sent = twilio.messages.filter((m) => m.to === d.phone);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.body).toBe(`Thanks ${d.name}! A review helps us: ${link}`);
    expect(twilio.messages.length).toBe(before + 1);
    const list = await call(member2, 'GET', `/gbp/review-requests?deal_id=${d.dealId}`);
    expect(list.status).toBe(200);
    expect(list.json.items).toMatchObject([
      { deal_id: d.dealId, contact_id: d.contactId, channel: 'sms', source: 'deal', requested_by: member.userId },
    ]);
    // Asked within 180 days: refused with its code, by text or by email, by anyone.
    for (const [who, channel, template] of [
      [member, 'sms', smsTemplate],
      [owner, 'email', emailTemplate],
    ] as const) {
      const again = await ask(who, { channel, template_id: template, deal_id: d.dealId });
      expect(again.status).toBe(409);
      expect(again.json.error.code).toBe('review_recently_requested');
    }
    // Six months later the window has passed.
    await asOwner(s.engine, (c) =>
      c.query(`UPDATE app.gbp_review_requests SET created_at = now() - interval '181 days' WHERE contact_id = $1`, [
        d.contactId,
      ]),
    );
    expect((await ask(member, { channel: 'sms', template_id: smsTemplate, deal_id: d.dealId })).status).toBe(202);
    await waitFor(() => twilio.messages.filter((m) => m.to === d.phone).length === 2, 'the second text');
  });

  it('an admin asks by email: one message at the SMTP fake with the link in both parts', async () => {
    const d = await fundedDeal();
    const before = smtp.received.length;
    const res = await ask(admin, { channel: 'email', template_id: emailTemplate, deal_id: d.dealId });
    expect(res.status).toBe(202);
    await smtp.waitFor(before + 1);
    const mails = smtp.received.filter((m) => m.envelopeTo.includes(d.email));
    expect(mails).toHaveLength(1);
    expect(mails[0]!.parsed.subject).toBe(`How did we do, ${d.name}?`);
    expect(mails[0]!.parsed.text).toContain(link);
    expect(String(mails[0]!.parsed.html)).toContain(`href="${link.replace(/&/g, '&amp;')}"`);
  });

  it('who may ask from a deal: not another member’s deal (403), not an unfunded deal, not another business’s', async () => {
    const others = await fundedDeal({ owner: member2.userId });
    const r1 = await ask(member, { channel: 'sms', template_id: smsTemplate, deal_id: others.dealId });
    expect(r1.status).toBe(403);
    // A member who owns the borrower (not the deal) may ask.
    const hers = await fundedDeal({ contactOwner: member.userId });
    expect((await ask(member, { channel: 'sms', template_id: smsTemplate, deal_id: hers.dealId })).status).toBe(202);
    await waitFor(() => twilio.messages.some((m) => m.to === hers.phone), 'the borrower owner’s text');
    const open = await fundedDeal({ owner: member.userId, stage: 'processing' });
    const r2 = await ask(member, { channel: 'sms', template_id: smsTemplate, deal_id: open.dealId });
    expect(r2.status).toBe(409);
    expect(r2.json.error.code).toBe('conflict');
    const theirs = await fundedDeal({ business: bidB });
    expect((await ask(owner, { channel: 'sms', template_id: smsTemplate, deal_id: theirs.dealId })).status).toBe(404);
    expect((await ask(outsider, { channel: 'sms', template_id: smsTemplate, deal_id: others.dealId })).status).toBe(
      404,
    );
    // Another business's template, a template without the link, the wrong channel, both or neither target.
    const d = await fundedDeal();
    expect((await ask(owner, { channel: 'sms', template_id: otherSms, deal_id: d.dealId })).status).toBe(404);
    const nolink = await ask(owner, { channel: 'sms', template_id: plainSms, deal_id: d.dealId });
    expect(nolink.status).toBe(400);
    expect(nolink.json.error.message).toContain('business.review_link');
    expect((await ask(owner, { channel: 'email', template_id: smsTemplate, deal_id: d.dealId })).status).toBe(400);
    expect((await ask(owner, { channel: 'sms', template_id: smsTemplate })).status).toBe(400);
    expect(
      (await ask(owner, { channel: 'sms', template_id: smsTemplate, deal_id: d.dealId, list_id: d.dealId })).status,
    ).toBe(400);
    expect((await call(owner, 'GET', `/gbp/review-requests?deal_id=${d.dealId}`)).json.items).toEqual([]);
  });

  it('opt-outs, suppressions and do-not-contact are refused with their codes; nothing is sent', async () => {
    const before = { sms: twilio.messages.length, mail: smtp.received.length };
    const stopped = await fundedDeal();
    const dnc = await fundedDeal();
    const suppressed = await fundedDeal();
    await asOwner(s.engine, async (c) => {
      await c.query(`INSERT INTO app.sms_opt_outs (business_id, contact_id, our_number) VALUES ($1, $2, $3)`, [
        bid,
        stopped.contactId,
        NUMBER,
      ]);
      await c.query(`UPDATE app.contacts SET status = 'do_not_contact' WHERE id = $1`, [dnc.contactId]);
      await c.query(`INSERT INTO app.email_suppressions (business_id, email, reason) VALUES ($1, $2, 'unsubscribed')`, [
        bid,
        suppressed.email,
      ]);
    });
    const r1 = await ask(owner, { channel: 'sms', template_id: smsTemplate, deal_id: stopped.dealId });
    expect([r1.status, r1.json.error.code]).toEqual([409, 'contact_opted_out']);
    const r2 = await ask(owner, { channel: 'email', template_id: emailTemplate, deal_id: dnc.dealId });
    expect([r2.status, r2.json.error.code]).toEqual([409, 'contact_opted_out']);
    const r3 = await ask(owner, { channel: 'email', template_id: emailTemplate, deal_id: suppressed.dealId });
    expect([r3.status, r3.json.error.code]).toEqual([409, 'email_suppressed']);
    await new Promise((r) => setTimeout(r, 500));
    expect({ sms: twilio.messages.length, mail: smtp.received.length }).toEqual(before);
  });

  it('quiet hours: a text outside the SMS window is refused (quiet_hours), written nothing', async () => {
    const d = await fundedDeal({ owner: member.userId });
    const hour = Number(
      new Intl.DateTimeFormat('en-US', { timeZone: 'America/New_York', hour: 'numeric', hourCycle: 'h23' }).format(
        new Date(),
      ),
    );
    // A one-hour window that is not now.
    const window: [number, number] = hour < 12 ? [22, 23] : [1, 2];
    let code: string | undefined;
    await s.db
      .asUser({ sub: member.userId }, (tx) =>
        requestReviews(tx, bid, member.userId, { channel: 'sms', template_id: smsTemplate, deal_id: d.dealId }, window),
      )
      .catch((e: { code?: string }) => (code = e.code));
    expect(code).toBe('quiet_hours');
    expect((await call(owner, 'GET', `/gbp/review-requests?deal_id=${d.dealId}`)).json.items).toEqual([]);
  });

  it('a list: members may not; an admin starts a campaign that skips the recently asked and the excluded', async () => {
    const { listId, contactIds } = await seedAudience(s.engine, bid, owner.userId, 5, `rr-${ENGINE}`);
    // contact 0 was asked 10 days ago, contact 1 is do-not-contact.
    await asOwner(s.engine, async (c) => {
      await c.query(
        `INSERT INTO app.gbp_review_requests (business_id, contact_id, channel, source, message_id, requested_by, created_at)
         VALUES ($1, $2, 'sms', 'deal', gen_random_uuid(), $3, now() - interval '10 days')`,
        [bid, contactIds[0], owner.userId],
      );
      await c.query(`UPDATE app.contacts SET status = 'do_not_contact' WHERE id = $1`, [contactIds[1]]);
    });
    const m = await ask(member, { channel: 'sms', template_id: smsTemplate, list_id: listId });
    expect(m.status).toBe(403);
    expect((await ask(outsider, { channel: 'sms', template_id: smsTemplate, list_id: listId })).status).toBe(404);
    const before = twilio.messages.length;
    const res = await ask(admin, { channel: 'sms', template_id: smsTemplate, list_id: listId });
    expect(res.status).toBe(202);
    expect(res.json).toMatchObject({ queued: 3, skipped: { review_recently_requested: 1, do_not_contact: 1 } });
    const done = await waitForCampaign(
      `${s.url}/api/businesses/${bid}/campaigns/${res.json.campaign_id}`,
      admin.accessToken,
    );
    expect(done.counts).toMatchObject({ total: 5, sent: 3, skipped: 2 });
    const texts = twilio.messages.slice(before);
    expect(texts).toHaveLength(3);
    for (const t of texts) expect(t.body).toContain(link);
    const recipients = await call(admin, 'GET', `/campaigns/${res.json.campaign_id}/recipients?status=skipped`);
    expect(
      recipients.json.items.map((r: { contact_id: string; reason: string }) => [r.contact_id, r.reason]).sort(),
    ).toEqual(
      [
        [contactIds[0], 'review_recently_requested'],
        [contactIds[1], 'do_not_contact'],
      ].sort(),
    );
    // The three asked are recorded; asking the list again asks nobody.
    const again = await ask(admin, { channel: 'sms', template_id: smsTemplate, list_id: listId });
    expect(again.status).toBe(202);
    expect(again.json).toMatchObject({ queued: 0, skipped: { review_recently_requested: 4, do_not_contact: 1 } });
  });
});

describe(`app.gbp_review_requests in SQL (${ENGINE})`, () => {
  const insert = (opts: { deal: string | null; contact: string; source?: string; by: string; business?: string }) =>
    [
      `INSERT INTO app.gbp_review_requests (business_id, contact_id, deal_id, channel, source, message_id, requested_by)
       VALUES ($1, $2, $3, 'sms', $4, gen_random_uuid(), $5)`,
      [opts.business ?? bid, opts.contact, opts.deal, opts.source ?? 'deal', opts.by],
    ] as const;

  it('members insert only for their own deals or borrowers, in their own name; admins for any; lists only admins', async () => {
    const mine = await fundedDeal({ owner: member.userId });
    const theirs = await fundedDeal({ owner: member2.userId });
    const result = async (sub: string, o: Parameters<typeof insert>[0]) =>
      summarise(await probe(s.db, sub, ...(insert(o) as unknown as [string, unknown[]])));
    expect(await result(member.userId, { deal: mine.dealId, contact: mine.contactId, by: member.userId })).toBe('ok');
    expect(await result(member.userId, { deal: theirs.dealId, contact: theirs.contactId, by: member.userId })).toBe(
      'denied',
    );
    // The deal's contact only: not another contact under her deal.
    expect(await result(member.userId, { deal: mine.dealId, contact: theirs.contactId, by: member.userId })).toBe(
      'denied',
    );
    expect(await result(member.userId, { deal: mine.dealId, contact: mine.contactId, by: admin.userId })).toBe(
      'denied',
    );
    expect(
      await result(member.userId, { deal: null, contact: mine.contactId, source: 'list', by: member.userId }),
    ).toBe('denied');
    expect(
      await result(member.userId, {
        deal: mine.dealId,
        contact: mine.contactId,
        source: 'automation',
        by: member.userId,
      }),
    ).toBe('denied');
    expect(await result(admin.userId, { deal: theirs.dealId, contact: theirs.contactId, by: admin.userId })).toBe('ok');
    expect(
      await result(admin.userId, { deal: null, contact: theirs.contactId, source: 'list', by: admin.userId }),
    ).toBe('ok');
    expect(await result(outsider.userId, { deal: theirs.dealId, contact: theirs.contactId, by: outsider.userId })).toBe(
      'denied',
    );
  });

  it('nobody changes or deletes a request, or backdates one; another business sees none', async () => {
    for (const who of [owner, admin, member]) {
      expect(summarise(await probe(s.db, who.userId, `UPDATE app.gbp_review_requests SET channel = 'email'`))).toBe(
        'denied',
      );
      expect(summarise(await probe(s.db, who.userId, 'DELETE FROM app.gbp_review_requests'))).toBe('denied');
    }
    const d = await fundedDeal();
    expect(
      summarise(
        await probe(
          s.db,
          owner.userId,
          `INSERT INTO app.gbp_review_requests (business_id, contact_id, channel, source, message_id, requested_by, created_at)
           VALUES ($1, $2, 'sms', 'deal', gen_random_uuid(), $3, now() - interval '1 year')`,
          [bid, d.contactId, owner.userId],
        ),
      ),
    ).toBe('denied');
    expect(summarise(await probe(s.db, member2.userId, 'SELECT 1 FROM app.gbp_review_requests'))).toBe('ok');
    expect(summarise(await probe(s.db, outsider.userId, 'SELECT 1 FROM app.gbp_review_requests'))).toBe('none');
    expect((await call(outsider, 'GET', '/gbp/review-requests')).status).toBe(404);
    expect((await call(outsider, 'GET', '/gbp/review-requests', undefined, bidB)).json.items).toEqual([]);
  });

  it('the scan probes the table: no leak, own rows seen', async () => {
    const report = await scanEngine(s.engine, { probe: true, probeOnly: (r) => r.name === 'gbp_review_requests' });
    const rows = report.probe!.matrix.filter((m) => m.table === 'app.gbp_review_requests');
    expect(rows).toHaveLength(1);
    expect(Object.values(rows[0]!.cells)).not.toContain('LEAK');
    expect(rows[0]!.cells.own).toBe('ok');
    expect(
      report.findings
        .filter(
          (f) => f.object.startsWith('app.gbp_review_requests') && (f.level === 'ERROR' || f.name.startsWith('probe_')),
        )
        .map((f) => `${f.name} ${f.object}: ${f.reason}`),
    ).toEqual([]);
  });
});
