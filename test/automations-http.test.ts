// Automations over HTTP (docs/ARCHITECTURE.md §25): create, read, edit, activate, pause,
// enrollments and recipes — with the role and business boundaries of 0101's policies, clear
// 4xx codes for bad input, and a contact created through the API enrolled and run by the
// server's own job engine.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RECIPE_KEYS } from '../src/automations/recipes.ts';
import { signUp, type SignedUpUser } from './support/auth.ts';
import { ENGINE } from './support/engine.ts';
import { addMember, newBusiness } from './support/factories.ts';
import { request, type HttpResponse } from './support/http.ts';
import { startTestServer, type TestServer } from './support/server.ts';

let s: TestServer;
let owner: SignedUpUser;
let admin: SignedUpUser;
let member: SignedUpUser;
let outsider: SignedUpUser; // owner of business B
let bid: string;
let bidB: string;

const call = (user: SignedUpUser, method: string, path: string, body?: unknown, business = bid) =>
  request(`${s.url}/api/businesses/${business}${path}`, { method, token: user.accessToken, body }) as Promise<
    HttpResponse<any>
  >;

beforeAll(async () => {
  s = await startTestServer({ CAPTO_SCAN_ON_START: 'off' });
  [owner, admin, member, outsider] = (await Promise.all(
    Array.from({ length: 4 }, () => signUp(s, { verified: true })),
  )) as [SignedUpUser, SignedUpUser, SignedUpUser, SignedUpUser];
  bid = (await newBusiness(s.engine, owner.userId, 'Keystone Mortgage')).id;
  await addMember(s.engine, bid, admin.userId, 'admin');
  await addMember(s.engine, bid, member.userId, 'member');
  bidB = (await newBusiness(s.engine, outsider.userId, 'Other Lending')).id;
}, 300_000);
afterAll(async () => s?.close());

const body = (name = 'Welcome') => ({
  name,
  trigger: { type: 'contact_created' },
  steps: [{ type: 'set_contact_status', status: 'prospect' }],
});

describe(`automations API (${ENGINE})`, () => {
  it('owners and admins create; a member gets 403; another business 404; bad input 400 or 404', async () => {
    const byOwner = await call(owner, 'POST', '/automations', body('By owner'));
    expect(byOwner.status).toBe(201);
    expect(byOwner.json).toMatchObject({
      name: 'By owner',
      status: 'draft',
      version: 1,
      exit: { on_reply: true, on_opt_out: true, on_deal_stage_change: false, reenroll_after_days: null },
      counts: { active: 0, completed: 0 },
    });
    expect((await call(admin, 'POST', '/automations', body('By admin'))).status).toBe(201);
    const m = await call(member, 'POST', '/automations', body());
    expect([m.status, m.json.error.code]).toEqual([403, 'forbidden']);
    const other = await call(outsider, 'POST', '/automations', body());
    expect([other.status, other.json.error.code]).toEqual([404, 'not_found']);
    for (const bad of [
      { ...body(), steps: [] },
      { ...body(), steps: [{ type: 'wait', amount: 0, unit: 'days' }] },
      { ...body(), steps: [{ type: 'launch_rocket' }] },
      { ...body(), trigger: { type: 'date', field: 'deal.title', offset_days: 0, at: '9am' } },
      { ...body(), name: '' },
    ]) {
      const r = await call(owner, 'POST', '/automations', bad);
      expect([r.status, r.json.error.code]).toEqual([400, 'validation_failed']);
    }
    const listB = await call(outsider, 'POST', '/lists', { name: 'B list' }, bidB);
    expect(listB.status).toBe(201);
    const foreign = await call(owner, 'POST', '/automations', {
      ...body(),
      steps: [{ type: 'add_to_list', list_id: listB.json.id }],
    });
    expect([foreign.status, foreign.json.error.code]).toEqual([404, 'not_found']);
    // Everyone in the business reads them; B sees none of them.
    const seen = await call(member, 'GET', '/automations');
    expect(seen.json.items.map((a: { name: string }) => a.name)).toEqual(['By owner', 'By admin']);
    expect((await call(member, 'GET', `/automations/${byOwner.json.id}`)).status).toBe(200);
    expect((await call(outsider, 'GET', '/automations', undefined, bidB)).json.items).toEqual([]);
    expect((await call(outsider, 'GET', `/automations/${byOwner.json.id}`, undefined, bidB)).status).toBe(404);
    expect((await call(outsider, 'GET', `/automations/${byOwner.json.id}`)).status).toBe(404);
  });

  it('edit makes a new version; activate and pause are owner/admin actions with clear transitions', async () => {
    const a = (await call(owner, 'POST', '/automations', body('Edit me'))).json;
    const m = await call(member, 'PATCH', `/automations/${a.id}`, { name: 'Mine' });
    expect([m.status, m.json.error.code]).toEqual([403, 'forbidden']);
    const renamed = await call(admin, 'PATCH', `/automations/${a.id}`, { name: 'Renamed' });
    expect(renamed.json).toMatchObject({ name: 'Renamed', version: 1 });
    const edited = await call(admin, 'PATCH', `/automations/${a.id}`, {
      steps: [{ type: 'wait', amount: 2, unit: 'hours' }],
      exit: { reenroll_after_days: 7 },
    });
    expect(edited.json).toMatchObject({
      version: 2,
      trigger: { type: 'contact_created' },
      steps: [{ type: 'wait', amount: 2, unit: 'hours' }],
      exit: { on_reply: true, reenroll_after_days: 7 },
    });
    const mAct = await call(member, 'POST', `/automations/${a.id}/activate`);
    expect([mAct.status, mAct.json.error.code]).toEqual([403, 'forbidden']);
    expect((await call(outsider, 'POST', `/automations/${a.id}/activate`, undefined, bidB)).status).toBe(404);
    expect((await call(owner, 'POST', `/automations/${a.id}/pause`)).json.error.code).toBe('invalid_transition');
    expect((await call(owner, 'POST', `/automations/${a.id}/activate`)).json.status).toBe('active');
    const again = await call(owner, 'POST', `/automations/${a.id}/activate`);
    expect([again.status, again.json.error.code]).toEqual([409, 'invalid_transition']);
    expect((await call(admin, 'POST', `/automations/${a.id}/pause`)).json.status).toBe('paused');
  });

  it('the send_email, notify and draft_ai_reply steps: saved and read back; wrong channel 400; another business’s template or member, an unknown sender 404', async () => {
    const email = await call(owner, 'POST', '/templates', {
      name: 'Hello',
      channel: 'email',
      subject: 'Hi',
      body: 'Hi',
    });
    const sms = await call(owner, 'POST', '/templates', { name: 'Text', channel: 'sms', body: 'Hi' });
    const theirs = await call(
      outsider,
      'POST',
      '/templates',
      { name: 'B', channel: 'email', subject: 'B', body: 'B' },
      bidB,
    );
    expect([email.status, sms.status, theirs.status]).toEqual([201, 201, 201]);
    const steps = [
      { type: 'send_email', template_id: email.json.id },
      { type: 'notify', to: member.userId, message: 'Call them today' },
      { type: 'notify', to: 'admins' },
      { type: 'notify' },
      { type: 'draft_ai_reply' },
    ];
    const ok = await call(admin, 'POST', '/automations', { ...body('New steps'), steps });
    expect(ok.status).toBe(201);
    expect(ok.json.steps).toEqual([...steps.slice(0, 3), { type: 'notify', to: 'contact_owner' }, steps[4]]);
    for (const [bad, status] of [
      [{ type: 'send_email', template_id: sms.json.id }, 400],
      [{ type: 'send_sms', template_id: email.json.id }, 400],
      [{ type: 'send_email', template_id: 'nope' }, 400],
      [{ type: 'notify', to: 'everyone' }, 400],
      [{ type: 'notify', message: '' }, 400],
      [{ type: 'draft_ai_reply', send: true }, 400],
      [{ type: 'send_email', template_id: theirs.json.id }, 404],
      [{ type: 'send_email', template_id: email.json.id, sender_id: theirs.json.id }, 404],
      [{ type: 'notify', to: outsider.userId }, 404],
    ] as const) {
      const r = await call(owner, 'POST', '/automations', { ...body(), steps: [bad] });
      expect([r.status, r.json.error.code], JSON.stringify(bad)).toEqual([
        status,
        status === 400 ? 'validation_failed' : 'not_found',
      ]);
    }
  });

  it('recipes are listed for every member, with a sentence each; another business gets 404', async () => {
    const r = await call(member, 'GET', '/automations/recipes');
    expect(r.status).toBe(200);
    expect(r.json.items.map((x: { key: string }) => x.key)).toEqual(RECIPE_KEYS);
    expect(r.json.items[0]).toMatchObject({ key: 'speed_to_lead', name: 'Speed to lead' });
    for (const x of r.json.items) expect(x.about.length).toBeGreaterThan(20);
    expect((await call(outsider, 'GET', '/automations/recipes')).status).toBe(404);
    expect((await call(outsider, 'GET', '/automations/recipes', undefined, bidB)).status).toBe(200);
  });

  it('recipes: each key makes an editable draft with its text templates; unknown key 404; member 403', async () => {
    for (const key of RECIPE_KEYS) {
      const r = await call(owner, 'POST', `/automations/recipes/${key}`);
      expect(r.status).toBe(201);
      expect(r.json).toMatchObject({ recipe: key, status: 'draft', version: 1 });
      const templateIds = r.json.steps
        .filter((st: { type: string; channel?: string }) => st.type === 'send_sms' || st.channel === 'sms')
        .map((st: { template_id: string }) => st.template_id);
      expect(templateIds.length).toBeGreaterThan(0);
      for (const id of templateIds) {
        const t = await call(member, 'GET', `/templates/${id}`);
        expect([t.status, t.json.channel]).toEqual([200, 'sms']);
      }
    }
    const speed = (await call(owner, 'GET', '/automations')).json.items.find(
      (a: { recipe: string }) => a.recipe === 'speed_to_lead',
    );
    expect(speed.steps.map((st: { type: string }) => st.type)).toEqual([
      'send_sms',
      'wait',
      'create_task',
      'wait',
      'send_sms',
      'wait',
      'send_sms',
    ]);
    const unknown = await call(owner, 'POST', '/automations/recipes/free_money');
    expect([unknown.status, unknown.json.error.code]).toEqual([404, 'not_found']);
    const m = await call(member, 'POST', '/automations/recipes/birthday');
    expect([m.status, m.json.error.code]).toEqual([403, 'forbidden']);
  });

  it('a contact created through the API is enrolled and run by the server’s own job; enrollments are listed', async () => {
    const a = (
      await call(owner, 'POST', '/automations', {
        name: 'New lead status',
        trigger: { type: 'contact_created', via: ['manual'] },
        steps: [{ type: 'set_contact_status', status: 'prospect' }],
      })
    ).json;
    expect((await call(owner, 'POST', `/automations/${a.id}/activate`)).status).toBe(200);
    const c = await call(member, 'POST', '/contacts', { first_name: 'Lee', last_name: 'Park', phone: '+14155550199' });
    expect(c.status).toBe(201);
    const deadline = Date.now() + 60_000;
    let items: any[] = [];
    while (Date.now() < deadline) {
      items = (await call(member, 'GET', `/automations/${a.id}/enrollments`)).json.items;
      if (items[0]?.state === 'completed') break;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(items).toMatchObject([{ contact_id: c.json.id, contact_name: 'Lee Park', state: 'completed', version: 1 }]);
    expect((await call(member, 'GET', `/contacts/${c.json.id}`)).json.status).toBe('prospect');
    expect((await call(member, 'GET', `/automations/${a.id}`)).json.counts).toMatchObject({ completed: 1 });
    // The run is on the contact's timeline: enrolled, the step, the end.
    const timeline = (await call(member, 'GET', `/contacts/${c.json.id}/timeline`)).json.items.filter(
      (i: { kind: string }) => i.kind === 'automation',
    );
    expect(timeline.map((i: { data: { status: string; name: string } }) => [i.data.name, i.data.status])).toEqual([
      ['New lead status', 'completed'],
      ['New lead status', 'set contact status done'],
      ['New lead status', 'enrolled'],
    ]);
    expect((await call(outsider, 'GET', `/contacts/${c.json.id}/timeline`, undefined, bidB)).status).toBe(404);
    expect((await call(member, 'GET', `/automations/${a.id}/enrollments?state=active`)).json.items).toEqual([]);
    const bad = await call(member, 'GET', `/automations/${a.id}/enrollments?state=lost`);
    expect(bad.status).toBe(400);
    expect((await call(outsider, 'GET', `/automations/${a.id}/enrollments`, undefined, bidB)).status).toBe(404);
  }, 90_000);
});
