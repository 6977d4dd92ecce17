// Templates: merge fields checked at save (unknown field/filter, file-system tags →
// 400), previews for one contact (email: multipart text + safe HTML; SMS: GSM-7 vs
// UCS-2 and segments), the open deal's fields, and who may change what — over HTTP and
// in SQL, across businesses.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { smsSegments } from '../src/outreach/merge.ts';
import { signUp, type SignedUpUser } from './support/auth.ts';
import { addMember, newBusiness } from './support/factories.ts';
import { request, type HttpResponse } from './support/http.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { probe, summarise } from './support/tenancy.ts';

let s: TestServer;
let owner: SignedUpUser;
let admin: SignedUpUser;
let member: SignedUpUser;
let member2: SignedUpUser;
let outsider: SignedUpUser; // owner of business B
let bid: string;
let bidB: string;
let contactId: string;
let contactB: string;

const call = (user: SignedUpUser, method: string, path: string, body?: unknown, business = bid) =>
  request(`${s.url}/api/businesses/${business}${path}`, { method, token: user.accessToken, body }) as Promise<
    HttpResponse<any>
  >;

beforeAll(async () => {
  s = await startTestServer({ CAPTO_SCAN_ON_START: 'off' });
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
  await call(owner, 'PATCH', '', { postal_address: '1 Main St, Springfield, IL 62701' });
  const c = await call(member, 'POST', '/contacts', {
    first_name: 'Ana <b>',
    last_name: 'Díaz',
    email: 'ana@example.com',
    phone: '+14155550123',
  });
  expect(c.status).toBe(201);
  contactId = c.json.id;
  const d = await call(member, 'POST', '/deals', {
    title: 'Díaz purchase',
    contact_id: contactId,
    amount_cents: 35_000_000,
    stage: 'application',
  });
  expect(d.status).toBe(201);
  // A funded deal is not "open": the merge must pick the application-stage one.
  await call(member, 'POST', '/deals', { title: 'Old refi', contact_id: contactId, stage: 'funded' });
  const cb = await call(outsider, 'POST', '/contacts', { first_name: 'Bee', email: 'bee@example.com' }, bidB);
  contactB = cb.json.id;
}, 120_000);
afterAll(async () => s?.stop());

describe('saving', () => {
  it.each([
    ['{{ contact.favourite_color }}', /unknown merge field "contact\.favourite_color"/],
    ['{{ secret }}', /unknown merge field "secret"/],
    ['{{ contact.first_name | shell }}', /undefined filter: shell/],
    ['{% include "/etc/passwd" %}', /tag "include" not found/],
    ['{% render "x" %}', /tag "render" not found/],
    ['{{ contact.first_name ', /./],
    ['{% for i in (1..100000000) %}{{ i }}{% endfor %}', /limit/],
  ])('refuses %j with 400 invalid_template', async (body, message) => {
    const res = await call(member, 'POST', '/templates', { name: 'Bad', channel: 'sms', body });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('invalid_template');
    expect(res.json.error.message).toMatch(message);
  });

  it('an unknown field in the subject is refused too; email needs a subject, SMS has none', async () => {
    const subj = await call(member, 'POST', '/templates', {
      name: 'x',
      channel: 'email',
      subject: 'Hi {{ contact.nickname }}',
      body: 'Hello',
    });
    expect(subj.status).toBe(400);
    expect(subj.json.error.code).toBe('invalid_template');
    expect((await call(member, 'POST', '/templates', { name: 'x', channel: 'email', body: 'Hello' })).status).toBe(400);
    expect(
      (await call(member, 'POST', '/templates', { name: 'x', channel: 'sms', subject: 'S', body: 'Hello' })).status,
    ).toBe(400);
    expect(
      (await call(member, 'POST', '/templates', { name: 'x', channel: 'fax', body: 'Hello' })).json.error.code,
    ).toBe('validation_failed');
  });
});

describe('previews', () => {
  let emailId: string;
  let smsId: string;

  it('email: merge fields from contact, business, user and the open deal; Markdown → multipart; no raw HTML', async () => {
    const res = await call(member, 'POST', '/templates', {
      name: 'Rate update',
      channel: 'email',
      subject: 'News for {{ contact.first_name | default: "you" }}\nBcc: evil@example.com',
      body: [
        '# Hi {{ contact.first_name | default: "there" }}',
        '',
        'Your **{{ deal.title }}** ({{ deal.amount }}, {{ deal.stage }}) with {{ business.name }}.',
        '',
        '<script>alert(1)</script> <img src=x onerror=alert(2)>',
        '',
        '[safe](https://keystone.example/rates) [evil](javascript:alert(3))',
        '',
        'Reply to {{ user.email }}',
      ].join('\n'),
    });
    expect(res.status).toBe(201);
    emailId = res.json.id;
    const p = await call(member, 'POST', `/templates/${emailId}/preview`, { contact_id: contactId });
    expect(p.status).toBe(200);
    expect(p.json.subject).toBe('News for Ana <b> Bcc: evil@example.com'); // one line: no header injection
    expect(p.json.text).toContain('# Hi Ana <b>');
    expect(p.json.text).toContain('Your **Díaz purchase** ($350,000, application) with Keystone Mortgage.');
    expect(p.json.text).toContain(`Reply to ${member.email}`);
    const html: string = p.json.html;
    expect(html).toContain('<h1>Hi Ana &lt;b&gt;</h1>');
    expect(html).toContain('<strong>Díaz purchase</strong>');
    expect(html).toContain('<a href="https://keystone.example/rates">safe</a>');
    expect(html).not.toMatch(/<script|<img|href="javascript/i);
    expect(html).toContain('&lt;img src=x onerror=alert(2)&gt;'); // shown as text, not a tag
    expect(html).toContain('&lt;script&gt;');
  });

  it('an unsaved template previews the same way', async () => {
    const p = await call(member, 'POST', '/templates/preview', {
      channel: 'sms',
      body: 'Hi {{ contact.first_name }}, {{ deal.title | default: "no deal" }}',
      contact_id: contactId,
    });
    expect(p.status).toBe(200);
    expect(p.json.text).toBe('Hi Ana <b>, Díaz purchase');
  });

  it('SMS: GSM-7 vs UCS-2 and the segment count', async () => {
    const gsm = await call(member, 'POST', '/templates', {
      name: 'Long GSM',
      channel: 'sms',
      body: `Hello {{ contact.last_name }} ${'x'.repeat(150)}`,
    });
    smsId = gsm.json.id;
    const p = await call(member, 'POST', `/templates/${smsId}/preview`, { contact_id: contactId });
    expect(p.status).toBe(200);
    // "Díaz" has í, which GSM-7 lacks: the whole message becomes UCS-2.
    expect(p.json).toMatchObject({ channel: 'sms', encoding: 'UCS-2', segments: 3 });
    expect(p.json.text).toBe(`Hello Díaz ${'x'.repeat(150)}`);
    expect(smsSegments('a'.repeat(160))).toMatchObject({ encoding: 'GSM-7', segments: 1 });
    expect(smsSegments('a'.repeat(161))).toMatchObject({ encoding: 'GSM-7', segments: 2 });
    expect(smsSegments('€'.repeat(80))).toMatchObject({ encoding: 'GSM-7', units: 160, segments: 1 });
    expect(smsSegments('😀'.repeat(35))).toMatchObject({ encoding: 'UCS-2', units: 70, segments: 1 });
    expect(smsSegments('😀'.repeat(36))).toMatchObject({ encoding: 'UCS-2', segments: 2 });
  });

  it("another business's contact or template is 404", async () => {
    expect((await call(member, 'POST', `/templates/${emailId}/preview`, { contact_id: contactB })).status).toBe(404);
    expect((await call(outsider, 'POST', `/templates/${emailId}/preview`, { contact_id: contactB }, bidB)).status).toBe(
      404,
    );
    expect((await call(outsider, 'GET', `/templates/${emailId}`)).status).toBe(404);
    expect((await call(outsider, 'GET', `/templates`)).status).toBe(404);
    const listB = await call(outsider, 'GET', `/templates`, undefined, bidB);
    expect(listB.status).toBe(200);
    expect(listB.json.items).toEqual([]);
  });
});

describe('who may change what', () => {
  let memberTpl: string;
  it('the author and owners/admins edit and delete; another member may not', async () => {
    const t = await call(member, 'POST', '/templates', { name: 'Mine', channel: 'sms', body: 'Hi' });
    memberTpl = t.json.id;
    expect(t.json.can_edit).toBe(true);
    const seen = await call(member2, 'GET', `/templates/${memberTpl}`);
    expect(seen.status).toBe(200);
    expect(seen.json.can_edit).toBe(false);
    expect((await call(member2, 'PATCH', `/templates/${memberTpl}`, { body: 'Hijacked' })).status).toBe(403);
    expect((await call(member2, 'DELETE', `/templates/${memberTpl}`)).status).toBe(403);
    const byAuthor = await call(member, 'PATCH', `/templates/${memberTpl}`, { body: 'Hi {{ contact.first_name }}' });
    expect(byAuthor.status).toBe(200);
    const byAdmin = await call(admin, 'PATCH', `/templates/${memberTpl}`, { name: 'Renamed' });
    expect(byAdmin.status).toBe(200);
    expect(byAdmin.json).toMatchObject({ name: 'Renamed', body: 'Hi {{ contact.first_name }}', channel: 'sms' });
    expect((await call(admin, 'PATCH', `/templates/${memberTpl}`, { body: '{{ nope }}' })).status).toBe(400);
    expect((await call(outsider, 'PATCH', `/templates/${memberTpl}`, { name: 'x' })).status).toBe(404);
  });

  it('in SQL: another member updates no row, the author does; nobody inserts in someone else’s name', async () => {
    const upd = `UPDATE app.message_templates SET body = 'x' WHERE id = $1`;
    expect(summarise(await probe(s.db, member2.userId, upd, [memberTpl]))).toBe('none');
    expect(summarise(await probe(s.db, outsider.userId, upd, [memberTpl]))).toBe('none');
    expect(summarise(await probe(s.db, member.userId, upd, [memberTpl]))).toBe('ok');
    expect(summarise(await probe(s.db, owner.userId, upd, [memberTpl]))).toBe('ok');
    expect(
      summarise(await probe(s.db, member2.userId, 'SELECT 1 FROM app.message_templates WHERE id = $1', [memberTpl])),
    ).toBe('ok');
    expect(
      summarise(await probe(s.db, outsider.userId, 'SELECT 1 FROM app.message_templates WHERE id = $1', [memberTpl])),
    ).toBe('none');
    const forged = await probe(
      s.db,
      member2.userId,
      `INSERT INTO app.message_templates (business_id, name, channel, body, created_by) VALUES ($1, 'f', 'sms', 'b', $2)`,
      [bid, member.userId],
    );
    expect(summarise(forged)).toMatch(/denied|42501/);
    const foreign = await probe(
      s.db,
      outsider.userId,
      `INSERT INTO app.message_templates (business_id, name, channel, body, created_by) VALUES ($1, 'f', 'sms', 'b', $2)`,
      [bid, outsider.userId],
    );
    expect(summarise(foreign)).toMatch(/denied|42501/);
    expect(
      summarise(
        await probe(s.db, member.userId, `UPDATE app.message_templates SET channel = 'email' WHERE id = $1`, [
          memberTpl,
        ]),
      ),
    ).toBe('denied');
  });

  it('the author deletes', async () => {
    expect((await call(member, 'DELETE', `/templates/${memberTpl}`)).status).toBe(204);
    expect((await call(member, 'GET', `/templates/${memberTpl}`)).status).toBe(404);
  });
});
