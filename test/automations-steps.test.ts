// The automation steps send_email, notify and draft_ai_reply (docs/ARCHITECTURE.md §25) on the
// engine under test, with a controllable clock: an email template queued through the outbox in
// nobody's name and delivered once to the SMTP fake (quiet hours, no address, unsubscribe,
// bounce, no sender); in-app notifications to the contact's owner, one member or the admins (a
// removed member skipped); an AI draft in the review queue from the fake OpenAI server with a
// one-contact context read as the reviewing member (AI off, budget spent, no provider, provider
// error, no AI client: skipped with the reason; a pause during the model call stores nothing);
// definitions naming another business's template, sender or member refused at save time.
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAiClient } from '../src/ai/provider-client.ts';
import { putAiProvider } from '../src/ai/providers.ts';
import type { AssistDeps } from '../src/ai/assist.ts';
import {
  createAutomation,
  setAutomationStatus,
  updateAutomation,
  type AutomationInput,
} from '../src/automations/automations.ts';
import { runDueSteps, runOneDueStep, type SchedulerDeps } from '../src/automations/scheduler.ts';
import { contactTimeline } from '../src/crm/timeline.ts';
import { asOwner } from '../src/db/engine.ts';
import { createEmailDelivery } from '../src/integrations/email/deliver.ts';
import { addEmailSender } from '../src/integrations/email/senders.ts';
import { createTwilioClient } from '../src/integrations/twilio/client.ts';
import { createCommitMarks } from '../src/messaging/commit-marks.ts';
import { createOutboxDelivery } from '../src/messaging/outbox.ts';
import { createSmsDriver } from '../src/messaging/sms-driver.ts';
import { listNotifications } from '../src/notifications/notifications.ts';
import { queueContactEmail } from '../src/outreach/contact-emails.ts';
import { createEmailDriver } from '../src/outreach/email-driver.ts';
import { createUnsubscribeTokens } from '../src/outreach/unsubscribe.ts';
import { unsubscribeRoutes } from '../src/outreach/unsubscribe-routes.ts';
import { parseMasterKey } from '../src/vault/master-key.ts';
import Fastify from 'fastify';
import { isAppError } from '../src/shared/errors.ts';
import { startOpenAiFake, type OpenAiFake } from './fakes/openai.ts';
import { startSmtpFake, type SmtpFake } from './fakes/smtp.ts';
import { startTwilioFake, type TwilioFake } from './fakes/twilio.ts';
import { createTestDatabase, ENGINE, type TestDatabase } from './support/engine.ts';
import { addMember, newUser } from './support/factories.ts';
import { smsWorld, type SmsWorld } from './support/sms-outbox.ts';

const MASTER_KEY = randomBytes(32).toString('base64');
const PUBLIC_URL = 'https://capto.test';
const POSTAL = '1 Main St, Springfield, IL 62701';
const tokens = createUnsubscribeTokens(parseMasterKey(MASTER_KEY));
const rawHeader = (raw: string, name: string): string | undefined => {
  const head = raw.split(/\r?\n\r?\n/)[0]!.replace(/\r?\n[ \t]+/g, ' ');
  const line = head.split(/\r?\n/).find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  return line?.slice(name.length + 1).trim();
};
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

let t: TestDatabase;
let twilio: TwilioFake;
let smtp: SmtpFake;
let openai: OpenAiFake;
let w: SmsWorld; // email sender, AI provider (echo model), a member and an admin
let bare: SmsWorld; // Twilio only: no email sender, no AI provider
let senderId: string;
let memberId: string;
let adminId: string;
let assist: AssistDeps;
let deps: SchedulerDeps;
let email: ReturnType<typeof createEmailDelivery>;

beforeAll(async () => {
  t = await createTestDatabase();
  [twilio, smtp, openai] = await Promise.all([startTwilioFake(), startSmtpFake(), startOpenAiFake()]);
  w = await smsWorld(t.engine, t.db, twilio, { masterKey: MASTER_KEY });
  bare = await smsWorld(t.engine, t.db, twilio, { masterKey: MASTER_KEY });
  await asOwner(t.engine, (c) =>
    c.query(
      `UPDATE app.businesses SET time_zone = 'America/New_York', postal_address = $2 WHERE id = ANY($1::uuid[])`,
      [[w.businessId, bare.businessId], POSTAL],
    ),
  );
  memberId = (await newUser(t.engine)).id;
  adminId = (await newUser(t.engine)).id;
  await addMember(t.engine, w.businessId, memberId, 'member');
  await addMember(t.engine, w.businessId, adminId, 'admin');
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
  const client = createAiClient({ openaiBaseUrl: openai.url, timeoutMs: 5000, allowPrivateHosts: true });
  await putAiProvider(
    { db: t.db, vault: w.vault, client, allowPrivateHosts: true },
    { userId: w.ownerId },
    w.businessId,
    {
      provider: 'openai',
      api_key: openai.addKey(),
      model: 'echo',
    },
  );
  assist = { db: t.db, vault: w.vault, client, perMinute: 1000 };
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
      createEmailDriver({ db: t.db, email, marks: createCommitMarks(t.db), tokens, publicUrl: PUBLIC_URL, cap: false }),
    ],
  });
  deps = {
    db: t.db,
    logger: quiet,
    smsWindow: [8, 21],
    notifyOutbox: async (m) => void (await delivery.deliver(m.businessId, m.id)),
    ai: { assist, leaseMs: 60_000 },
  };
}, 300_000);
afterAll(async () => {
  await email?.close();
  await Promise.all([twilio?.close(), smtp?.close(), openai?.close()]);
  await t?.close();
});

let phones = 0;
async function contact(
  world: SmsWorld,
  extra: { email?: string | null; owner?: string | null; first?: string } = {},
): Promise<{ id: string; phone: string; email: string | null }> {
  const id = randomUUID();
  const phone = `+1778${String(process.pid % 1000).padStart(3, '0')}${String(++phones).padStart(4, '0')}`;
  const address = extra.email === undefined ? `c${phones}-${id.slice(0, 6)}@example.com` : extra.email;
  await asOwner(t.engine, (c) =>
    c.query(
      `INSERT INTO app.contacts (id, business_id, first_name, last_name, phone, email, owner_id)
       VALUES ($1, $2, $3, 'Lee', $4, $5, $6)`,
      [id, world.businessId, extra.first ?? 'Robin', phone, address, extra.owner ?? null],
    ),
  );
  return { id, phone, email: address };
}

async function template(world: SmsWorld, channel: 'sms' | 'email', body: string, subject?: string): Promise<string> {
  const id = randomUUID();
  await asOwner(t.engine, (c) =>
    c.query(
      `INSERT INTO app.message_templates (id, business_id, name, channel, subject, body, created_by)
       VALUES ($1, $2, 'T', $3, $4, $5, $6)`,
      [id, world.businessId, channel, channel === 'email' ? (subject ?? 'Hello') : null, body, world.ownerId],
    ),
  );
  return id;
}

async function automation(world: SmsWorld, input: Omit<AutomationInput, 'name'>, name = 'Follow-up'): Promise<string> {
  const a = await t.db.asUser({ sub: world.ownerId }, (tx) =>
    createAutomation(tx, { userId: world.ownerId }, world.businessId, { name, ...input }),
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
    if (isAppError(e)) return `${e.code}: ${e.message}`;
    throw e;
  }
  return 'accepted';
}

async function enroll(world: SmsWorld, automationId: string, contactId: string, at: Date): Promise<string> {
  return t.db.asService('test.enroll', async (tx) => {
    const r = await tx.query<{ id: string }>(
      `INSERT INTO app.automation_enrollments
         (business_id, automation_id, version, contact_id, trigger_event_id, next_run_at, enrolled_at)
       SELECT business_id, id, version, $3, $4, $5, $5 FROM app.automations WHERE business_id = $1 AND id = $2
       RETURNING id`,
      [world.businessId, automationId, contactId, randomUUID(), at],
    );
    return r.rows[0]!.id;
  });
}

async function enrollment(id: string) {
  const r = await asOwner(t.engine, (c) =>
    c.query<{
      state: string;
      step_index: number;
      next_run_at: Date;
      exit_reason: string | null;
      error_code: string | null;
    }>('SELECT state, step_index, next_run_at, exit_reason, error_code FROM app.automation_enrollments WHERE id = $1', [
      id,
    ]),
  );
  return r.rows[0]!;
}

async function events(id: string) {
  const r = await asOwner(t.engine, (c) =>
    c.query<{ kind: string; step_type: string | null; details: Record<string, unknown> }>(
      'SELECT kind, step_type, details FROM app.automation_enrollment_events WHERE enrollment_id = $1 ORDER BY created_at, id',
      [id],
    ),
  );
  return r.rows.map((x) => ({
    what: `${x.kind}:${x.step_type ?? ''}${x.details.reason ? `:${String(x.details.reason)}` : ''}`,
    details: x.details,
  }));
}
const trail = async (id: string) => (await events(id)).map((x) => x.what);

async function emailsOf(contactId: string) {
  const r = await asOwner(t.engine, (c) =>
    c.query<{
      id: string;
      sent_by: string | null;
      sender_id: string;
      to_address: string;
      subject: string;
      body: string;
    }>('SELECT id, sent_by, sender_id, to_address, subject, body FROM app.contact_emails WHERE contact_id = $1', [
      contactId,
    ]),
  );
  return r.rows;
}

const runAt = (at: Date, d: SchedulerDeps = deps) => runDueSteps(d, { now: () => at, workers: 2 });
// 15:00 UTC = 10:00 in New York (EST), a Monday.
const MONDAY_10AM = new Date('2026-12-07T15:00:00Z');

describe(`send_email (${ENGINE})`, () => {
  it('queues the template through the outbox in nobody’s name, delivers it once, and the timeline says so', async () => {
    const c = await contact(w, { first: 'Ana*' });
    const tpl = await template(
      w,
      'email',
      'Hi {{ contact.first_name }},\n\nthanks for reaching out to **{{ business.name }}**.',
      'Welcome, {{ contact.first_name }}',
    );
    const a = await automation(w, {
      trigger: { type: 'contact_created' },
      steps: [{ type: 'send_email', template_id: tpl }],
    });
    const e = await enroll(w, a, c.id, MONDAY_10AM);
    const before = smtp.received.length;
    await runAt(MONDAY_10AM);
    await runAt(new Date(MONDAY_10AM.getTime() + 60_000)); // nothing left to run: no second email
    expect(await enrollment(e)).toMatchObject({ state: 'completed', step_index: 1 });
    const rows = await emailsOf(c.id);
    expect(rows).toHaveLength(1);
    // The contact's data is Markdown-escaped in the body, exactly as a 1:1 email body is Markdown.
    expect(rows[0]).toMatchObject({
      sent_by: null,
      sender_id: senderId,
      to_address: c.email,
      subject: 'Welcome, Ana*',
    });
    expect(rows[0]!.body).toMatch(/^Hi Ana\\\*,/);
    const outbox = await asOwner(t.engine, (q) =>
      q.query<{ channel: string; state: string; created_by: string | null }>(
        'SELECT channel, state, created_by FROM app.outbox WHERE id = $1',
        [rows[0]!.id],
      ),
    );
    expect(outbox.rows[0]).toEqual({ channel: 'email', state: 'sent', created_by: null });
    await smtp.waitFor(before + 1);
    const mails = smtp.received.filter((m) => m.envelopeTo.includes(c.email!));
    expect(mails).toHaveLength(1);
    expect(mails[0]!.parsed.subject).toBe('Welcome, Ana*');
    expect(String(mails[0]!.parsed.html)).toContain('Hi Ana*,');
    expect(String(mails[0]!.parsed.html)).toMatch(/<strong>Business [^<]+<\/strong>/);
    expect(await trail(e)).toEqual(['step_done:send_email', 'completed:']);
    expect((await events(e))[0]!.details).toEqual({ email_id: rows[0]!.id });
    const tl = await t.db.asUser({ sub: memberId }, (tx) => contactTimeline(tx, w.businessId, c.id, { limit: 50 }));
    const statuses = tl.items.filter((i) => i.kind === 'automation').map((i) => i.data.status);
    expect(statuses).toContain('email queued');
    expect(tl.items.some((i) => i.kind === 'email')).toBe(true);
  });

  it('honours quiet hours, an explicit sender, and skips (or exits) for no address, bounces and unsubscribes', async () => {
    const tpl = await template(w, 'email', 'Checking in.');
    const def = (steps: AutomationInput['steps'], onOptOut = true) => ({
      trigger: { type: 'contact_created' as const },
      steps,
      exit: { on_opt_out: onOptOut, on_reply: true, on_deal_stage_change: false, reenroll_after_days: null },
    });
    // 23:00 in New York: held to 08:00 the next morning, then sent through the named sender.
    const night = new Date('2026-12-08T04:00:00Z');
    const c1 = await contact(w);
    const e1 = await enroll(
      w,
      await automation(w, def([{ type: 'send_email', template_id: tpl, sender_id: senderId }])),
      c1.id,
      night,
    );
    await runAt(night);
    expect(await emailsOf(c1.id)).toHaveLength(0);
    expect((await enrollment(e1)).next_run_at.toISOString()).toBe('2026-12-08T13:00:00.000Z');
    await runAt(new Date('2026-12-08T13:00:00Z'));
    expect(await emailsOf(c1.id)).toHaveLength(1);
    expect(await enrollment(e1)).toMatchObject({ state: 'completed' });

    // No address; a bounced address; an unsubscribe with the opt-out exit off: skipped, the run goes on.
    const noAddress = await contact(w, { email: null });
    const bounced = await contact(w);
    const unsubscribed = await contact(w);
    await asOwner(t.engine, (q) =>
      q.query(
        `INSERT INTO app.email_suppressions (business_id, email, reason) VALUES ($1, $2, 'hard_bounce'), ($1, $3, 'unsubscribed')`,
        [w.businessId, bounced.email, unsubscribed.email],
      ),
    );
    const twoSteps = await automation(
      w,
      def(
        [
          { type: 'send_email', template_id: tpl },
          { type: 'notify', to: 'contact_owner' },
        ],
        false,
      ),
    );
    const ids = {
      noAddress: await enroll(w, twoSteps, noAddress.id, MONDAY_10AM),
      bounced: await enroll(w, twoSteps, bounced.id, MONDAY_10AM),
      unsubscribed: await enroll(w, twoSteps, unsubscribed.id, MONDAY_10AM),
    };
    await runAt(MONDAY_10AM);
    expect(await trail(ids.noAddress)).toEqual(['step_skipped:send_email:no_email', 'step_done:notify', 'completed:']);
    expect(await trail(ids.bounced)).toEqual([
      'step_skipped:send_email:email_bounced',
      'step_done:notify',
      'completed:',
    ]);
    expect(await trail(ids.unsubscribed)).toEqual([
      'step_skipped:send_email:unsubscribed',
      'step_done:notify',
      'completed:',
    ]);
    for (const c of [noAddress, bounced, unsubscribed]) expect(await emailsOf(c.id)).toHaveLength(0);
    // With the exit rule on, an unsubscribe ends the run before the step.
    const exits = await enroll(
      w,
      await automation(w, def([{ type: 'send_email', template_id: tpl }])),
      unsubscribed.id,
      MONDAY_10AM,
    );
    await runAt(MONDAY_10AM);
    expect(await enrollment(exits)).toMatchObject({ state: 'exited', exit_reason: 'opted_out' });
    expect(await emailsOf(unsubscribed.id)).toHaveLength(0);
  });

  it('carries the campaign unsubscribe: List-Unsubscribe headers and the footer with the postal address; the link unsubscribes; a 1:1 email has none', async () => {
    const c = await contact(w);
    const tpl = await template(w, 'email', 'Happy birthday!', 'Birthday');
    const a = await automation(w, {
      trigger: { type: 'contact_created' },
      steps: [{ type: 'send_email', template_id: tpl }],
      exit: { on_opt_out: false, on_reply: true, on_deal_stage_change: false, reenroll_after_days: null },
    });
    const before = smtp.received.length;
    await enroll(w, a, c.id, MONDAY_10AM);
    await runAt(MONDAY_10AM);
    await smtp.waitFor(before + 1);
    const mail = smtp.received.filter((m) => m.envelopeTo.includes(c.email!))[0]!;
    const unsub = rawHeader(mail.raw, 'List-Unsubscribe')!;
    expect(unsub).toMatch(/^<https:\/\/capto\.test\/u\/[A-Za-z0-9_-]+\.\d+\.[A-Za-z0-9_-]+>$/);
    expect(rawHeader(mail.raw, 'List-Unsubscribe-Post')).toBe('List-Unsubscribe=One-Click');
    const link = unsub.slice(1, -1);
    expect(mail.parsed.text).toContain(POSTAL);
    expect(mail.parsed.text).toContain(`Unsubscribe: ${link}`);
    expect(String(mail.parsed.html)).toContain(POSTAL);
    expect(String(mail.parsed.html)).toContain(`href="${link}"`);
    // The stored body stays the message as written; the footer is added at send time.
    expect((await emailsOf(c.id))[0]!.body).toBe('Happy birthday!');

    // The link (one-click POST, RFC 8058) unsubscribes the contact…
    const app = Fastify();
    await app.register(unsubscribeRoutes({ db: t.db, tokens }));
    const res = await app.inject({
      method: 'POST',
      url: new URL(link).pathname,
      payload: 'List-Unsubscribe=One-Click',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    await app.close();
    expect(res.statusCode).toBe(200);
    // …and the next automated email to them is skipped.
    const again = await enroll(w, a, c.id, MONDAY_10AM);
    await runAt(MONDAY_10AM);
    expect(await trail(again)).toEqual(['step_skipped:send_email:unsubscribed', 'completed:']);
    expect(await emailsOf(c.id)).toHaveLength(1);

    // A 1:1 email typed by a person carries no footer and no unsubscribe headers.
    const d = await contact(w);
    const one = await t.db.asUser({ sub: w.ownerId }, (tx) =>
      queueContactEmail(tx, w.businessId, w.ownerId, d.id, { subject: 'Hi', body: 'Just me.' }),
    );
    const n = smtp.received.length;
    await deps.notifyOutbox({ businessId: w.businessId, id: one.id });
    await smtp.waitFor(n + 1);
    const personal = smtp.received.filter((m) => m.envelopeTo.includes(d.email!))[0]!;
    expect(rawHeader(personal.raw, 'List-Unsubscribe')).toBeUndefined();
    expect(personal.parsed.text).not.toContain(POSTAL);
  });

  it('skips the step (no_postal_address) when the business has no postal address', async () => {
    const c = await contact(w);
    const tpl = await template(w, 'email', 'Hello');
    const a = await automation(w, {
      trigger: { type: 'contact_created' },
      steps: [{ type: 'send_email', template_id: tpl }],
    });
    await asOwner(t.engine, (q) =>
      q.query('UPDATE app.businesses SET postal_address = NULL WHERE id = $1', [w.businessId]),
    );
    try {
      const e = await enroll(w, a, c.id, MONDAY_10AM);
      await runAt(MONDAY_10AM);
      expect(await trail(e)).toEqual(['step_skipped:send_email:no_postal_address', 'completed:']);
      expect(await emailsOf(c.id)).toHaveLength(0);
    } finally {
      await asOwner(t.engine, (q) =>
        q.query('UPDATE app.businesses SET postal_address = $2 WHERE id = $1', [w.businessId, POSTAL]),
      );
    }
  });

  it('fails the enrollment when the business has no email sender', async () => {
    const c = await contact(bare);
    const tpl = await template(bare, 'email', 'Hello');
    const e = await enroll(
      bare,
      await automation(bare, {
        trigger: { type: 'contact_created' },
        steps: [{ type: 'send_email', template_id: tpl }],
      }),
      c.id,
      MONDAY_10AM,
    );
    await runAt(MONDAY_10AM);
    expect(await enrollment(e)).toMatchObject({ state: 'failed', error_code: 'no_email_sender' });
    expect(await emailsOf(c.id)).toHaveLength(0);
  });

  it('refuses at save time an SMS template, another business’s template or sender', async () => {
    const sms = await template(w, 'sms', 'Hi');
    const theirs = await template(bare, 'email', 'Hi');
    const ours = await template(w, 'email', 'Hi');
    const steps = (s: Record<string, unknown>) => ({
      trigger: { type: 'contact_created' as const },
      steps: [s] as never,
    });
    expect(await refused(w, steps({ type: 'send_email', template_id: sms }))).toMatch(
      /^validation_failed: template .* is an sms template/,
    );
    expect(await refused(w, steps({ type: 'send_email', template_id: theirs }))).toBe('not_found: template not found');
    expect(await refused(w, steps({ type: 'send_email', template_id: ours, sender_id: randomUUID() }))).toBe(
      'not_found: email sender not found',
    );
    // …and an email template is no SMS template either.
    expect(await refused(w, steps({ type: 'send_sms', template_id: ours }))).toMatch(/is an email template/);
    expect(await refused(w, steps({ type: 'send_email', template_id: ours, sender_id: senderId }))).toBe('accepted');
  });
});

describe(`notify (${ENGINE})`, () => {
  const notificationsOf = (userId: string) =>
    t.db.asUser({ sub: userId }, (tx) => listNotifications(tx, { limit: 100, business_id: w.businessId }));

  it('notifies the contact’s owner, one member, or the owners and admins, with a link to the contact', async () => {
    const owned = await contact(w, { owner: memberId, first: 'Casey' });
    const a = await automation(
      w,
      {
        trigger: { type: 'contact_created' },
        steps: [
          { type: 'notify', to: 'contact_owner' },
          { type: 'notify', to: adminId, message: 'Call Casey today' },
          { type: 'notify', to: 'admins', message: 'New lead' },
        ],
      },
      'Speed check',
    );
    const e = await enroll(w, a, owned.id, MONDAY_10AM);
    await runAt(MONDAY_10AM);
    expect(await trail(e)).toEqual(['step_done:notify', 'step_done:notify', 'step_done:notify', 'completed:']);
    const link = `/b/${w.businessId}/contacts/${owned.id}`;
    const mine = (await notificationsOf(memberId)).items.filter((n) => n.subject_id === owned.id);
    expect(mine).toEqual([
      expect.objectContaining({
        kind: 'automation',
        title: 'Speed check: Casey Lee',
        link,
        read_at: null,
      }),
    ]);
    const admin = (await notificationsOf(adminId)).items.filter((n) => n.subject_id === owned.id);
    expect(admin.map((n) => n.title).sort()).toEqual(['Call Casey today', 'New lead']);
    expect(admin.every((n) => n.link === link && n.body.includes('Casey Lee'))).toBe(true);
    const owner = (await notificationsOf(w.ownerId)).items.filter((n) => n.subject_id === owned.id);
    expect(owner.map((n) => n.title)).toEqual(['New lead']);
    // Without an owner, the automation's author is told.
    const unowned = await contact(w);
    await enroll(w, a, unowned.id, MONDAY_10AM);
    await runAt(MONDAY_10AM);
    expect((await notificationsOf(w.ownerId)).items.filter((n) => n.subject_id === unowned.id)).toHaveLength(2);
  });

  it('records the step skipped when the named member was removed, and refuses non-members at save time', async () => {
    const leaving = (await newUser(t.engine)).id;
    await addMember(t.engine, w.businessId, leaving, 'member');
    const a = await automation(w, {
      trigger: { type: 'contact_created' },
      steps: [
        { type: 'notify', to: leaving },
        { type: 'create_task', title: 'Follow up' },
      ],
    });
    await asOwner(t.engine, (q) =>
      q.query('DELETE FROM app.memberships WHERE business_id = $1 AND user_id = $2', [w.businessId, leaving]),
    );
    const c = await contact(w);
    const e = await enroll(w, a, c.id, MONDAY_10AM);
    await runAt(MONDAY_10AM);
    expect(await trail(e)).toEqual(['step_skipped:notify:not_a_member', 'step_done:create_task', 'completed:']);
    const tl = await t.db.asUser({ sub: w.ownerId }, (tx) => contactTimeline(tx, w.businessId, c.id, { limit: 50 }));
    expect(tl.items.map((i) => i.data.status)).toContain('notify skipped (not a member)');
    const steps = (to: string) => ({
      trigger: { type: 'contact_created' as const },
      steps: [{ type: 'notify' as const, to }],
    });
    expect(await refused(w, steps(leaving))).toBe('not_found: member not found');
    expect(await refused(w, steps(bare.ownerId))).toBe('not_found: member not found');
    expect(await refused(w, steps(memberId))).toBe('accepted');
  });
});

describe(`draft_ai_reply (${ENGINE})`, () => {
  const draftsOf = async (contactId: string) =>
    (
      await asOwner(t.engine, (q) =>
        q.query<{ id: string; body: string; origin: string; status: string; created_by: string | null }>(
          `SELECT d.id, d.body, d.origin, d.status, d.created_by FROM app.ai_drafts d
             JOIN app.conversations v ON v.business_id = d.business_id AND v.id = d.conversation_id
            WHERE v.contact_id = $1`,
          [contactId],
        ),
      )
    ).rows;
  const draftStep = { trigger: { type: 'contact_created' as const }, steps: [{ type: 'draft_ai_reply' as const }] };

  it('queues one draft for review, from a context of that contact only, read as the reviewing member', async () => {
    const reviewer = await asOwner(t.engine, (q) =>
      q.query<{ email: string }>('SELECT email::text AS email FROM auth.users WHERE id = $1', [memberId]),
    );
    const other = await contact(w, { first: 'Zelda' });
    const c = await contact(w, { owner: memberId, first: 'Morgan' });
    const a = await automation(w, {
      ...draftStep,
      steps: [{ type: 'draft_ai_reply' }, { type: 'wait', amount: 1, unit: 'days' }],
    });
    const chats = openai.chats.length;
    const texts = twilio.messages.length;
    const e = await enroll(w, a, c.id, MONDAY_10AM);
    await runAt(MONDAY_10AM);
    await runAt(new Date(MONDAY_10AM.getTime() + 60_000));
    expect(openai.chats.length).toBe(chats + 1);
    expect(twilio.messages.length).toBe(texts); // nothing is sent
    const drafts = await draftsOf(c.id);
    expect(drafts).toEqual([expect.objectContaining({ origin: 'automation', status: 'pending', created_by: null })]);
    // What the model saw: this contact, in the reviewer's name; nobody else's (the echo model
    // returns it, so the draft is that prompt, cut to an SMS's 1,600 characters).
    const prompt = openai.chats
      .at(-1)!
      .messages.map((m) => m.content)
      .join('\n');
    expect(drafts[0]!.body.length).toBeGreaterThan(0);
    expect(prompt).toContain(`Name: Morgan Lee\nPhone: ${c.phone}`);
    expect(prompt).toContain(reviewer.rows[0]!.email.split('@')[0]);
    expect(prompt).not.toContain('Zelda');
    expect(prompt).not.toContain(other.phone);
    const evs = await events(e);
    expect(evs.map((x) => x.what)).toEqual(['step_done:draft_ai_reply', 'step_done:wait']);
    expect(evs[0]!.details).toMatchObject({ draft_id: drafts[0]!.id });
    expect(await enrollment(e)).toMatchObject({ state: 'active', step_index: 2 });
    const calls = await asOwner(t.engine, (q) =>
      q.query<{ feature: string; user_id: string | null; outcome: string }>(
        `SELECT feature, user_id, outcome FROM app.ai_calls WHERE business_id = $1 ORDER BY started_at DESC LIMIT 1`,
        [w.businessId],
      ),
    );
    expect(calls.rows[0]).toEqual({ feature: 'draft', user_id: null, outcome: 'ok' });
    const tl = await t.db.asUser({ sub: memberId }, (tx) => contactTimeline(tx, w.businessId, c.id, { limit: 50 }));
    expect(tl.items.map((i) => i.data.status)).toContain('AI reply drafted for review');
    // The wait says until when, in the business's zone (written when it starts, not when it ends).
    expect(tl.items.map((i) => i.data.status)).toContainEqual(
      expect.stringMatching(/^wait(ing|ed) until Dec 8, 10:00 AM$/),
    );
  });

  it('is skipped with the reason when AI is off, the budget is spent, there is no provider, the provider fails or no AI client', async () => {
    const chats = openai.chats.length;
    const run = async (world: SmsWorld, d: SchedulerDeps = deps) => {
      const c = await contact(world);
      const e = await enroll(world, await automation(world, draftStep), c.id, MONDAY_10AM);
      await runAt(MONDAY_10AM, d);
      expect(await enrollment(e)).toMatchObject({ state: 'completed' });
      expect(await draftsOf(c.id)).toHaveLength(0);
      return (await trail(e))[0];
    };
    await asOwner(t.engine, (q) =>
      q.query('UPDATE app.businesses SET ai_enabled = false WHERE id = $1', [w.businessId]),
    );
    expect(await run(w)).toBe('step_skipped:draft_ai_reply:ai_disabled');
    await asOwner(t.engine, (q) =>
      q.query('UPDATE app.businesses SET ai_enabled = true, ai_monthly_token_budget = 0 WHERE id = $1', [w.businessId]),
    );
    expect(await run(w)).toBe('step_skipped:draft_ai_reply:ai_budget_exhausted');
    await asOwner(t.engine, (q) =>
      q.query('UPDATE app.businesses SET ai_monthly_token_budget = 1000000 WHERE id = $1', [w.businessId]),
    );
    expect(await run(bare)).toBe('step_skipped:draft_ai_reply:ai_not_configured');
    expect(await run(w, { ...deps, ai: undefined })).toBe('step_skipped:draft_ai_reply:ai_unavailable');
    expect(openai.chats.length).toBe(chats); // none of these asked the model
    openai.failNext(500);
    expect(await run(w)).toBe('step_skipped:draft_ai_reply:ai_provider_error');
  });

  it('stores nothing when the automation is paused during the model call, and drafts once after the lease', async () => {
    const c = await contact(w, { owner: w.ownerId });
    const a = await automation(w, draftStep);
    const e = await enroll(w, a, c.id, MONDAY_10AM);
    const chats = openai.chats.length;
    openai.setLatency(400);
    try {
      const running = runOneDueStep(deps, MONDAY_10AM, e);
      for (let i = 0; openai.chats.length === chats && i < 100; i++) await new Promise((r) => setTimeout(r, 20));
      // Held by its lease meanwhile: another scheduler finds nothing due.
      expect((await runOneDueStep(deps, new Date(MONDAY_10AM.getTime() + 30_000), e)).kind).toBe('none');
      await t.db.asUser({ sub: w.ownerId }, (tx) => setAutomationStatus(tx, w.businessId, a, 'paused'));
      await running;
    } finally {
      openai.setLatency(0);
    }
    expect(await draftsOf(c.id)).toHaveLength(0);
    expect(await enrollment(e)).toMatchObject({ state: 'paused', step_index: 0 });
    expect(await trail(e)).toEqual([]);
    await t.db.asUser({ sub: w.ownerId }, (tx) => setAutomationStatus(tx, w.businessId, a, 'active'));
    await runAt(new Date(MONDAY_10AM.getTime() + 61_000)); // the lease (60 s) is over
    expect(await draftsOf(c.id)).toHaveLength(1);
    expect(await trail(e)).toEqual(['step_done:draft_ai_reply', 'completed:']);
  });

  it('an edit that adds the step applies to new enrollments only', async () => {
    const a = await automation(w, { trigger: { type: 'contact_created' }, steps: [{ type: 'notify' }] });
    const c1 = await contact(w);
    const e1 = await enroll(w, a, c1.id, MONDAY_10AM);
    await t.db.asUser({ sub: w.ownerId }, (tx) =>
      updateAutomation(tx, { userId: w.ownerId }, w.businessId, a, {
        definition: { trigger: { type: 'contact_created' }, steps: [{ type: 'notify' }, { type: 'draft_ai_reply' }] },
      }),
    );
    const c2 = await contact(w);
    const e2 = await enroll(w, a, c2.id, MONDAY_10AM);
    await runAt(MONDAY_10AM);
    expect(await trail(e1)).toEqual(['step_done:notify', 'completed:']);
    expect(await trail(e2)).toEqual(['step_done:notify', 'step_done:draft_ai_reply', 'completed:']);
  });
});
