// The automation scheduler (docs/ARCHITECTURE.md §25) on the engine under test, with a
// controllable clock: waits (minutes, days, next weekday at a local time), texts through the
// outbox to the Twilio fake (quiet hours, opt-outs), tasks, deal stage, contact status,
// lists; exit rules (reply, opt-out, deleted contact, deal left the stage); paused automations
// hold; running enrollments keep their version; two schedulers at once run each step once;
// and the pg-boss job runs due steps without a test calling the scheduler.
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asOwner } from '../src/db/engine.ts';
import {
  createAutomation,
  setAutomationStatus,
  updateAutomation,
  type AutomationInput,
} from '../src/automations/automations.ts';
import { runDueSteps, type SchedulerDeps } from '../src/automations/scheduler.ts';
import { automationsNotifier, automationsRunHandler, automationsRunQueue } from '../src/jobs/automations-run.ts';
import { createTwilioClient } from '../src/integrations/twilio/client.ts';
import { createOutboxDelivery } from '../src/messaging/outbox.ts';
import { createSmsDriver } from '../src/messaging/sms-driver.ts';
import { startTwilioFake, type TwilioFake } from './fakes/twilio.ts';
import { createTestDatabase, ENGINE, type TestDatabase } from './support/engine.ts';
import { testJobEngine } from './support/jobs.ts';
import { messageIdOf, smsWorld, type SmsWorld } from './support/sms-outbox.ts';

const MASTER_KEY = randomBytes(32).toString('base64');
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

let t: TestDatabase;
let fake: TwilioFake;
let w: SmsWorld;
let deps: SchedulerDeps;
beforeAll(async () => {
  t = await createTestDatabase();
  fake = await startTwilioFake();
  w = await smsWorld(t.engine, t.db, fake, { masterKey: MASTER_KEY });
  // New York, so the quiet-hour and local-time cases below are about a real zone.
  await asOwner(t.engine, (c) =>
    c.query(`UPDATE app.businesses SET time_zone = 'America/New_York' WHERE id = $1`, [w.businessId]),
  );
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
  deps = {
    db: t.db,
    logger: quiet,
    smsWindow: [8, 21],
    notifyOutbox: async (m) => void (await delivery.deliver(m.businessId, m.id)),
  };
}, 300_000);
afterAll(async () => {
  await fake?.close();
  await t?.close();
});

let phones = 0;
async function contact(extra: { status?: string; owner?: boolean } = {}): Promise<{ id: string; phone: string }> {
  const id = randomUUID();
  const phone = `+1777${String(process.pid % 1000).padStart(3, '0')}${String(++phones).padStart(4, '0')}`;
  await asOwner(t.engine, (c) =>
    c.query(
      `INSERT INTO app.contacts (id, business_id, first_name, phone, status, owner_id) VALUES ($1, $2, 'Robin', $3, $4, $5)`,
      [id, w.businessId, phone, extra.status ?? 'lead', extra.owner ? w.ownerId : null],
    ),
  );
  return { id, phone };
}

async function template(body: string): Promise<string> {
  const id = randomUUID();
  await asOwner(t.engine, (c) =>
    c.query(
      `INSERT INTO app.message_templates (id, business_id, name, channel, body, created_by) VALUES ($1, $2, 'T', 'sms', $3, $4)`,
      [id, w.businessId, body, w.ownerId],
    ),
  );
  return id;
}

async function list(): Promise<string> {
  const id = randomUUID();
  await asOwner(t.engine, (c) =>
    c.query(`INSERT INTO app.lists (id, business_id, name) VALUES ($1, $2, $3)`, [
      id,
      w.businessId,
      `L ${id.slice(0, 8)}`,
    ]),
  );
  return id;
}

async function automation(input: Omit<AutomationInput, 'name'>, activate = true): Promise<string> {
  const a = await t.db.asUser({ sub: w.ownerId }, (tx) =>
    createAutomation(tx, { userId: w.ownerId }, w.businessId, { name: 'A', ...input }),
  );
  if (activate) await t.db.asUser({ sub: w.ownerId }, (tx) => setAutomationStatus(tx, w.businessId, a.id, 'active'));
  return a.id;
}

/** Enroll as the trigger intake does (the service, the current version), due at `at`. */
async function enroll(automationId: string, contactId: string, at: Date, dealId: string | null = null) {
  return t.db.asService('test.enroll', async (tx) => {
    const r = await tx.query<{ id: string }>(
      `INSERT INTO app.automation_enrollments
         (business_id, automation_id, version, contact_id, deal_id, trigger_event_id, next_run_at, enrolled_at)
       SELECT business_id, id, version, $3, $4, $5, $6, $6 FROM app.automations WHERE business_id = $1 AND id = $2
       RETURNING id`,
      [w.businessId, automationId, contactId, dealId, randomUUID(), at],
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
  return r.rows;
}

const textsTo = (phone: string) => fake.messages.filter((m) => m.to === phone);
/** Run everything due at `at` (the clock stands still meanwhile). */
const runAt = (at: Date) => runDueSteps(deps, { now: () => at, workers: 2 });
// 15:00 UTC = 10:00 in New York (EST), a Monday.
const MONDAY_10AM = new Date('2026-12-07T15:00:00Z');
const hours = (h: number) => h * 3_600_000;

describe(`automation steps with a controllable clock (${ENGINE})`, () => {
  it('wait 1 day, text from a template through the outbox, task, status, lists, deal stage — each once', async () => {
    const c = await contact({ owner: true });
    const tpl = await template('Hi {{ contact.first_name }}, it is {{ business.name }}.');
    const [keep, drop] = [await list(), await list()];
    await asOwner(t.engine, (q) =>
      q.query('INSERT INTO app.list_members (business_id, list_id, contact_id) VALUES ($1, $2, $3)', [
        w.businessId,
        drop,
        c.id,
      ]),
    );
    const deal = randomUUID();
    await asOwner(t.engine, (q) =>
      q.query(`INSERT INTO app.deals (id, business_id, title, contact_id, stage) VALUES ($1, $2, 'Loan', $3, 'lead')`, [
        deal,
        w.businessId,
        c.id,
      ]),
    );
    const a = await automation({
      trigger: { type: 'contact_created' },
      steps: [
        { type: 'wait', amount: 1, unit: 'days' },
        { type: 'send_sms', template_id: tpl },
        { type: 'create_task', title: 'Call Robin', due_in_days: 2 },
        { type: 'set_contact_status', status: 'prospect' },
        { type: 'add_to_list', list_id: keep },
        { type: 'remove_from_list', list_id: drop },
        { type: 'move_deal_stage', stage: 'application' },
      ],
    });
    const e = await enroll(a, c.id, MONDAY_10AM);
    await runAt(MONDAY_10AM);
    const waiting = await enrollment(e);
    expect(waiting).toMatchObject({ state: 'active', step_index: 1 });
    expect(waiting.next_run_at.toISOString()).toBe('2026-12-08T15:00:00.000Z');
    await runAt(new Date(MONDAY_10AM.getTime() + hours(23)));
    expect(textsTo(c.phone)).toHaveLength(0); // not yet
    await runAt(new Date(MONDAY_10AM.getTime() + hours(24)));
    expect(await enrollment(e)).toMatchObject({ state: 'completed', step_index: 7 });
    const texts = textsTo(c.phone);
    expect(texts).toHaveLength(1);
    expect(texts[0]!.body).toMatch(/^Hi Robin, it is Business /);
    // It went through the outbox, as a message of the contact's conversation.
    const sent = await asOwner(t.engine, (q) =>
      q.query<{ state: string; created_by: string | null }>('SELECT state, created_by FROM app.outbox WHERE id = $1', [
        messageIdOf(texts[0]!.statusCallback),
      ]),
    );
    expect(sent.rows[0]).toEqual({ state: 'sent', created_by: null });
    const facts = await asOwner(t.engine, async (q) => ({
      task: (
        await q.query<{ title: string; assignee_id: string; due_date: string }>(
          `SELECT title, assignee_id, to_char(due_date, 'YYYY-MM-DD') AS due_date FROM app.tasks WHERE contact_id = $1`,
          [c.id],
        )
      ).rows,
      status: (await q.query<{ status: string }>('SELECT status FROM app.contacts WHERE id = $1', [c.id])).rows[0]!
        .status,
      lists: (
        await q.query<{ list_id: string }>('SELECT list_id FROM app.list_members WHERE contact_id = $1', [c.id])
      ).rows.map((r) => r.list_id),
      stage: (await q.query<{ stage: string }>('SELECT stage FROM app.deals WHERE id = $1', [deal])).rows[0]!.stage,
    }));
    expect(facts).toEqual({
      task: [{ title: 'Call Robin', assignee_id: w.ownerId, due_date: '2026-12-10' }],
      status: 'prospect',
      lists: [keep],
      stage: 'application',
    });
    expect((await events(e)).map((x) => `${x.kind}:${x.step_type ?? ''}`)).toEqual([
      'step_done:wait',
      'step_done:send_sms',
      'step_done:create_task',
      'step_done:set_contact_status',
      'step_done:add_to_list',
      'step_done:remove_from_list',
      'step_done:move_deal_stage',
      'completed:',
    ]);
    // Running again changes nothing.
    expect(await runAt(new Date(MONDAY_10AM.getTime() + hours(48)))).toBe(0);
    expect(textsTo(c.phone)).toHaveLength(1);
  });

  it('quiet hours: a text due at 23:00 local waits for 08:00; wait_until picks the next weekday at a local time', async () => {
    const c = await contact();
    const a = await automation({
      trigger: { type: 'contact_created' },
      steps: [
        { type: 'send_sms', template_id: await template('Evening') },
        { type: 'wait_until', weekdays: ['wed'], at: '09:30' },
        { type: 'set_contact_status', status: 'prospect' },
      ],
    });
    const eleven = new Date('2026-12-08T04:00:00Z'); // Monday 23:00 in New York
    const e = await enroll(a, c.id, eleven);
    await runAt(eleven);
    expect(textsTo(c.phone)).toHaveLength(0);
    expect((await enrollment(e)).next_run_at.toISOString()).toBe('2026-12-08T13:00:00.000Z'); // Tuesday 08:00
    await runAt(new Date('2026-12-08T13:00:00Z'));
    expect(textsTo(c.phone)).toHaveLength(1);
    const waiting = await enrollment(e);
    expect(waiting).toMatchObject({ state: 'active', step_index: 2 });
    expect(waiting.next_run_at.toISOString()).toBe('2026-12-09T14:30:00.000Z'); // Wednesday 09:30 EST
  });

  it('exit rules: a reply, a STOP, a deleted contact, a deal that left its stage end the run before the next step', async () => {
    const tpl = await template('Checking in');
    const steps: AutomationInput['steps'] = [
      { type: 'wait', amount: 10, unit: 'minutes' },
      { type: 'send_sms', template_id: tpl },
    ];
    const a = await automation({ trigger: { type: 'contact_created' }, steps });
    const dealAuto = await automation({
      trigger: { type: 'deal_stage_changed', to: 'application' },
      steps,
      exit: { on_deal_stage_change: true },
    });
    const [replied, stopped, deleted, moved] = [await contact(), await contact(), await contact(), await contact()];
    const deal = randomUUID();
    await asOwner(t.engine, (q) =>
      q.query(
        `INSERT INTO app.deals (id, business_id, title, contact_id, stage) VALUES ($1, $2, 'Loan', $3, 'application')`,
        [deal, w.businessId, moved.id],
      ),
    );
    const ids = {
      replied: await enroll(a, replied.id, MONDAY_10AM),
      stopped: await enroll(a, stopped.id, MONDAY_10AM),
      deleted: await enroll(a, deleted.id, MONDAY_10AM),
      moved: await enroll(dealAuto, moved.id, MONDAY_10AM, deal),
    };
    await runAt(MONDAY_10AM); // everyone is waiting 10 minutes
    await asOwner(t.engine, async (q) => {
      const conv = await q.query<{ id: string }>(
        `INSERT INTO app.conversations (business_id, contact_id, our_number, twilio_config_id) VALUES ($1, $2, $3, $4) RETURNING id`,
        [w.businessId, replied.id, w.number, w.configId],
      );
      await q.query(
        `INSERT INTO app.messages (business_id, conversation_id, direction, body, status, created_at)
         VALUES ($1, $2, 'inbound', 'yes call me', 'received', $3)`,
        [w.businessId, conv.rows[0]!.id, new Date(MONDAY_10AM.getTime() + 60_000)],
      );
      await q.query('INSERT INTO app.sms_opt_outs (business_id, contact_id, our_number) VALUES ($1, $2, $3)', [
        w.businessId,
        stopped.id,
        w.number,
      ]);
      await q.query('UPDATE app.contacts SET deleted_at = now() WHERE id = $1', [deleted.id]);
      await q.query(`UPDATE app.deals SET stage = 'processing' WHERE id = $1`, [deal]);
    });
    await runAt(new Date(MONDAY_10AM.getTime() + 11 * 60_000));
    for (const [reason, id] of Object.entries({
      replied: ids.replied,
      opted_out: ids.stopped,
      contact_deleted: ids.deleted,
      deal_left_stage: ids.moved,
    }))
      expect(await enrollment(id)).toMatchObject({ state: 'exited', exit_reason: reason });
    for (const c of [replied, stopped, deleted, moved]) expect(textsTo(c.phone)).toHaveLength(0);
    expect((await events(ids.replied)).at(-1)).toMatchObject({ kind: 'exited', details: { reason: 'replied' } });
  });

  it('a reply, a STOP or a deletion ends running enrollments in its own transaction, before any step runs', async () => {
    const a = await automation({
      trigger: { type: 'contact_created' },
      steps: [
        { type: 'wait', amount: 1, unit: 'days' },
        { type: 'set_contact_status', status: 'client' },
      ],
    });
    const noReplyExit = await automation({
      trigger: { type: 'contact_created' },
      steps: [{ type: 'wait', amount: 1, unit: 'days' }],
      exit: { on_reply: false },
    });
    const [replier, stopper, deleted] = [await contact(), await contact(), await contact()];
    const ids = {
      replier: await enroll(a, replier.id, new Date(Date.now() - 60_000)),
      kept: await enroll(noReplyExit, replier.id, new Date(Date.now() - 60_000)),
      stopper: await enroll(a, stopper.id, new Date(Date.now() - 60_000)),
      deleted: await enroll(a, deleted.id, new Date(Date.now() - 60_000)),
    };
    await t.db.asService('test.inbound', async (tx) => {
      for (const [c, body] of [
        [replier, 'Yes, call me'],
        [stopper, 'STOP'],
      ] as const) {
        const conv = await tx.query<{ id: string }>(
          `INSERT INTO app.conversations (business_id, contact_id, our_number, twilio_config_id) VALUES ($1, $2, $3, $4) RETURNING id`,
          [w.businessId, c.id, w.number, w.configId],
        );
        await tx.query(
          `INSERT INTO app.messages (business_id, conversation_id, direction, body, status) VALUES ($1, $2, 'inbound', $3, 'received')`,
          [w.businessId, conv.rows[0]!.id, body],
        );
      }
      await tx.query('INSERT INTO app.sms_opt_outs (business_id, contact_id, our_number) VALUES ($1, $2, $3)', [
        w.businessId,
        stopper.id,
        w.number,
      ]);
    });
    await t.db.asUser({ sub: w.ownerId }, (tx) =>
      tx.query('UPDATE app.contacts SET deleted_at = now() WHERE business_id = $1 AND id = $2', [
        w.businessId,
        deleted.id,
      ]),
    );
    // No scheduler ran: the exits happened with the reply, the STOP and the deletion.
    expect(await enrollment(ids.replier)).toMatchObject({ state: 'exited', exit_reason: 'replied' });
    expect(await enrollment(ids.stopper)).toMatchObject({ state: 'exited', exit_reason: 'opted_out' });
    expect(await enrollment(ids.deleted)).toMatchObject({ state: 'exited', exit_reason: 'contact_deleted' });
    expect(await enrollment(ids.kept)).toMatchObject({ state: 'active' }); // its exit rule is off
    expect((await events(ids.replier)).map((e) => e.kind)).toEqual(['exited']);
  });

  it('a paused automation holds its enrollments; activated again, the step that came due runs', async () => {
    const c = await contact();
    const a = await automation({
      trigger: { type: 'contact_created' },
      steps: [
        { type: 'wait', amount: 1, unit: 'hours' },
        { type: 'set_contact_status', status: 'client' },
      ],
    });
    const e = await enroll(a, c.id, MONDAY_10AM);
    await runAt(MONDAY_10AM);
    await t.db.asUser({ sub: w.ownerId }, (tx) => setAutomationStatus(tx, w.businessId, a, 'paused'));
    await runAt(new Date(MONDAY_10AM.getTime() + hours(2)));
    expect(await enrollment(e)).toMatchObject({ state: 'paused', step_index: 1 });
    await t.db.asUser({ sub: w.ownerId }, (tx) => setAutomationStatus(tx, w.businessId, a, 'active'));
    await runAt(new Date(MONDAY_10AM.getTime() + hours(3)));
    expect(await enrollment(e)).toMatchObject({ state: 'completed' });
  });

  it('an edit applies to new enrollments; a running one finishes on its version', async () => {
    const [old, fresh] = [await contact(), await contact()];
    const a = await automation({
      trigger: { type: 'contact_created' },
      steps: [
        { type: 'wait', amount: 5, unit: 'minutes' },
        { type: 'set_contact_status', status: 'client' },
      ],
    });
    const e1 = await enroll(a, old.id, MONDAY_10AM);
    await runAt(MONDAY_10AM);
    await t.db.asUser({ sub: w.ownerId }, (tx) =>
      updateAutomation(tx, { userId: w.ownerId }, w.businessId, a, {
        definition: {
          trigger: { type: 'contact_created' },
          steps: [{ type: 'set_contact_status', status: 'past_client' }],
        },
      }),
    );
    const e2 = await enroll(a, fresh.id, MONDAY_10AM);
    await runAt(new Date(MONDAY_10AM.getTime() + 6 * 60_000));
    const statuses = await asOwner(t.engine, (q) =>
      q.query<{ id: string; status: string }>('SELECT id, status::text FROM app.contacts WHERE id = ANY($1::uuid[])', [
        [old.id, fresh.id],
      ]),
    );
    expect(Object.fromEntries(statuses.rows.map((r) => [r.id, r.status]))).toEqual({
      [old.id]: 'client',
      [fresh.id]: 'past_client',
    });
    expect((await enrollment(e1)).state).toBe('completed');
    expect((await enrollment(e2)).state).toBe('completed');
  });

  it('a step that cannot run fails the enrollment with a code (template deleted), without a send', async () => {
    const c = await contact();
    const tpl = await template('Gone soon');
    const a = await automation({
      trigger: { type: 'contact_created' },
      steps: [{ type: 'send_sms', template_id: tpl }],
    });
    await asOwner(t.engine, (q) => q.query('DELETE FROM app.message_templates WHERE id = $1', [tpl]));
    const e = await enroll(a, c.id, MONDAY_10AM);
    await runAt(MONDAY_10AM);
    expect(await enrollment(e)).toMatchObject({ state: 'failed', error_code: 'template_missing' });
    expect(textsTo(c.phone)).toHaveLength(0);
  });

  // PGlite runs one transaction at a time: fewer rows there keep the file quick on a loaded machine.
  const N = ENGINE === 'embedded' ? 30 : 60;
  it(`two schedulers draining the same ${N} enrollments at once run every step exactly once`, async () => {
    const tpl = await template('Once only');
    const a = await automation({
      trigger: { type: 'contact_created' },
      steps: [
        { type: 'send_sms', template_id: tpl },
        { type: 'create_task', title: 'Follow up' },
      ],
    });
    const contacts: { id: string; phone: string }[] = [];
    for (let i = 0; i < N; i++) contacts.push(await contact());
    for (const c of contacts) await enroll(a, c.id, MONDAY_10AM);
    const [n1, n2] = await Promise.all([
      runDueSteps(deps, { now: () => MONDAY_10AM, workers: 3 }),
      runDueSteps(deps, { now: () => MONDAY_10AM, workers: 3 }),
    ]);
    expect(n1 + n2).toBe(2 * N);
    for (const c of contacts) expect(textsTo(c.phone)).toHaveLength(1);
    const counts = await asOwner(t.engine, (q) =>
      q.query<{ tasks: number; done: number }>(
        `SELECT (SELECT count(*)::int FROM app.tasks WHERE contact_id = ANY($1::uuid[])) AS tasks,
                (SELECT count(*)::int FROM app.automation_enrollments WHERE automation_id = $2 AND state = 'completed') AS done`,
        [contacts.map((c) => c.id), a],
      ),
    );
    expect(counts.rows[0]).toEqual({ tasks: N, done: N });
  }, 240_000);
});

describe(`the automations.run job (${ENGINE})`, () => {
  it('a nudge makes the job engine run a due step, with no test calling the scheduler', async () => {
    const c = await contact();
    const a = await automation({
      trigger: { type: 'contact_created' },
      steps: [{ type: 'set_contact_status', status: 'application' }],
    });
    const jobs = testJobEngine(t);
    jobs.register(automationsRunQueue, automationsRunHandler(deps, jobs, { workers: 2 }));
    await jobs.start();
    try {
      const e = await enroll(a, c.id, new Date());
      await automationsNotifier(jobs).nudge();
      const deadline = Date.now() + 20_000;
      while ((await enrollment(e)).state !== 'completed' && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 200));
      expect(await enrollment(e)).toMatchObject({ state: 'completed' });
    } finally {
      await jobs.stop();
    }
  });
});
