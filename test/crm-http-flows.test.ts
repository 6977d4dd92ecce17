// The CRM journeys over HTTPS: bad input is a clear 4xx with a stable code and writes
// nothing; duplicates answer 409 with the existing id; paging, the trash, bulk list
// changes, the kanban board, "my open tasks", conversations, the timeline and the
// global search behave as the UI expects; and the OpenAPI document describes it all.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asOwner } from '../src/db/engine.ts';
import { signUp, type SignedUpUser } from './support/auth.ts';
import { addMember, newBusiness } from './support/factories.ts';
import { request } from './support/http.ts';
import { startTestServer, type TestServer } from './support/server.ts';

let server: TestServer;
let owner: SignedUpUser;
let admin: SignedUpUser;
let member: SignedUpUser;
let bid: string;
const api = (path: string, token: string, init: { method?: string; body?: unknown } = {}) =>
  request(`${server.url}/api/businesses/${bid}${path}`, { token, ...init });
const count = async (table: string) =>
  asOwner(server.engine, async (c) =>
    Number(
      (await c.query<{ n: string }>(`SELECT count(*) AS n FROM app.${table} WHERE business_id = $1`, [bid])).rows[0]!.n,
    ),
  );

beforeAll(async () => {
  server = await startTestServer();
  [owner, admin, member] = (await Promise.all([1, 2, 3].map(() => signUp(server, { verified: true })))) as [
    SignedUpUser,
    SignedUpUser,
    SignedUpUser,
  ];
  bid = (await newBusiness(server.engine, owner.userId, 'Flow Lending')).id;
  await addMember(server.engine, bid, admin.userId, 'admin');
  await addMember(server.engine, bid, member.userId, 'member');
});
afterAll(async () => server?.stop());

describe('contacts over HTTP', () => {
  it('refuses bad input with a clear 4xx and writes nothing', async () => {
    const before = await count('contacts');
    const cases: [unknown, number, string][] = [
      [{ first_name: 'A', phone: '12' }, 400, 'invalid_phone'],
      [{ first_name: 'A', phone: '+1 555 555 0100' }, 400, 'invalid_phone'],
      [{ first_name: 'A', email: 'not-an-email' }, 400, 'invalid_email'],
      [{ first_name: 123 }, 400, 'validation_failed'],
      [{ first_name: 'x'.repeat(101) }, 400, 'validation_failed'],
      [{ notes: 'x'.repeat(10_001), first_name: 'A' }, 400, 'validation_failed'],
      [{ first_name: 'A', status: 'vip' }, 400, 'validation_failed'],
      [{ first_name: 'A', business_id: bid }, 400, 'validation_failed'],
      [{ first_name: 'A', owner_id: 'nobody' }, 400, 'validation_failed'],
      [{}, 400, 'validation_failed'],
      [[], 400, 'validation_failed'],
    ];
    for (const [body, status, code] of cases) {
      const r = await api('/contacts', member.accessToken, { body });
      expect([JSON.stringify(body).slice(0, 60), r.status, r.json?.error?.code]).toEqual([
        JSON.stringify(body).slice(0, 60),
        status,
        code,
      ]);
    }
    const raw = await request(`${server.url}/api/businesses/${bid}/contacts`, {
      token: member.accessToken,
      raw: '{"first_name":',
      headers: { 'content-type': 'application/json' },
      method: 'POST',
    });
    expect([raw.status, raw.json.error.code]).toEqual([400, 'invalid_json']);
    expect(await count('contacts')).toBe(before);
  });

  it('creates, answers duplicates with 409 and the existing id, and updates', async () => {
    const created = await api('/contacts', member.accessToken, {
      body: {
        first_name: 'Lena',
        last_name: 'Park',
        phone: '(415) 555-0123',
        email: 'Lena@Park.test',
        source: 'zillow',
      },
    });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({
      phone: '+14155550123',
      email: 'lena@park.test',
      source: 'zillow',
      owner_id: member.userId,
    });
    const dup = await api('/contacts', owner.accessToken, { body: { first_name: 'L', phone: '+1 415 555 0123' } });
    expect(dup.status).toBe(409);
    expect(dup.json.error).toMatchObject({ code: 'duplicate_contact', existing_id: created.json.id });
    const patched = await api(`/contacts/${created.json.id}`, owner.accessToken, {
      method: 'PATCH',
      body: { status: 'client', owner_id: admin.userId },
    });
    expect(patched.json).toMatchObject({ status: 'client', owner_id: admin.userId });
    const badPatch = await api(`/contacts/${created.json.id}`, owner.accessToken, {
      method: 'PATCH',
      body: { email: 'bad@' },
    });
    expect([badPatch.status, badPatch.json.error.code]).toEqual([400, 'invalid_email']);
  });

  it('pages with next_cursor and filters', async () => {
    for (let i = 0; i < 5; i++)
      await api('/contacts', member.accessToken, {
        body: { first_name: `Pager${i}`, last_name: 'Zz', status: 'prospect' },
      });
    const names: string[] = [];
    let cursor: string | null = null;
    do {
      const r = await api(
        `/contacts?status=prospect&sort=name&limit=2${cursor ? `&cursor=${cursor}` : ''}`,
        member.accessToken,
      );
      expect(r.status).toBe(200);
      names.push(...r.json.items.map((c: { first_name: string }) => c.first_name));
      cursor = r.json.next_cursor;
    } while (cursor);
    expect(names).toEqual(['Pager0', 'Pager1', 'Pager2', 'Pager3', 'Pager4']);
    const bad = await api('/contacts?limit=0', member.accessToken);
    expect(bad.status).toBe(400);
    const forged = await api('/contacts?cursor=AAAA', member.accessToken);
    expect([forged.status, forged.json.error.code]).toEqual([400, 'validation_failed']);
  });

  it('trashes and restores; only an admin deletes forever', async () => {
    const c = (await api('/contacts', member.accessToken, { body: { first_name: 'Temp', email: 'temp@x.test' } })).json;
    expect((await api(`/contacts/${c.id}`, member.accessToken, { method: 'DELETE' })).json.deleted_at).not.toBeNull();
    const trash = await api('/contacts?deleted=true', member.accessToken);
    expect(trash.json.items.map((x: { id: string }) => x.id)).toContain(c.id);
    expect(
      (await api(`/contacts/${c.id}`, member.accessToken, { method: 'PATCH', body: { first_name: 'X' } })).status,
    ).toBe(404);
    expect((await api(`/contacts/${c.id}/restore`, member.accessToken, { method: 'POST' })).json.deleted_at).toBeNull();
    await api(`/contacts/${c.id}`, member.accessToken, { method: 'DELETE' });
    const refused = await api(`/contacts/${c.id}/permanent`, member.accessToken, { method: 'DELETE' });
    expect([refused.status, refused.json.error.code]).toEqual([403, 'forbidden']);
    expect((await api(`/contacts/${c.id}/permanent`, admin.accessToken, { method: 'DELETE' })).status).toBe(204);
    expect((await api(`/contacts/${c.id}`, admin.accessToken)).status).toBe(404);
  });
});

describe('lists, pipeline, tasks over HTTP', () => {
  it('adds and removes contacts in bulk, all or nothing', async () => {
    const ids: string[] = [];
    for (const n of ['Ava', 'Ben'])
      ids.push((await api('/contacts', member.accessToken, { body: { first_name: n, last_name: 'Listed' } })).json.id);
    const list = (await api('/lists', member.accessToken, { body: { name: 'Past Clients', color: '#10B981' } })).json;
    expect(list.color).toBe('#10b981');
    expect((await api('/lists', member.accessToken, { body: { name: 'past clients' } })).status).toBe(409);
    expect((await api('/lists', member.accessToken, { body: { name: 'Bad', color: 'red' } })).status).toBe(400);
    const withStranger = await api(`/lists/${list.id}/members`, member.accessToken, {
      body: { contact_ids: [...ids, '7b0a5a0e-3c5b-4d8e-9b1a-2f4c6d8e0a1b'] },
    });
    expect(withStranger.status).toBe(404);
    expect(await count('list_members')).toBe(0);
    expect((await api(`/lists/${list.id}/members`, member.accessToken, { body: { contact_ids: ids } })).json).toEqual({
      added: 2,
    });
    expect((await api(`/lists/${list.id}`, member.accessToken)).json.member_count).toBe(2);
    expect((await api(`/contacts/${ids[0]}/lists`, member.accessToken)).json.items).toEqual([
      { id: list.id, name: 'Past Clients', color: '#10b981' },
    ]);
    expect(
      (
        await api(`/lists/${list.id}/members`, member.accessToken, {
          method: 'DELETE',
          body: { contact_ids: [ids[0]] },
        })
      ).json,
    ).toEqual({ removed: 1 });
    const timeline = (await api(`/contacts/${ids[0]}/timeline`, member.accessToken)).json.items.map(
      (i: { kind: string }) => i.kind,
    );
    expect(timeline).toEqual(['list_removed', 'list_added', 'created']);
  });

  it('keeps kanban positions dense and records stage changes', async () => {
    const mk = async (title: string) =>
      (
        await api('/deals', member.accessToken, {
          body: { title, amount_cents: 45_000_000, loan_type: 'fha', expected_close_date: '2027-01-15' },
        })
      ).json;
    const [d1, d2, d3] = [await mk('D1'), await mk('D2'), await mk('D3')];
    expect([d1.position, d2.position, d3.position]).toEqual([0, 1, 2]);
    expect(d1).toMatchObject({
      amount_cents: 45_000_000,
      loan_type: 'fha',
      expected_close_date: '2027-01-15',
      stage: 'lead',
    });
    await api(`/deals/${d3.id}/move`, member.accessToken, { body: { position: 0 } });
    await api(`/deals/${d1.id}/move`, member.accessToken, { body: { stage: 'application' } });
    const lead = (await api('/deals?stage=lead', member.accessToken)).json.items.map(
      (d: { title: string; position: number }) => [d.title, d.position],
    );
    expect(lead).toEqual([
      ['D3', 0],
      ['D2', 1],
    ]);
    const history = (await api(`/deals/${d1.id}/stage-changes`, member.accessToken)).json.items.map(
      (s: { from_stage: string | null; to_stage: string }) => [s.from_stage, s.to_stage],
    );
    expect(history).toEqual([
      [null, 'lead'],
      ['lead', 'application'],
    ]);
    for (const body of [
      { title: '' },
      { title: 'x', amount_cents: -1 },
      { title: 'x', amount_cents: 1.5 },
      { title: 'x', stage: 'closed' },
      { title: 'x', expected_close_date: '2027-13-45' },
    ]) {
      expect((await api('/deals', member.accessToken, { body })).status).toBe(400);
    }
  });

  it('serves "my open tasks" by due date and records when a task is done', async () => {
    const mine = async (title: string, due_date: string | null, assignee_id?: string) =>
      (await api('/tasks', owner.accessToken, { body: { title, due_date, ...(assignee_id ? { assignee_id } : {}) } }))
        .json;
    const later = await mine('Later', '2027-03-01', member.userId);
    const sooner = await mine('Sooner', '2027-02-01', member.userId);
    await mine('Not mine', '2027-01-01');
    const done = await api(`/tasks/${later.id}`, member.accessToken, { method: 'PATCH', body: { done: true } });
    expect(done.json.done_at).not.toBeNull();
    const open = (await api('/tasks?assignee=me&done=false', member.accessToken)).json.items.map(
      (t: { id: string }) => t.id,
    );
    expect(open).toEqual([sooner.id]);
    const foreignAssignee = await api('/tasks', owner.accessToken, {
      body: { title: 'x', assignee_id: '7b0a5a0e-3c5b-4d8e-9b1a-2f4c6d8e0a1b' },
    });
    expect(foreignAssignee.status).toBe(400);
  });
});

describe('conversations, timeline and search over HTTP', () => {
  it('lists conversations with unread counts, pages messages, and marks read', async () => {
    const contact = (
      await api('/contacts', member.accessToken, { body: { first_name: 'Texter', phone: '+14155550177' } })
    ).json;
    const conv = await server.db.asService('test.inbound', async (tx) => {
      const v = (
        await tx.query<{ id: string }>(
          `INSERT INTO app.conversations (business_id, contact_id, our_number, unread_count, last_message_at) VALUES ($1, $2, '+14155550100', 2, now()) RETURNING id`,
          [bid, contact.id],
        )
      ).rows[0]!.id;
      for (const body of ['first', 'second']) {
        await tx.query(
          `INSERT INTO app.messages (business_id, conversation_id, direction, body, status, created_at) VALUES ($1, $2, 'inbound', $3, 'received', clock_timestamp())`,
          [bid, v, body],
        );
      }
      return v;
    });
    const list = (await api('/conversations', member.accessToken)).json;
    expect(list.unread_total).toBe(2);
    expect(list.items[0]).toMatchObject({
      id: conv,
      contact_name: 'Texter',
      unread_count: 2,
      last_message_preview: 'second',
      opted_out: false,
    });
    // STOP to our number shows on the conversation (list and detail); to another number it does not.
    await server.db.asService('test.inbound', (tx) =>
      tx.query(`INSERT INTO app.sms_opt_outs (business_id, contact_id, our_number) VALUES ($1, $2, '+14155550199')`, [
        bid,
        contact.id,
      ]),
    );
    expect((await api(`/conversations/${conv}`, member.accessToken)).json.opted_out).toBe(false);
    await server.db.asService('test.inbound', (tx) =>
      tx.query(`INSERT INTO app.sms_opt_outs (business_id, contact_id, our_number) VALUES ($1, $2, '+14155550100')`, [
        bid,
        contact.id,
      ]),
    );
    expect((await api(`/conversations/${conv}`, member.accessToken)).json.opted_out).toBe(true);
    expect((await api('/conversations', member.accessToken)).json.items[0]).toMatchObject({
      id: conv,
      opted_out: true,
    });
    const p1 = (await api(`/conversations/${conv}/messages?limit=1`, member.accessToken)).json;
    const p2 = (await api(`/conversations/${conv}/messages?limit=1&cursor=${p1.next_cursor}`, member.accessToken)).json;
    expect([...p1.items, ...p2.items].map((m: { body: string }) => m.body)).toEqual(['second', 'first']);
    expect((await api(`/conversations/${conv}/read`, member.accessToken, { method: 'POST' })).json.unread_count).toBe(
      0,
    );
    const after = (await api(`/conversations/${conv}/messages`, member.accessToken)).json.items;
    expect(after.every((m: { read_at: string | null }) => m.read_at !== null)).toBe(true);
    // the timeline merges the messages with the contact's own events, newest first, paged
    const t1 = (await api(`/contacts/${contact.id}/timeline?limit=2`, member.accessToken)).json;
    const t2 = (await api(`/contacts/${contact.id}/timeline?limit=2&cursor=${t1.next_cursor}`, member.accessToken))
      .json;
    expect(
      [...t1.items, ...t2.items].map((i: { kind: string; data: { body?: string } }) => i.data.body ?? i.kind),
    ).toEqual(['second', 'first', 'created']);
    expect(t2.next_cursor).toBeNull();
  });

  it('searches contacts, deals and conversations at once', async () => {
    await api('/contacts', member.accessToken, {
      body: { first_name: 'Quincy', last_name: 'Harbor', email: 'q@harbor.test' },
    });
    await api('/deals', member.accessToken, { body: { title: 'Harbor purchase' } });
    const r = await api('/search?q=harbor', member.accessToken);
    expect(r.json.contacts.map((c: { last_name: string }) => c.last_name)).toEqual(['Harbor']);
    expect(r.json.deals.map((d: { title: string }) => d.title)).toEqual(['Harbor purchase']);
    const texts = await api('/search?q=second', member.accessToken);
    expect(texts.json.conversations.map((c: { snippet: string }) => c.snippet)).toEqual(['second']);
    expect((await api('/search?q=', member.accessToken)).status).toBe(400);
  });

  it('describes every CRM route in the OpenAPI document with its schemas', async () => {
    const doc = (await request(`${server.url}/openapi.json`)).json as {
      paths: Record<string, Record<string, { responses?: object; parameters?: unknown[] }>>;
    };
    const crm = Object.entries(doc.paths).filter(
      ([p]) =>
        p.startsWith('/api/businesses/{bid}/') &&
        !p.includes('/import') &&
        !p.includes('/export') &&
        !p.includes('/integrations'),
    );
    expect(crm.length).toBeGreaterThanOrEqual(20);
    for (const [path, ops] of crm) {
      for (const [method, op] of Object.entries(ops)) {
        expect([path, method, Object.keys(op.responses ?? {}).length > 0]).toEqual([path, method, true]);
      }
    }
  });
});
