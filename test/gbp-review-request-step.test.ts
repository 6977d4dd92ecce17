// The automation step `request_review` (docs/ARCHITECTURE.md §25, §26 "Review requests") on the
// engine under test with a controllable clock: "deal funded → wait 7 days → ask for a review" texts
// the location's review link once through the outbox to the Twilio fake and records the request;
// the same contact enrolled again within 180 days is skipped (`review_recently_requested`); no
// location → skipped (`gbp_location_missing`); an email request reaches the SMTP fake with the
// commercial footer and a working link in both parts; a STOP exits; quiet hours hold the step;
// no postal address skips an email; and saving refuses templates without the link, the wrong
// channel, and an SMS sender.
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordIntegrationChange } from '../src/audit/integration-events.ts';
import { createAutomation, setAutomationStatus, type AutomationInput } from '../src/automations/automations.ts';
import { runDueSteps, type SchedulerDeps } from '../src/automations/scheduler.ts';
import { contactTimeline } from '../src/crm/timeline.ts';
import { asOwner } from '../src/db/engine.ts';
import { createEmailDelivery } from '../src/integrations/email/deliver.ts';
import { addEmailSender } from '../src/integrations/email/senders.ts';
import { createTwilioClient } from '../src/integrations/twilio/client.ts';
import { createCommitMarks } from '../src/messaging/commit-marks.ts';
import { createOutboxDelivery } from '../src/messaging/outbox.ts';
import { createSmsDriver } from '../src/messaging/sms-driver.ts';
import { createEmailDriver } from '../src/outreach/email-driver.ts';
import { createUnsubscribeTokens } from '../src/outreach/unsubscribe.ts';
import { isAppError } from '../src/shared/errors.ts';
import { parseMasterKey } from '../src/vault/master-key.ts';
import { startSmtpFake, type SmtpFake } from './fakes/smtp.ts';
import { startTwilioFake, type TwilioFake } from './fakes/twilio.ts';
import { createTestDatabase, ENGINE, type TestDatabase } from './support/engine.ts';
import { addMember, newUser } from './support/factories.ts';
import { connectGoogleFixture } from './support/google.ts';
import { smsWorld, type SmsWorld } from './support/sms-outbox.ts';

const MASTER_KEY = randomBytes(32).toString('base64');
const POSTAL = '1 Main St, Springfield, IL 62701';
const LINK = 'https://search.google.com/local/writereview?placeid=ChIJ_test-Place9';
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

let t: TestDatabase;
let twilio: TwilioFake;
let smtp: SmtpFake;
let w: SmsWorld; // a location attached, an email sender, a postal address
let bare: SmsWorld; // no location
let senderId: string;
let memberId: string;
let deps: SchedulerDeps;
let email: ReturnType<typeof createEmailDelivery>;

async function attachLocation(world: SmsWorld): Promise<void> {
  const connection = await connectGoogleFixture(t.db, world.vault, {
    businessId: world.businessId,
    actorUserId: world.ownerId,
    email: 'office@lender.example',
    accessToken: 'unused',
    scopes: ['openid', 'email', 'https://www.googleapis.com/auth/business.manage'],
  });
  await t.db.asService('test.gbp.attach', async (tx) => {
    const id = randomUUID();
    await recordIntegrationChange(tx, {
      businessId: world.businessId,
      actorUserId: world.ownerId,
      action: 'gbp.location.attached',
      subjectId: id,
      details: { location_name: 'locations/1', location_title: 'Downtown' },
    });
    await tx.query(
      `INSERT INTO app.gbp_locations (id, business_id, connection_id, account_name, location_name, title, place_id, review_uri)
       VALUES ($1, $2, $3, 'accounts/1', 'locations/1', 'Downtown', 'ChIJ_test-Place9', $4)`,
      [id, world.businessId, connection, LINK],
    );
  });
}

beforeAll(async () => {
  t = await createTestDatabase();
  [twilio, smtp] = await Promise.all([startTwilioFake(), startSmtpFake()]);
  w = await smsWorld(t.engine, t.db, twilio, { masterKey: MASTER_KEY });
  bare = await smsWorld(t.engine, t.db, twilio, { masterKey: MASTER_KEY });
  await asOwner(t.engine, (c) =>
    c.query(
      `UPDATE app.businesses SET time_zone = 'America/New_York', postal_address = $2 WHERE id = ANY($1::uuid[])`,
      [[w.businessId, bare.businessId], POSTAL],
    ),
  );
  memberId = (await newUser(t.engine)).id;
  await addMember(t.engine, w.businessId, memberId, 'member');
  await attachLocation(w);
  const sender = await addEmailSender(
    { db: t.db, vault: w.vault, smtpPolicy: { allowPrivateHosts: true }, verify: async () => undefined },
    { userId: w.ownerId },
    w.businessId,
    {
      kind: 'smtp',
      host: '127.0.0.1',
      port: smtp.port,
      security: 'none',
      username: smtp.username,
      password: smtp.password,
      from_email: 'dana@keystone.example',
      from_name: 'Dana Loans',
    },
  );
  senderId = sender.id;
  email = createEmailDelivery({
    db: t.db,
    vault: w.vault,
    googleApiBase: 'http://127.0.0.1:9',
    smtpPolicy: { allowPrivateHosts: true },
    messageIdDomain: 'capto.test',
  });
  const delivery = createOutboxDelivery({
    db: t.db,
    logger: quiet,
    leaseSeconds: 5,
    drivers: [
      createSmsDriver({
        db: t.db,
        vault: w.vault,
        twilio: createTwilioClient(twilio.url),
        publicUrl: 'https://capto.test',
        cap: false,
      }),
      createEmailDriver({
        db: t.db,
        email,
        marks: createCommitMarks(t.db),
        tokens: createUnsubscribeTokens(parseMasterKey(MASTER_KEY)),
        publicUrl: 'https://capto.test',
        cap: false,
      }),
    ],
  });
  deps = {
    db: t.db,
    logger: quiet,
    smsWindow: [8, 21],
    notifyOutbox: async (m) => void (await delivery.deliver(m.businessId, m.id)),
  };
}, 300_000);
afterAll(async () => {
  await email?.close();
  await Promise.all([twilio?.close(), smtp?.close()]);
  await t?.close();
});

let phones = 0;
async function fundedBorrower(world: SmsWorld): Promise<{ id: string; phone: string; email: string; deal: string }> {
  const id = randomUUID();
  const n = ++phones;
  const phone = `+1779${String(process.pid % 1000).padStart(3, '0')}${String(n).padStart(4, '0')}`;
  const address = `rr${n}-${id.slice(0, 6)}@example.com`;
  const deal = await asOwner(t.engine, async (c) => {
    await c.query(
      `INSERT INTO app.contacts (id, business_id, first_name, last_name, phone, email) VALUES ($1, $2, 'Robin', 'Lee', $3, $4)`,
      [id, world.businessId, phone, address],
    );
    const d = await c.query<{ id: string }>(
      `INSERT INTO app.deals (business_id, title, contact_id, stage) VALUES ($1, 'Purchase', $2, 'funded') RETURNING id`,
      [world.businessId, id],
    );
    return d.rows[0]!.id;
  });
  return { id, phone, email: address, deal };
}

async function template(world: SmsWorld, channel: 'sms' | 'email', body: string): Promise<string> {
  const id = randomUUID();
  await asOwner(t.engine, (c) =>
    c.query(
      `INSERT INTO app.message_templates (id, business_id, name, channel, subject, body, created_by)
       VALUES ($1, $2, 'Review', $3, $4, $5, $6)`,
      [id, world.businessId, channel, channel === 'email' ? 'How did we do?' : null, body, world.ownerId],
    ),
  );
  return id;
}

async function save(world: SmsWorld, input: Omit<AutomationInput, 'name'>): Promise<string> {
  const a = await t.db.asUser({ sub: world.ownerId }, (tx) =>
    createAutomation(tx, { userId: world.ownerId }, world.businessId, { name: 'Ask for a review', ...input }),
  );
  await t.db.asUser({ sub: world.ownerId }, (tx) => setAutomationStatus(tx, world.businessId, a.id, 'active'));
  return a.id;
}

async function refused(world: SmsWorld, input: Omit<AutomationInput, 'name'>): Promise<string> {
  try {
    await t.db.asUser({ sub: world.ownerId }, (tx) =>
      createAutomation(tx, { userId: world.ownerId }, world.businessId, { name: 'X', ...input }),
    );
  } catch (e) {
    if (isAppError(e)) return e.code;
    throw e;
  }
  return 'accepted';
}

async function enroll(world: SmsWorld, automationId: string, c: { id: string; deal: string }, at: Date) {
  return t.db.asService('test.enroll', async (tx) => {
    const r = await tx.query<{ id: string }>(
      `INSERT INTO app.automation_enrollments
         (business_id, automation_id, version, contact_id, deal_id, trigger_event_id, next_run_at, enrolled_at)
       SELECT business_id, id, version, $3, $4, $5, $6, $6 FROM app.automations WHERE business_id = $1 AND id = $2
       RETURNING id`,
      [world.businessId, automationId, c.id, c.deal, randomUUID(), at],
    );
    return r.rows[0]!.id;
  });
}

async function trail(id: string): Promise<string[]> {
  const r = await asOwner(t.engine, (c) =>
    c.query<{ kind: string; step_type: string | null; details: Record<string, unknown> }>(
      'SELECT kind, step_type, details FROM app.automation_enrollment_events WHERE enrollment_id = $1 ORDER BY created_at, id',
      [id],
    ),
  );
  return r.rows.map((x) => `${x.kind}:${x.step_type ?? ''}${x.details.reason ? `:${String(x.details.reason)}` : ''}`);
}

async function requests(contactId: string) {
  const r = await asOwner(t.engine, (c) =>
    c.query<{ source: string; channel: string; deal_id: string | null; automation_id: string; created_at: Date }>(
      'SELECT source, channel, deal_id, automation_id, created_at FROM app.gbp_review_requests WHERE contact_id = $1',
      [contactId],
    ),
  );
  return r.rows;
}

const runAt = (at: Date) => runDueSteps(deps, { now: () => at, workers: 2 });
const FUNDED = new Date('2026-12-07T15:00:00Z'); // Monday 10:00 in New York
const WEEK_LATER = new Date('2026-12-14T15:00:00Z');
const flow = (tpl: string, channel: 'sms' | 'email' = 'sms', extra: { sender_id?: string } = {}) => ({
  trigger: { type: 'deal_stage_changed' as const, to: 'funded' as const },
  steps: [
    { type: 'wait' as const, amount: 7, unit: 'days' as const },
    { type: 'request_review' as const, channel, template_id: tpl, ...extra },
  ],
  exit: { on_reply: false, on_opt_out: true, on_deal_stage_change: false, reenroll_after_days: null },
});

describe(`request_review step (${ENGINE})`, () => {
  it('a week after funding texts the review link once, records it, and skips the same contact within 180 days', async () => {
    const tpl = await template(w, 'sms', 'Thanks {{ contact.first_name }}! Review us: {{ business.review_link }}');
    const a = await save(w, flow(tpl));
    const c = await fundedBorrower(w);
    const e = await enroll(w, a, c, FUNDED);
    await runAt(FUNDED);
    expect(twilio.messages.filter((m) => m.to === c.phone)).toHaveLength(0);
    await runAt(WEEK_LATER);
    await runAt(new Date(WEEK_LATER.getTime() + 60_000));
    const texts = twilio.messages.filter((m) => m.to === c.phone);
    expect(texts.map((m) => m.body)).toEqual([`Thanks Robin! Review us: ${LINK}`]);
    expect(await trail(e)).toEqual(['step_done:wait', 'step_done:request_review', 'completed:']);
    expect(await requests(c.id)).toEqual([
      { source: 'automation', channel: 'sms', deal_id: c.deal, automation_id: a, created_at: WEEK_LATER },
    ]);
    const tl = await t.db.asUser({ sub: memberId }, (tx) => contactTimeline(tx, w.businessId, c.id, { limit: 50 }));
    expect(tl.items.filter((i) => i.kind === 'automation').map((i) => i.data.status)).toContain('review requested');
    // A second funded deal 30 days later: not asked again.
    const again = await enroll(w, a, c, new Date('2027-01-06T15:00:00Z'));
    await runAt(new Date('2027-01-06T15:00:00Z'));
    await runAt(new Date('2027-01-13T15:00:00Z'));
    expect(await trail(again)).toEqual([
      'step_done:wait',
      'step_skipped:request_review:review_recently_requested',
      'completed:',
    ]);
    expect(twilio.messages.filter((m) => m.to === c.phone)).toHaveLength(1);
    // After the window it asks again.
    const later = await enroll(w, a, c, new Date('2027-07-01T14:00:00Z'));
    await runAt(new Date('2027-07-01T14:00:00Z'));
    await runAt(new Date('2027-07-08T14:00:00Z'));
    expect(await trail(later)).toEqual(['step_done:wait', 'step_done:request_review', 'completed:']);
    expect(twilio.messages.filter((m) => m.to === c.phone)).toHaveLength(2);
  });

  it('no location attached: skipped gbp_location_missing, nothing sent', async () => {
    const tpl = await template(bare, 'sms', 'Review us: {{ business.review_link }}');
    const a = await save(bare, flow(tpl));
    const c = await fundedBorrower(bare);
    const e = await enroll(bare, a, c, WEEK_LATER);
    await runAt(WEEK_LATER);
    await runAt(new Date(WEEK_LATER.getTime() + 7 * 86_400_000));
    expect(await trail(e)).toEqual([
      'step_done:wait',
      'step_skipped:request_review:gbp_location_missing',
      'completed:',
    ]);
    expect(twilio.messages.filter((m) => m.to === c.phone)).toHaveLength(0);
    expect(await requests(c.id)).toEqual([]);
  });

  it('by email: once to the SMTP fake with the footer, the link intact in both parts, recorded', async () => {
    const tpl = await template(
      w,
      'email',
      'Would you [review us]({{ business.review_link }})?\n\n{{ business.review_link }}',
    );
    const a = await save(w, flow(tpl, 'email', { sender_id: senderId }));
    const c = await fundedBorrower(w);
    const e = await enroll(w, a, c, FUNDED);
    const before = smtp.received.length;
    await runAt(FUNDED);
    await runAt(WEEK_LATER);
    await smtp.waitFor(before + 1);
    const mails = smtp.received.filter((m) => m.envelopeTo.includes(c.email));
    expect(mails).toHaveLength(1);
    expect(mails[0]!.parsed.text).toContain(`\n\n${LINK}`);
    expect(mails[0]!.parsed.text).toContain(POSTAL);
    expect(String(mails[0]!.parsed.html)).toContain(`href="${LINK}"`);
    expect(mails[0]!.raw).toContain('List-Unsubscribe-Post: List-Unsubscribe=One-Click');
    expect(await trail(e)).toEqual(['step_done:wait', 'step_done:request_review', 'completed:']);
    expect((await requests(c.id)).map((r) => r.channel)).toEqual(['email']);
  });

  it('a STOP exits; quiet hours hold the step; no postal address skips an email', async () => {
    const sms = await template(w, 'sms', '{{ business.review_link }}');
    const a = await save(w, flow(sms));
    const stopped = await fundedBorrower(w);
    await asOwner(t.engine, (q) =>
      q.query('INSERT INTO app.sms_opt_outs (business_id, contact_id, our_number) VALUES ($1, $2, $3)', [
        w.businessId,
        stopped.id,
        w.number,
      ]),
    );
    const e1 = await enroll(w, a, stopped, new Date('2027-02-01T15:00:00Z'));
    await runAt(new Date('2027-02-01T15:00:00Z'));
    await runAt(new Date('2027-02-08T15:00:00Z'));
    expect((await trail(e1)).at(-1)).toMatch(/^exited/);
    expect(await requests(stopped.id)).toEqual([]);
    // 23:00 in New York: held to 08:00.
    const night = await fundedBorrower(w);
    const e2 = await enroll(w, a, night, new Date('2027-02-01T04:00:00Z'));
    await runAt(new Date('2027-02-01T04:00:00Z'));
    await runAt(new Date('2027-02-08T04:00:00Z'));
    expect(twilio.messages.filter((m) => m.to === night.phone)).toHaveLength(0);
    await runAt(new Date('2027-02-08T13:00:00Z'));
    expect(twilio.messages.filter((m) => m.to === night.phone)).toHaveLength(1);
    expect((await trail(e2)).at(-1)).toBe('completed:');
    // No postal address: an email request is skipped.
    const mail = await template(w, 'email', '{{ business.review_link }}');
    const b = await save(w, flow(mail, 'email'));
    await asOwner(t.engine, (q) =>
      q.query('UPDATE app.businesses SET postal_address = NULL WHERE id = $1', [w.businessId]),
    );
    try {
      const c = await fundedBorrower(w);
      const e3 = await enroll(w, b, c, new Date('2027-03-01T15:00:00Z'));
      await runAt(new Date('2027-03-01T15:00:00Z'));
      await runAt(new Date('2027-03-08T15:00:00Z'));
      expect(await trail(e3)).toEqual([
        'step_done:wait',
        'step_skipped:request_review:no_postal_address',
        'completed:',
      ]);
      expect(await requests(c.id)).toEqual([]);
    } finally {
      await asOwner(t.engine, (q) =>
        q.query('UPDATE app.businesses SET postal_address = $2 WHERE id = $1', [w.businessId, POSTAL]),
      );
    }
  });

  it('saving refuses a template without the link, the wrong channel, an SMS sender, another business’s template', async () => {
    const noLink = await template(w, 'sms', 'Thanks!');
    const mail = await template(w, 'email', '{{ business.review_link }}');
    const sms = await template(w, 'sms', '{{ business.review_link }}');
    const theirs = await template(bare, 'sms', '{{ business.review_link }}');
    expect(await refused(w, flow(noLink))).toBe('validation_failed');
    expect(await refused(w, flow(mail, 'sms'))).toBe('validation_failed');
    expect(await refused(w, flow(sms, 'sms', { sender_id: senderId }))).toBe('validation_failed');
    expect(await refused(w, flow(theirs))).toBe('not_found');
    expect(await refused(w, flow(sms))).toBe('accepted');
  });
});
