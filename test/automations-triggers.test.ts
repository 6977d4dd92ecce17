// Automation triggers (migration 0103, src/automations/intake.ts, docs/ARCHITECTURE.md §25) on
// the engine under test: the CRM's writes, made as a member through RLS, emit trigger events in
// their own transaction; the intake enrolls by trigger parameters and conditions, once per
// event, within the re-enrollment window; nothing is emitted without an active automation; and
// a new contact's first text reaches the Twilio fake through the scheduler and the outbox.
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asOwner } from '../src/db/engine.ts';
import { createAutomation, setAutomationStatus, type AutomationInput } from '../src/automations/automations.ts';
import { enrollDateTriggers, intakeAll } from '../src/automations/intake.ts';
import { runDueSteps } from '../src/automations/scheduler.ts';
import { createTwilioClient } from '../src/integrations/twilio/client.ts';
import { createOutboxDelivery } from '../src/messaging/outbox.ts';
import { createSmsDriver } from '../src/messaging/sms-driver.ts';
import { startTwilioFake, type TwilioFake } from './fakes/twilio.ts';
import { createTestDatabase, ENGINE, type TestDatabase } from './support/engine.ts';
import { addMember, newUser } from './support/factories.ts';
import { smsWorld, type SmsWorld } from './support/sms-outbox.ts';

const MASTER_KEY = randomBytes(32).toString('base64');
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

let t: TestDatabase;
let fake: TwilioFake;
beforeAll(async () => {
  t = await createTestDatabase();
  fake = await startTwilioFake();
}, 300_000);
afterAll(async () => {
  await fake?.close();
  await t?.close();
});

interface World extends SmsWorld {
  memberId: string;
}
async function world(): Promise<World> {
  const w = await smsWorld(t.engine, t.db, fake, { masterKey: MASTER_KEY });
  const member = await newUser(t.engine);
  await addMember(t.engine, w.businessId, member.id, 'member');
  return { ...w, memberId: member.id };
}

async function automation(w: World, input: Omit<AutomationInput, 'name'>, activate = true): Promise<string> {
  const a = await t.db.asUser({ sub: w.ownerId }, (tx) =>
    createAutomation(tx, { userId: w.ownerId }, w.businessId, { name: 'A', ...input }),
  );
  if (activate) await t.db.asUser({ sub: w.ownerId }, (tx) => setAutomationStatus(tx, w.businessId, a.id, 'active'));
  return a.id;
}

let phones = 0;
const phone = () => `+1888${String(process.pid % 1000).padStart(3, '0')}${String(++phones).padStart(4, '0')}`;

/** A contact created by the member through RLS, as the CRM's routes do. */
async function memberCreates(
  w: World,
  fields: { source?: string; import_job_id?: string; email?: string; status?: string } = {},
): Promise<string> {
  const id = randomUUID();
  await t.db.asUser({ sub: w.memberId }, (tx) =>
    tx.query(
      `INSERT INTO app.contacts (id, business_id, first_name, phone, email, source, status, import_job_id)
       VALUES ($1, $2, 'Sam', $3, $4, $5, $6, $7)`,
      [
        id,
        w.businessId,
        phone(),
        fields.email ?? null,
        fields.source ?? 'manual',
        fields.status ?? 'lead',
        fields.import_job_id ?? null,
      ],
    ),
  );
  return id;
}

const steps: AutomationInput['steps'] = [{ type: 'wait', amount: 1, unit: 'days' }];

async function enrollments(automationId: string) {
  const r = await asOwner(t.engine, (c) =>
    c.query<{ contact_id: string; deal_id: string | null; trigger_event_id: string }>(
      'SELECT contact_id, deal_id, trigger_event_id FROM app.automation_enrollments WHERE automation_id = $1 ORDER BY enrolled_at',
      [automationId],
    ),
  );
  return r.rows;
}
const pending = async (businessId: string) =>
  (
    await asOwner(t.engine, (c) =>
      c.query<{ n: number }>('SELECT count(*)::int AS n FROM app.automation_trigger_events WHERE business_id = $1', [
        businessId,
      ]),
    )
  ).rows[0]!.n;
const intake = () => intakeAll(t.db, new Date());

describe(`automation triggers (${ENGINE})`, () => {
  it('contact created: by hand, by import, by an inbound text — filtered by `via`; conditions apply', async () => {
    const w = await world();
    const any = await automation(w, { trigger: { type: 'contact_created' }, steps });
    const importsOnly = await automation(w, { trigger: { type: 'contact_created', via: ['import'] }, steps });
    const withEmail = await automation(w, {
      trigger: { type: 'contact_created' },
      conditions: [{ type: 'has_email' }, { type: 'contact_status', in: ['lead'] }],
      steps,
    });
    const job = randomUUID(); // contacts.import_job_id names the import that made the row
    const byHand = await memberCreates(w, { email: `a${phones}@example.test` });
    const imported = await memberCreates(w, { import_job_id: job });
    const bySms = await memberCreates(w, { source: 'sms', status: 'prospect', email: `b${phones}@example.test` });
    expect(await pending(w.businessId)).toBe(3);
    expect(await intake()).toBe(3 + 1 + 1);
    expect(await pending(w.businessId)).toBe(0);
    expect((await enrollments(any)).map((e) => e.contact_id).sort()).toEqual([byHand, imported, bySms].sort());
    expect((await enrollments(importsOnly)).map((e) => e.contact_id)).toEqual([imported]);
    expect((await enrollments(withEmail)).map((e) => e.contact_id)).toEqual([byHand]); // bySms is a prospect
    expect((await enrollments(any)).find((e) => e.contact_id === byHand)!.trigger_event_id).toBe(
      `contact_created:${byHand}`,
    );
  });

  it('a retried event enrolls once; nothing is emitted without an active automation (draft or paused)', async () => {
    const w = await world();
    const a = await automation(w, { trigger: { type: 'contact_created' }, steps });
    const c = await memberCreates(w);
    // The same event twice (a retried batch): copy the pending row before the intake.
    await asOwner(t.engine, (q) =>
      q.query(
        `INSERT INTO app.automation_trigger_events (business_id, type, contact_id, source_id, details)
         SELECT business_id, type, contact_id, source_id, details FROM app.automation_trigger_events WHERE business_id = $1`,
        [w.businessId],
      ),
    );
    expect(await pending(w.businessId)).toBe(2);
    expect(await intake()).toBe(1);
    // …and again after it was processed.
    await asOwner(t.engine, (q) =>
      q.query(
        `INSERT INTO app.automation_trigger_events (business_id, type, contact_id, source_id, details)
         VALUES ($1, 'contact_created', $2, $2, '{"via":"manual"}')`,
        [w.businessId, c],
      ),
    );
    expect(await intake()).toBe(0);
    expect(await enrollments(a)).toHaveLength(1);
    await t.db.asUser({ sub: w.ownerId }, (tx) => setAutomationStatus(tx, w.businessId, a, 'paused'));
    await automation(w, { trigger: { type: 'contact_created' }, steps }, false); // a draft
    await memberCreates(w);
    expect(await pending(w.businessId)).toBe(0);
  });

  it('added to a list (that list only); re-added within the window does not enroll again', async () => {
    const w = await world();
    const [l1, l2] = [randomUUID(), randomUUID()];
    await asOwner(t.engine, (c) =>
      c.query(`INSERT INTO app.lists (id, business_id, name) VALUES ($1, $2, 'One'), ($3, $2, 'Two')`, [
        l1,
        w.businessId,
        l2,
      ]),
    );
    const a = await automation(w, {
      trigger: { type: 'list_added', list_id: l1 },
      steps,
      exit: { reenroll_after_days: 30 },
    });
    const c = await memberCreates(w);
    const add = (list: string) =>
      t.db.asUser({ sub: w.memberId }, (tx) =>
        tx.query('INSERT INTO app.list_members (business_id, list_id, contact_id) VALUES ($1, $2, $3)', [
          w.businessId,
          list,
          c,
        ]),
      );
    await add(l1);
    await add(l2);
    expect(await intake()).toBe(1);
    await t.db.asUser({ sub: w.memberId }, (tx) =>
      tx.query('DELETE FROM app.list_members WHERE list_id = $1 AND contact_id = $2', [l1, c]),
    );
    await new Promise((r) => setTimeout(r, 1100)); // a new membership (its own added_at second)
    await add(l1);
    expect(await pending(w.businessId)).toBe(1);
    expect(await intake()).toBe(0); // within 30 days of the first
    expect(await enrollments(a)).toHaveLength(1);
  });

  it('deal stage changed (to / from) enrolls with the deal; contact status changed (to)', async () => {
    const w = await world();
    const toApp = await automation(w, { trigger: { type: 'deal_stage_changed', to: 'application' }, steps });
    const fromApp = await automation(w, {
      trigger: { type: 'deal_stage_changed', from: 'application', to: 'processing' },
      steps,
    });
    const toClient = await automation(w, { trigger: { type: 'contact_status_changed', to: 'client' }, steps });
    const c = await memberCreates(w);
    const deal = randomUUID();
    await t.db.asUser({ sub: w.memberId }, async (tx) => {
      await tx.query(
        `INSERT INTO app.deals (id, business_id, title, contact_id, stage) VALUES ($1, $2, 'L', $3, 'lead')`,
        [deal, w.businessId, c],
      );
    });
    await t.db.asUser({ sub: w.memberId }, (tx) =>
      tx.query(`UPDATE app.deals SET stage = 'application' WHERE id = $1`, [deal]),
    );
    await t.db.asUser({ sub: w.memberId }, (tx) =>
      tx.query(`UPDATE app.deals SET stage = 'processing' WHERE id = $1`, [deal]),
    );
    await t.db.asUser({ sub: w.memberId }, (tx) =>
      tx.query(`UPDATE app.contacts SET status = 'prospect' WHERE id = $1`, [c]),
    );
    await t.db.asUser({ sub: w.memberId }, (tx) =>
      tx.query(`UPDATE app.contacts SET status = 'client' WHERE id = $1`, [c]),
    );
    await intake();
    expect(await enrollments(toApp)).toMatchObject([{ contact_id: c, deal_id: deal }]);
    expect(await enrollments(fromApp)).toMatchObject([{ contact_id: c, deal_id: deal }]);
    expect(await enrollments(toClient)).toMatchObject([{ contact_id: c, deal_id: null }]);
  });

  it('an inbound text matching the keyword enrolls; another text does not; and the enrollment texts back once', async () => {
    const w = await world();
    const tpl = randomUUID();
    await asOwner(t.engine, (c) =>
      c.query(
        `INSERT INTO app.message_templates (id, business_id, name, channel, body, created_by)
         VALUES ($1, $2, 'Rates', 'sms', 'Today''s rates for {{ contact.first_name }}: call us.', $3)`,
        [tpl, w.businessId, w.ownerId],
      ),
    );
    const a = await automation(w, {
      trigger: { type: 'inbound_sms_keyword', keyword: 'rates' },
      steps: [{ type: 'send_sms', template_id: tpl }],
    });
    const c = await memberCreates(w);
    const number = (
      await asOwner(t.engine, (q) => q.query<{ phone: string }>('SELECT phone FROM app.contacts WHERE id = $1', [c]))
    ).rows[0]!.phone;
    await t.db.asService('test.inbound', async (tx) => {
      const conv = await tx.query<{ id: string }>(
        `INSERT INTO app.conversations (business_id, contact_id, our_number, twilio_config_id) VALUES ($1, $2, $3, $4) RETURNING id`,
        [w.businessId, c, w.number, w.configId],
      );
      for (const body of ['hello', ' RATES '])
        await tx.query(
          `INSERT INTO app.messages (business_id, conversation_id, direction, body, status) VALUES ($1, $2, 'inbound', $3, 'received')`,
          [w.businessId, conv.rows[0]!.id, body],
        );
    });
    expect(await intake()).toBe(1);
    expect(await enrollments(a)).toHaveLength(1);
    const delivery = createOutboxDelivery({
      db: t.db,
      logger: quiet,
      leaseSeconds: 5,
      drivers: [
        createSmsDriver({
          db: t.db,
          vault: w.vault,
          twilio: createTwilioClient(fake.url),
          publicUrl: 'https://capto.test',
          cap: false,
        }),
      ],
    });
    await runDueSteps(
      {
        db: t.db,
        logger: quiet,
        smsWindow: null,
        notifyOutbox: async (m) => void (await delivery.deliver(m.businessId, m.id)),
      },
      { now: () => new Date() },
    );
    const texts = fake.messages.filter((m) => m.to === number);
    expect(texts.map((m) => m.body)).toEqual(["Today's rates for Sam: call us."]);
  });

  it('another business’s events never enroll into this business’s automations', async () => {
    const [w1, w2] = [await world(), await world()];
    const a = await automation(w1, { trigger: { type: 'contact_created' }, steps });
    await memberCreates(w2);
    expect(await pending(w2.businessId)).toBe(0); // w2 has no active automation: nothing emitted
    await automation(w2, { trigger: { type: 'contact_created' }, steps });
    const c2 = await memberCreates(w2);
    const c1 = await memberCreates(w1);
    await intake();
    expect((await enrollments(a)).map((e) => e.contact_id)).toEqual([c1]);
    expect((await enrollments(a)).map((e) => e.contact_id)).not.toContain(c2);
  });

  it('date triggers: a closing anniversary (yearly), 30 days before a date, a custom birthday — each once a day, after the local time', async () => {
    const w = await world();
    await asOwner(t.engine, (c) =>
      c.query(`UPDATE app.businesses SET time_zone = 'UTC' WHERE id = $1`, [w.businessId]),
    );
    const now = new Date('2027-03-10T15:00:00Z');
    const anniversary = await automation(w, {
      trigger: { type: 'date', field: 'deal.funded_on', offset_days: 0, at: '09:00', yearly: true },
      steps,
    });
    const expiring = await automation(w, {
      trigger: { type: 'date', field: 'deal.expected_close_date', offset_days: -30, at: '09:00', yearly: false },
      steps,
    });
    const birthday = await automation(w, {
      trigger: { type: 'date', field: 'custom.birthday', offset_days: 0, at: '16:00', yearly: true },
      steps,
    });
    const [funded, closing, born, other] = [
      await memberCreates(w),
      await memberCreates(w),
      await memberCreates(w),
      await memberCreates(w),
    ];
    await asOwner(t.engine, async (c) => {
      await c.query(
        `INSERT INTO app.deals (business_id, title, contact_id, stage, funded_on) VALUES ($1, 'A', $2, 'funded', '2025-03-10'), ($1, 'B', $3, 'funded', '2027-03-10')`,
        [w.businessId, funded, other],
      );
      await c.query(
        `INSERT INTO app.deals (business_id, title, contact_id, stage, expected_close_date) VALUES ($1, 'C', $2, 'processing', '2027-04-09')`,
        [w.businessId, closing],
      );
      await c.query(
        `INSERT INTO app.custom_fields (business_id, entity, key, label, type) VALUES ($1, 'contact', 'birthday', 'Birthday', 'date')`,
        [w.businessId],
      );
      await c.query(`UPDATE app.contacts SET custom = '{"birthday": "1980-03-10"}' WHERE id = $1`, [born]);
    });
    await intake(); // the contact-created events of this business: none of these automations
    expect(await enrollDateTriggers(t.db, now)).toBe(2); // the birthday waits for 16:00
    expect(await enrollDateTriggers(t.db, now)).toBe(0); // the same day again: nobody twice
    expect(await enrollDateTriggers(t.db, new Date('2027-03-10T16:00:00Z'))).toBe(1);
    expect((await enrollments(anniversary)).map((e) => e.contact_id)).toEqual([funded]); // not the one funded today
    expect((await enrollments(expiring)).map((e) => e.contact_id)).toEqual([closing]);
    expect(await enrollments(birthday)).toMatchObject([
      { contact_id: born, trigger_event_id: 'date:custom.birthday:2027-03-10' },
    ]);
  });
  // A loan funded, or a client born, on Feb 29: in a non-leap year the anniversary is Feb 28
  // (docs/ARCHITECTURE.md §25), once; in a leap year Feb 29 only. Offsets count from that day.
  it('date triggers: a Feb 29 date is celebrated on Feb 28 in a non-leap year and on Feb 29 in a leap year, once', async () => {
    const w = await world();
    await asOwner(t.engine, (c) =>
      c.query(`UPDATE app.businesses SET time_zone = 'America/Los_Angeles' WHERE id = $1`, [w.businessId]),
    );
    const funded = await automation(w, {
      trigger: { type: 'date', field: 'deal.funded_on', offset_days: 0, at: '10:00', yearly: true },
      steps,
    });
    const dayBefore = await automation(w, {
      trigger: { type: 'date', field: 'deal.funded_on', offset_days: -1, at: '10:00', yearly: true },
      steps,
    });
    const birthday = await automation(w, {
      trigger: { type: 'date', field: 'custom.birthday', offset_days: 0, at: '10:00', yearly: true },
      steps,
    });
    const [leap, control] = [await memberCreates(w), await memberCreates(w)];
    await asOwner(t.engine, async (c) => {
      await c.query(
        `INSERT INTO app.deals (business_id, title, contact_id, stage, funded_on) VALUES ($1, 'L', $2, 'funded', '2024-02-29'), ($1, 'C', $3, 'funded', '2024-03-01')`,
        [w.businessId, leap, control],
      );
      await c.query(
        `INSERT INTO app.custom_fields (business_id, entity, key, label, type) VALUES ($1, 'contact', 'birthday', 'Birthday', 'date')`,
        [w.businessId],
      );
      await c.query(`UPDATE app.contacts SET custom = '{"birthday": "1996-02-29"}' WHERE id = $1`, [leap]);
      await c.query(`UPDATE app.contacts SET custom = '{"birthday": "1996-03-01"}' WHERE id = $1`, [control]);
    });
    await intake();
    // Every day from Feb 25 to Mar 3 at 11:00 local (19:00 UTC), twice a day.
    for (const year of [2027, 2028]) {
      for (let d = 25; d <= 31; d++) {
        await enrollDateTriggers(t.db, new Date(Date.UTC(year, 1, d, 19, 0)));
        await enrollDateTriggers(t.db, new Date(Date.UTC(year, 1, d, 19, 5)));
      }
    }
    const keys = async (a: string, contact: string) =>
      (await enrollments(a)).filter((e) => e.contact_id === contact).map((e) => e.trigger_event_id);
    expect(await keys(funded, leap)).toEqual(['date:deal.funded_on:2027-02-28', 'date:deal.funded_on:2028-02-29']);
    expect(await keys(funded, control)).toEqual(['date:deal.funded_on:2027-03-01', 'date:deal.funded_on:2028-03-01']);
    expect(await keys(dayBefore, leap)).toEqual(['date:deal.funded_on:2027-02-27', 'date:deal.funded_on:2028-02-28']);
    expect(await keys(dayBefore, control)).toEqual([
      'date:deal.funded_on:2027-02-28',
      'date:deal.funded_on:2028-02-29',
    ]);
    expect(await keys(birthday, leap)).toEqual(['date:custom.birthday:2027-02-28', 'date:custom.birthday:2028-02-29']);
    expect(await keys(birthday, control)).toEqual([
      'date:custom.birthday:2027-03-01',
      'date:custom.birthday:2028-03-01',
    ]);
  });
});
