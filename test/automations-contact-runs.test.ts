// A contact's automation runs over HTTP (docs/ARCHITECTURE.md §25), the contact page's
// Automations card: GET contacts/:id/automations lists every run of the contact with the
// automation's name and the steps of the version it follows — for any member; another
// business's contact is a 404, as is an id that names no contact.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asOwner } from '../src/db/engine.ts';
import { signUp, type SignedUpUser } from './support/auth.ts';
import { ENGINE } from './support/engine.ts';
import { addMember, newBusiness } from './support/factories.ts';
import { request, type HttpResponse } from './support/http.ts';
import { startTestServer, type TestServer } from './support/server.ts';

let s: TestServer;
let owner: SignedUpUser;
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
  [owner, member, outsider] = (await Promise.all(Array.from({ length: 3 }, () => signUp(s, { verified: true })))) as [
    SignedUpUser,
    SignedUpUser,
    SignedUpUser,
  ];
  bid = (await newBusiness(s.engine, owner.userId, 'Keystone Mortgage')).id;
  await addMember(s.engine, bid, member.userId, 'member');
  bidB = (await newBusiness(s.engine, outsider.userId, 'Other Lending')).id;
}, 300_000);
afterAll(async () => s?.close());

describe(`a contact's automation runs (${ENGINE})`, () => {
  it('lists the runs with the automation and its steps for any member; 404 across businesses', async () => {
    const a = (
      await call(owner, 'POST', '/automations', {
        name: 'Welcome',
        trigger: { type: 'contact_created', via: ['manual'] },
        steps: [
          { type: 'wait', amount: 3, unit: 'days' },
          { type: 'set_contact_status', status: 'prospect' },
        ],
      })
    ).json;
    expect((await call(owner, 'POST', `/automations/${a.id}/activate`)).status).toBe(200);
    const c = await call(member, 'POST', '/contacts', { first_name: 'Lee', last_name: 'Park' });
    expect(c.status).toBe(201);
    const other = await call(member, 'POST', '/contacts', { first_name: 'Ana', last_name: 'Ruiz' });

    // The server's own job enrolls her (the trigger event is taken within its 15 s grid) and
    // runs the first step, the wait; the enrollment is visible a moment before that step ran.
    const deadline = Date.now() + 60_000;
    let runs: HttpResponse<any> | undefined;
    while (Date.now() < deadline) {
      runs = await call(member, 'GET', `/contacts/${c.json.id}/automations`);
      if (runs.json.items?.[0]?.step_index === 1) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(runs!.status).toBe(200);
    expect(runs!.json.items).toEqual([
      {
        id: expect.any(String),
        automation_id: a.id,
        automation_name: 'Welcome',
        deal_id: null,
        version: 1,
        steps_total: 2,
        state: 'active',
        step_index: 1,
        next_run_at: expect.any(String),
        exit_reason: null,
        error_code: null,
        enrolled_at: expect.any(String),
        finished_at: null,
      },
    ]);
    // Only her runs: the other contact's are not in her list.
    const otherRuns = (await call(owner, 'GET', `/contacts/${other.json.id}/automations`)).json.items;
    expect(otherRuns.every((r: { id: string }) => r.id !== runs!.json.items[0].id)).toBe(true);

    // A trashed contact's runs stay readable (she is on the trash page), the run has exited.
    expect((await call(owner, 'DELETE', `/contacts/${c.json.id}`)).status).toBeLessThan(300);
    const trashed = await call(member, 'GET', `/contacts/${c.json.id}/automations`);
    expect(trashed.json.items).toMatchObject([{ state: 'exited', exit_reason: 'contact_deleted', next_run_at: null }]);

    // Another business: its owner cannot read her runs through either business.
    expect((await call(outsider, 'GET', `/contacts/${c.json.id}/automations`)).status).toBe(404);
    expect((await call(outsider, 'GET', `/contacts/${c.json.id}/automations`, undefined, bidB)).status).toBe(404);
    expect((await call(owner, 'GET', `/contacts/${c.json.id}/automations`, undefined, bidB)).status).toBe(404);
    // An id that names no contact, and one that is not an id.
    const none = await call(member, 'GET', `/contacts/${randomUUID()}/automations`);
    expect([none.status, none.json.error.code]).toEqual([404, 'not_found']);
    expect((await call(member, 'GET', '/contacts/not-a-uuid/automations')).status).toBe(400);
    expect((await call(member, 'GET', `/contacts/${other.json.id}/automations?limit=0`)).status).toBe(400);
  }, 90_000);

  it("another business's runs never show through a contact id of this one", async () => {
    // A run written directly in business B for B's contact: A's members see nothing of it.
    const contactB = randomUUID();
    await asOwner(s.engine, (q) =>
      q.query(`INSERT INTO app.contacts (id, business_id, first_name, last_name) VALUES ($1, $2, 'Bo', 'Berg')`, [
        contactB,
        bidB,
      ]),
    );
    expect((await call(member, 'GET', `/contacts/${contactB}/automations`)).status).toBe(404);
    expect((await call(outsider, 'GET', `/contacts/${contactB}/automations`, undefined, bidB)).json.items).toEqual([]);
  });
});
