// Notifications (docs/ARCHITECTURE.md §12.1): the database writes
// them for the five events, each to members of the event's own business only; a user
// lists, counts and marks read only her own rows; the stream pushes news over
// fetch-readable SSE with the bearer header; the reminder job notifies once per due time;
// the digest claims each user once per local day. Positive cases everywhere, so nothing
// passes on an empty table.
import https from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asOwner } from '../src/db/engine.ts';
import { collectDigests, runDigest } from '../src/notifications/digest.ts';
import { notifyDueTasks } from '../src/notifications/reminders.ts';
import { createMailer } from '../src/mail/mailer.ts';
import { createLogger } from '../src/observability/logger.ts';
import { signUp, type SignedUpUser } from './support/auth.ts';
import { addMember, newBusiness } from './support/factories.ts';
import { request } from './support/http.ts';
import { lastMailTo } from './support/outbox.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { acceptHttp, inviteHttp } from './support/workspace.ts';

let server: TestServer;
let owner: SignedUpUser;
let admin: SignedUpUser;
let member: SignedUpUser;
let ownerB: SignedUpUser;
let A: string;
let B: string;

const api = (bid: string, path = '') => `${server.url}/api/businesses/${bid}${path}`;
interface Item {
  id: string;
  kind: string;
  business_id: string;
  title: string;
  body: string;
  link: string | null;
  read_at: string | null;
}
async function mine(user: SignedUpUser, query = ''): Promise<{ items: Item[]; unread_count: number }> {
  const r = await request(`${server.url}/api/notifications${query}`, { token: user.accessToken });
  expect(r.status).toBe(200);
  return r.json;
}

beforeAll(async () => {
  server = await startTestServer();
  const users = await Promise.all([1, 2, 3, 4].map(() => signUp(server, { verified: true })));
  [owner, admin, member, ownerB] = users as [SignedUpUser, SignedUpUser, SignedUpUser, SignedUpUser];
  A = (await newBusiness(server.engine, owner.userId, 'Alpha Lending')).id;
  B = (await newBusiness(server.engine, ownerB.userId, 'Beta Lending')).id;
  await addMember(server.engine, A, admin.userId, 'admin');
  await addMember(server.engine, A, member.userId, 'member');
});
afterAll(async () => server?.stop());

describe('the five events', () => {
  it('an assignment notifies the assignee, never the person who assigned it', async () => {
    const c = await request(api(A, '/contacts'), {
      token: owner.accessToken,
      body: { first_name: 'Ann', last_name: 'Lee' },
    });
    const t = await request(api(A, '/tasks'), {
      token: owner.accessToken,
      body: { title: 'Call Ann', assignee_id: member.userId, contact_id: c.json.id },
    });
    expect(t.status).toBe(201);
    await request(api(A, '/tasks'), { token: owner.accessToken, body: { title: 'My own task' } });
    await request(api(A, `/contacts/${c.json.id}`), {
      method: 'PATCH',
      token: admin.accessToken,
      body: { owner_id: member.userId },
    });
    const m = await mine(member);
    expect(m.items.map((i) => [i.kind, i.title, i.business_id])).toEqual([
      ['assignment', 'Contact assigned to you: Ann Lee', A],
      ['assignment', 'Task assigned to you: Call Ann', A],
    ]);
    expect(m.items[1]!.link).toBe(`/b/${A}/contacts/${c.json.id}`);
    expect(m.unread_count).toBe(2);
    expect((await mine(owner)).items).toEqual([]);
  });

  it('an inbound text notifies the contact owner only, or every member when nobody owns the contact', async () => {
    const contacts = await asOwner(server.engine, async (c) => {
      const owned = await c.query<{ id: string }>(
        `INSERT INTO app.contacts (business_id, first_name, owner_id) VALUES ($1, 'Owned', $2) RETURNING id`,
        [A, member.userId],
      );
      const orphan = await c.query<{ id: string }>(
        `INSERT INTO app.contacts (business_id, first_name, phone) VALUES ($1, 'Nobody', '+14155550123') RETURNING id`,
        [A],
      );
      for (const [id, body] of [
        [owned.rows[0]!.id, 'Is the rate locked?'],
        [orphan.rows[0]!.id, 'Hello?'],
      ]) {
        const cv = await c.query<{ id: string }>(
          `INSERT INTO app.conversations (business_id, contact_id, our_number) VALUES ($1, $2, '+14155550100') RETURNING id`,
          [A, id],
        );
        await c.query(
          `INSERT INTO app.messages (business_id, conversation_id, direction, body, status) VALUES ($1, $2, 'inbound', $3, 'received')`,
          [A, cv.rows[0]!.id, body],
        );
      }
      return owned.rows[0]!.id;
    });
    expect(contacts).toBeTruthy();
    const texts = async (u: SignedUpUser) =>
      (await mine(u)).items
        .filter((i) => i.kind === 'inbound_text')
        .map((i) => [i.title, i.body])
        .sort(); // one transaction: the same created_at
    expect(await texts(member)).toEqual([
      ['New text from Nobody', 'Hello?'],
      ['New text from Owned', 'Is the rate locked?'],
    ]);
    expect(await texts(owner)).toEqual([['New text from Nobody', 'Hello?']]);
    expect(await texts(admin)).toEqual([['New text from Nobody', 'Hello?']]);
    expect(await texts(ownerB)).toEqual([]);
    // 'Owned' was written with no claims (as a service job writes): nobody assigned it to anyone.
    expect((await mine(member)).items.filter((i) => i.kind === 'assignment' && i.title.includes('Owned'))).toEqual([]);
  });

  it('a finished import notifies the person who ran it', async () => {
    await asOwner(server.engine, async (c) => {
      const j = await c.query<{ id: string }>(
        `INSERT INTO app.import_jobs (business_id, created_by, filename, headers, total_rows)
         VALUES ($1, $2, 'leads.csv', '["Name"]', 1) RETURNING id`,
        [A, admin.userId],
      );
      await c.query(`UPDATE app.import_jobs SET status = 'mapping' WHERE id = $1`, [j.rows[0]!.id]);
      await c.query(`UPDATE app.import_jobs SET status = 'running' WHERE id = $1`, [j.rows[0]!.id]);
      await c.query(`UPDATE app.import_jobs SET rows_done = 1, created_count = 1, status = 'completed' WHERE id = $1`, [
        j.rows[0]!.id,
      ]);
    });
    const items = (await mine(admin)).items.filter((i) => i.kind === 'import_finished');
    expect(items.map((i) => [i.title, i.body])).toEqual([
      ['Import finished: leads.csv', '1 created, 0 updated, 0 skipped, 0 failed'],
    ]);
    expect((await mine(member)).items.filter((i) => i.kind === 'import_finished')).toEqual([]);
  });

  it('an accepted invitation notifies the inviter', async () => {
    const invitee = await signUp(server, { verified: true });
    const token = await inviteHttp(server, owner, A, invitee.email, 'member');
    expect((await acceptHttp(server, invitee, token)).status).toBe(200);
    const items = (await mine(owner)).items.filter((i) => i.kind === 'invitation_accepted');
    expect(items.map((i) => i.title)).toEqual([`${invitee.email} accepted your invitation`]);
    expect((await mine(admin)).items.filter((i) => i.kind === 'invitation_accepted')).toEqual([]);
  });

  it('a due task notifies its assignee once, and again after it is rescheduled', async () => {
    const past = new Date(Date.now() - 60_000).toISOString();
    const t = await request(api(A, '/tasks'), {
      token: member.accessToken,
      body: { title: 'Order the appraisal', due_at: past },
    });
    expect(t.json).toMatchObject({ overdue: true, due_at: past });
    const future = await request(api(A, '/tasks'), {
      token: member.accessToken,
      body: { title: 'Later', due_at: new Date(Date.now() + 86_400_000).toISOString() },
    });
    expect(future.json.overdue).toBe(false);
    const run = () => server.db.asService('test.reminders', (tx) => notifyDueTasks(tx));
    expect(await run()).toBeGreaterThanOrEqual(1);
    expect(await run()).toBe(0);
    const due = async () => (await mine(member)).items.filter((i) => i.kind === 'task_due').map((i) => i.title);
    expect(await due()).toEqual(['Task due: Order the appraisal']);
    await request(api(A, `/tasks/${t.json.id}`), {
      method: 'PATCH',
      token: member.accessToken,
      body: { due_at: new Date(Date.now() - 1000).toISOString() },
    });
    await run();
    expect(await due()).toEqual(['Task due: Order the appraisal', 'Task due: Order the appraisal']);
  });

  // 03:00 UTC on Nov 20 is 7 pm on Nov 19 in Los Angeles: the bell and the digest say the evening she set.
  it("a due task's notification states the due time in the assignee's own time zone", async () => {
    const [west, east] = await Promise.all([signUp(server, { verified: true }), signUp(server, { verified: true })]);
    await addMember(server.engine, A, west.userId, 'member');
    await addMember(server.engine, A, east.userId, 'member');
    const put = await request(`${server.url}/api/notifications/settings`, {
      method: 'PUT',
      token: west.accessToken,
      body: { time_zone: 'America/Los_Angeles', digest_hour: 8, email_kinds: [] },
    });
    expect(put.status).toBe(200);
    for (const u of [west, east]) {
      const r = await request(api(A, '/tasks'), {
        token: owner.accessToken,
        body: { title: 'Send the disclosures', assignee_id: u.userId, due_at: '2026-11-20T03:00:00Z' },
      });
      expect(r.status).toBe(201);
    }
    await server.db.asService('test.reminders', (tx) => notifyDueTasks(tx));
    const body = async (u: SignedUpUser) =>
      (await mine(u)).items.filter((i) => i.kind === 'task_due').map((i) => i.body);
    expect(await body(west)).toEqual(['It was due Thu, Nov 19 at 7:00 PM (America/Los_Angeles)']);
    // no settings: the default zone, as for the digest and "overdue"
    expect(await body(east)).toEqual(['It was due Thu, Nov 19 at 10:00 PM (America/New_York)']);
  });
});

describe('per user, never across a business boundary', () => {
  it("B's owner sees only her own rows; A's people cannot read or mark hers", async () => {
    // positive control: B's owner has a notification of her own business
    await request(api(B, '/tasks'), { token: ownerB.accessToken, body: { title: 'B task' } });
    const b2 = await signUp(server, { verified: true });
    await addMember(server.engine, B, b2.userId, 'member');
    await request(api(B, '/tasks'), { token: ownerB.accessToken, body: { title: 'For b2', assignee_id: b2.userId } });
    const bItems = (await mine(b2)).items;
    expect(bItems.map((i) => [i.kind, i.business_id])).toEqual([['assignment', B]]);
    for (const u of [owner, admin, member]) {
      const items = (await mine(u)).items;
      expect(items.length).toBeGreaterThan(0);
      expect(items.every((i) => i.business_id === A)).toBe(true);
      expect((await mine(u, `?business_id=${B}`)).items).toEqual([]);
      const r = await request(`${server.url}/api/notifications/read`, {
        token: u.accessToken,
        body: { ids: [bItems[0]!.id] },
      });
      expect(r.json.updated).toBe(0);
    }
    expect((await mine(b2)).items[0]!.read_at).toBeNull();
    // and nobody reads a colleague's: member's rows are not the owner's
    const ownerIds = new Set((await mine(owner)).items.map((i) => i.id));
    expect((await mine(member)).items.some((i) => ownerIds.has(i.id))).toBe(false);
  });

  it('in SQL too: a user selects only her rows, cannot insert, and leaving the business removes them', async () => {
    const as = (u: SignedUpUser, sql: string, params: unknown[] = []) =>
      server.db.asUser({ sub: u.userId, sid: u.sessionId }, (tx) => tx.query(sql, params));
    const all = await as(member, 'SELECT user_id, business_id FROM app.notifications');
    expect(all.rows.length).toBeGreaterThan(0);
    expect(all.rows.every((r) => r.user_id === member.userId && r.business_id === A)).toBe(true);
    await expect(
      as(
        member,
        `INSERT INTO app.notifications (business_id, user_id, kind, title) VALUES ($1, $2, 'assignment', 'x')`,
        [A, owner.userId],
      ),
    ).rejects.toMatchObject({ code: 'forbidden' });
    const other = await as(member, `UPDATE app.notifications SET read_at = now() WHERE user_id = $1`, [owner.userId]);
    expect(other.rowCount).toBe(0);
    const leaver = await signUp(server, { verified: true });
    await addMember(server.engine, A, leaver.userId, 'member');
    await request(api(A, '/tasks'), {
      token: owner.accessToken,
      body: { title: 'For leaver', assignee_id: leaver.userId },
    });
    expect((await mine(leaver)).items).toHaveLength(1);
    await asOwner(server.engine, (c) =>
      c.query('DELETE FROM app.memberships WHERE business_id = $1 AND user_id = $2', [A, leaver.userId]),
    );
    expect((await mine(leaver)).items).toEqual([]);
    const left = await asOwner(server.engine, (c) =>
      c.query('SELECT 1 FROM app.notifications WHERE user_id = $1', [leaver.userId]),
    );
    expect(left.rowCount).toBe(0);
  });

  it('marks read by id and all at once', async () => {
    const before = await mine(member);
    expect(before.unread_count).toBeGreaterThan(1);
    const one = await request(`${server.url}/api/notifications/read`, {
      token: member.accessToken,
      body: { ids: [before.items[0]!.id] },
    });
    expect(one.json).toEqual({ updated: 1, unread_count: before.unread_count - 1 });
    const bad = await request(`${server.url}/api/notifications/read`, { token: member.accessToken, body: {} });
    expect(bad.status).toBe(400);
    const all = await request(`${server.url}/api/notifications/read`, {
      token: member.accessToken,
      body: { all: true },
    });
    expect(all.json.unread_count).toBe(0);
    expect((await mine(member, '?unread=true')).items).toEqual([]);
    expect((await request(`${server.url}/api/notifications`)).status).toBe(401);
  });
});

/** Reads SSE events from the stream with the bearer header, until `until` returns true. */
function readStream(token: string, until: (events: { event: string; data: any }[]) => boolean, timeoutMs = 15_000) {
  return new Promise<{ status: number; events: { event: string; data: any }[] }>((resolve, reject) => {
    const events: { event: string; data: any }[] = [];
    const req = https.get(
      `${server.url}/api/notifications/stream`,
      { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' }, rejectUnauthorized: false },
      (res) => {
        let buf = '';
        const timer = setTimeout(() => {
          req.destroy();
          resolve({ status: res.statusCode ?? 0, events });
        }, timeoutMs);
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buf += chunk;
          let i: number;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            const ev = /^event: (.*)$/m.exec(block)?.[1];
            const data = /^data: (.*)$/m.exec(block)?.[1];
            if (ev && data) events.push({ event: ev, data: JSON.parse(data) });
          }
          if (until(events)) {
            clearTimeout(timer);
            req.destroy();
            resolve({ status: res.statusCode ?? 0, events });
          }
        });
        res.on('end', () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, events });
        });
      },
    );
    req.on('error', reject);
  });
}

describe('the stream', () => {
  it('pushes the unread count at once and each new notification as it arrives', async () => {
    const reading = readStream(member.accessToken, (ev) => ev.some((e) => e.event === 'notification'));
    await new Promise((r) => setTimeout(r, 500));
    await request(api(A, '/tasks'), {
      token: owner.accessToken,
      body: { title: 'Pushed', assignee_id: member.userId },
    });
    const { status, events } = await reading;
    expect(status).toBe(200);
    expect(events[0]).toEqual({ event: 'unread', data: { count: 0 } });
    const pushed = events.find((e) => e.event === 'notification');
    expect(pushed?.data).toMatchObject({ kind: 'assignment', title: 'Task assigned to you: Pushed', business_id: A });
  });

  it('sends every one of a burst larger than a batch, each once, oldest first', async () => {
    const N = 130; // one INSERT: they share one created_at; more than the stream's batch of 100
    const reading = readStream(admin.accessToken, (ev) => ev.filter((e) => e.event === 'notification').length >= N);
    await new Promise((r) => setTimeout(r, 500));
    await asOwner(server.engine, (c) =>
      c.query(
        `INSERT INTO app.notifications (business_id, user_id, kind, title)
         SELECT $1, $2, 'assignment', 'Burst ' || g FROM generate_series(1, $3) g`,
        [A, admin.userId, N],
      ),
    );
    const { events } = await reading;
    const titles = events.filter((e) => e.event === 'notification').map((e) => e.data.title as string);
    expect(titles).toHaveLength(N);
    expect(new Set(titles).size).toBe(N);
    expect(events.filter((e) => e.event === 'unread').at(-1)?.data.count).toBeGreaterThanOrEqual(N);
  });

  it('sends a notification whose transaction commits after a newer one was sent', async () => {
    const reading = readStream(
      admin.accessToken,
      (ev) => ev.filter((e) => e.event === 'notification' && /^(Slow|Fast) one$/.test(e.data.title)).length >= 2,
    );
    await new Promise((r) => setTimeout(r, 500));
    const add = (c: { query: (sql: string, params: unknown[]) => Promise<unknown> }, title: string) =>
      c.query(`INSERT INTO app.notifications (business_id, user_id, kind, title) VALUES ($1, $2, 'assignment', $3)`, [
        A,
        admin.userId,
        title,
      ]);
    // The slow transaction starts first (so its row's created_at is older) and commits last.
    const slow = asOwner(server.engine, async (c) => {
      await add(c, 'Slow one');
      await new Promise((r) => setTimeout(r, 2_500));
    });
    await new Promise((r) => setTimeout(r, 300));
    await asOwner(server.engine, (c) => add(c, 'Fast one'));
    await slow;
    const { events } = await reading;
    const titles = events.filter((e) => e.event === 'notification').map((e) => e.data.title as string);
    // Each once (on the embedded engine the two transactions cannot overlap, so the order varies).
    expect(titles.filter((t) => /^(Slow|Fast) one$/.test(t)).sort()).toEqual(['Fast one', 'Slow one']);
  });

  it('refuses a request without a bearer token or with a revoked session', async () => {
    const anon = await request(`${server.url}/api/notifications/stream`);
    expect(anon.status).toBe(401);
    const leaving = await signUp(server, { verified: true });
    await request(`${server.url}/auth/signout`, {
      method: 'POST',
      token: leaving.accessToken,
      headers: { cookie: leaving.refreshCookie },
    });
    const revoked = await request(`${server.url}/api/notifications/stream`, { token: leaving.accessToken });
    expect(revoked.status).toBe(401);
  });
});

describe('settings and the daily digest', () => {
  it('validates settings and sends one digest per local day at the chosen hour', async () => {
    const def = await request(`${server.url}/api/notifications/settings`, { token: member.accessToken });
    expect(def.json).toEqual({ time_zone: 'America/New_York', digest_hour: 8, email_kinds: [] });
    const badTz = await request(`${server.url}/api/notifications/settings`, {
      method: 'PUT',
      token: member.accessToken,
      body: { time_zone: 'Mars/Olympus', digest_hour: 8, email_kinds: [] },
    });
    expect(badTz.status).toBe(400);
    const now = new Date('2027-01-15T15:00:00Z'); // 09:00 in Chicago
    const hourInChicago = 9;
    const put = await request(`${server.url}/api/notifications/settings`, {
      method: 'PUT',
      token: member.accessToken,
      body: { time_zone: 'America/Chicago', digest_hour: hourInChicago, email_kinds: ['assignment', 'task_due'] },
    });
    expect(put.status).toBe(200);
    await request(api(A, '/tasks'), {
      token: owner.accessToken,
      body: { title: 'Digest me', assignee_id: member.userId },
    });
    // another user whose hour has not come yet gets nothing
    await request(`${server.url}/api/notifications/settings`, {
      method: 'PUT',
      token: owner.accessToken,
      body: { time_zone: 'America/Chicago', digest_hour: hourInChicago + 5, email_kinds: ['assignment'] },
    });
    const mailer = createMailer(server.config, createLogger(server.config));
    const logger = createLogger(server.config);
    expect(await runDigest(server.db, mailer, logger, server.config.publicUrl, now)).toBe(1);
    const mail = await lastMailTo(server.config.dataDir, member.email, /unread notification/);
    expect(mail.text).toContain('Task assigned to you: Digest me');
    expect(mail.text).toContain('Alpha Lending — Assigned to you');
    expect(mail.text).not.toContain('New text from'); // inbound_text not chosen (and read already)
    // the same day again: nothing
    const again = await server.db.asService('test.digest', (tx) => collectDigests(tx, server.config.publicUrl, now));
    expect(again).toEqual([]);
  });
  /** A new member of A with these digest settings. */
  async function digestUser(time_zone: string, digest_hour: number): Promise<SignedUpUser> {
    const u = await signUp(server, { verified: true });
    await addMember(server.engine, A, u.userId, 'member');
    const put = await request(`${server.url}/api/notifications/settings`, {
      method: 'PUT',
      token: u.accessToken,
      body: { time_zone, digest_hour, email_kinds: ['assignment'] },
    });
    expect(put.status).toBe(200);
    return u;
  }
  async function settings(u: SignedUpUser, time_zone: string, digest_hour: number): Promise<void> {
    const put = await request(`${server.url}/api/notifications/settings`, {
      method: 'PUT',
      token: u.accessToken,
      body: { time_zone, digest_hour, email_kinds: ['assignment'] },
    });
    expect(put.status).toBe(200);
  }
  /** One unread assignment notification, so a claimed digest has something to send. */
  async function assign(u: SignedUpUser): Promise<void> {
    const r = await request(api(A, '/tasks'), {
      token: owner.accessToken,
      body: { title: 'Call back', assignee_id: u.userId },
    });
    expect(r.status).toBe(201);
  }
  /** Runs the digest every 5 minutes from `from` to `to` (inclusive); the instants `u` got a mail. */
  async function ticks(u: SignedUpUser, from: string, to: string): Promise<string[]> {
    const got: string[] = [];
    for (let t = Date.parse(from); t <= Date.parse(to); t += 5 * 60_000) {
      const mails = await server.db.asService('test.digest', (tx) =>
        collectDigests(tx, server.config.publicUrl, new Date(t)),
      );
      if (mails.some((m) => m.user_id === u.userId)) got.push(new Date(t).toISOString());
    }
    return got;
  }

  // New York springs forward at 02:00 on 2027-03-14: 02:00–02:59 does not happen that day.
  it('sends the digest on a day its hour is skipped by daylight saving, or when no run came during the hour', async () => {
    const u = await digestUser('America/New_York', 2);
    await assign(u);
    expect(await ticks(u, '2027-03-13T05:00:00Z', '2027-03-13T12:00:00Z')).toEqual(['2027-03-13T07:00:00.000Z']);
    await assign(u);
    // 07:00Z is 03:00 EDT, the first run after the hour that did not occur
    expect(await ticks(u, '2027-03-14T05:00:00Z', '2027-03-14T12:00:00Z')).toEqual(['2027-03-14T07:00:00.000Z']);
    await assign(u);
    // no run between 02:00 and 05:00 EDT: the first one after sends it
    expect(await ticks(u, '2027-03-15T09:00:00Z', '2027-03-15T12:00:00Z')).toEqual(['2027-03-15T09:00:00.000Z']);
  });

  it('sends at most one digest per local day: the repeated hour of fall-back, a later hour, a zone to the west', async () => {
    // New York falls back at 02:00 on 2027-11-07: 01:00–01:59 happens twice (05:00Z and 06:00Z).
    const u = await digestUser('America/New_York', 1);
    await assign(u);
    expect(await ticks(u, '2027-11-07T04:00:00Z', '2027-11-07T05:30:00Z')).toEqual(['2027-11-07T05:00:00.000Z']);
    await assign(u);
    expect(await ticks(u, '2027-11-07T05:35:00Z', '2027-11-07T08:00:00Z')).toEqual([]);
    // after the day's digest she moves her hour to 20:00: nothing more that day, the next at 20:00
    await settings(u, 'America/New_York', 20);
    expect(await ticks(u, '2027-11-08T01:00:00Z', '2027-11-08T04:55:00Z')).toEqual([]); // Nov 7, 20:00–23:55 EST
    expect(await ticks(u, '2027-11-08T05:00:00Z', '2027-11-09T01:00:00Z')).toEqual(['2027-11-09T01:00:00.000Z']);

    // Her Tokyo digest at 08:00 on Dec 7 is 15:00 on Dec 6 in Los Angeles: moving there, that
    // day is done — and so is Dec 7, the date already recorded; the next is Dec 8 at 08:00.
    const w = await digestUser('Asia/Tokyo', 8);
    await assign(w);
    expect(await ticks(w, '2027-12-06T22:30:00Z', '2027-12-06T23:00:00Z')).toEqual(['2027-12-06T23:00:00.000Z']);
    await assign(w);
    await settings(w, 'America/Los_Angeles', 8);
    expect(await ticks(w, '2027-12-06T23:05:00Z', '2027-12-07T07:55:00Z')).toEqual([]); // LA: Dec 6, 15:05–23:55
    expect(await ticks(w, '2027-12-07T16:00:00Z', '2027-12-07T16:00:00Z')).toEqual([]);
    expect(await ticks(w, '2027-12-08T16:00:00Z', '2027-12-08T16:00:00Z')).toEqual(['2027-12-08T16:00:00.000Z']);
  });
});
