// The dashboard endpoint (docs/ARCHITECTURE.md §12.2): numbers computed in SQL under
// RLS for the caller's business only — a foreign business is 404, and each business's
// owner sees exactly her own figures (positive control) — plus the getting-started
// checklist of a new business.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asOwner } from '../src/db/engine.ts';
import { lastTwelveMonths } from '../src/crm/dashboard.ts';
import { signUp, type SignedUpUser } from './support/auth.ts';
import { addMember, newBusiness } from './support/factories.ts';
import { request } from './support/http.ts';
import { startTestServer, type TestServer } from './support/server.ts';

let server: TestServer;
let owner: SignedUpUser;
let member: SignedUpUser;
let ownerB: SignedUpUser;
let A: string;
let B: string;
const dash = async (u: SignedUpUser, bid: string) =>
  request(`${server.url}/api/businesses/${bid}/dashboard`, { token: u.accessToken });

beforeAll(async () => {
  server = await startTestServer();
  const users = await Promise.all([1, 2, 3].map(() => signUp(server, { verified: true })));
  [owner, member, ownerB] = users as [SignedUpUser, SignedUpUser, SignedUpUser];
  A = (await newBusiness(server.engine, owner.userId, 'Alpha Lending')).id;
  B = (await newBusiness(server.engine, ownerB.userId, 'Beta Lending')).id;
});
afterAll(async () => server?.stop());

describe('the dashboard', () => {
  it('shows a new business its getting-started checklist, all zeros', async () => {
    const r = await dash(owner, A);
    expect(r.status).toBe(200);
    expect(r.json.checklist).toEqual({ contacts: false, twilio: false, teammate: false, deal: false, done: false });
    expect(r.json.pipeline.every((p: { count: number }) => p.count === 0)).toBe(true);
    expect(r.json.funded_by_month.map((m: { month: string }) => m.month)).toEqual(lastTwelveMonths('America/New_York'));
  });

  it('computes pipeline, funded volume by month, leads by source with conversion, tasks and unread texts', async () => {
    let laterTodayIsToday = true;
    await addMember(server.engine, A, member.userId, 'member');
    await asOwner(server.engine, async (c) => {
      const mk = async (first: string, source: string, createdAgo = '1 day') =>
        (
          await c.query<{ id: string }>(
            `INSERT INTO app.contacts (business_id, first_name, source, created_at) VALUES ($1, $2, $3, now() - $4::interval) RETURNING id`,
            [A, first, source, createdAgo],
          )
        ).rows[0]!.id;
      const ann = await mk('Ann', 'zillow');
      const bob = await mk('Bob', 'zillow');
      const cy = await mk('Cy', 'referral');
      await mk('Old', 'web', '400 days');
      const deal = (contact: string | null, stage: string, cents: number, fundedOn: string | null = null) =>
        c.query(
          `INSERT INTO app.deals (business_id, title, contact_id, stage, amount_cents, funded_on) VALUES ($1, 'd', $2, $3, $4, $5::date)`,
          [A, contact, stage, cents, fundedOn],
        );
      await deal(ann, 'funded', 40_000_000, new Date().toISOString().slice(0, 10));
      await deal(bob, 'processing', 30_000_000);
      await deal(null, 'lead', 10_000_000);
      await deal(null, 'lead', 5_000_000);
      await deal(null, 'funded', 99_000_000, '2020-01-15'); // older than 12 months: not in the chart
      await deal(cy, 'lost', 1_000);
      const conv = await c.query<{ id: string }>(
        `INSERT INTO app.conversations (business_id, contact_id, our_number, unread_count) VALUES ($1, $2, '+14155550100', 2) RETURNING id`,
        [A, ann],
      );
      expect(conv.rowCount).toBe(1);
      await c.query(
        `INSERT INTO app.conversations (business_id, contact_id, our_number, unread_count) VALUES ($1, $2, '+14155550100', 0)`,
        [A, bob],
      );
      const task = (title: string, dueAt: string | null, dueDate: string | null, done = false) =>
        c.query(
          `INSERT INTO app.tasks (business_id, title, assignee_id, due_at, due_date, done, done_at)
           VALUES ($1, $2, $3, $4::timestamptz, $5::date, $6, CASE WHEN $6 THEN now() END)`,
          [A, title, member.userId, dueAt, dueDate, done],
        );
      await task('late', new Date(Date.now() - 3_600_000).toISOString(), null);
      await task('late by date', null, '2020-01-01');
      await task('done late', new Date(Date.now() - 3_600_000).toISOString(), null, true);
      await task('not mine', null, null);
      // Due today: date-only today, and (unless New York's midnight falls within the
      // minute) a time later today — counted against today's bounds in the viewer's zone.
      const nyDate = (d: Date) => new Intl.DateTimeFormat('en-CA', { timeZone: 'America/New_York' }).format(d);
      await task('today by date', null, nyDate(new Date()));
      const soon = new Date(Date.now() + 60_000);
      await task('later today', soon.toISOString(), null);
      laterTodayIsToday = nyDate(soon) === nyDate(new Date());
    });
    const r = await dash(member, A);
    expect(r.status).toBe(200);
    const stage = (s: string) => r.json.pipeline.find((p: { stage: string }) => p.stage === s);
    expect(stage('lead')).toEqual({ stage: 'lead', count: 2, amount_cents: 15_000_000 });
    expect(stage('processing')).toEqual({ stage: 'processing', count: 1, amount_cents: 30_000_000 });
    expect(stage('funded')).toEqual({ stage: 'funded', count: 2, amount_cents: 139_000_000 });
    const thisMonth = r.json.funded_by_month.at(-1);
    expect(thisMonth).toMatchObject({ count: 1, amount_cents: 40_000_000 });
    expect(r.json.funded_by_month.reduce((s: number, m: { count: number }) => s + m.count, 0)).toBe(1);
    expect(r.json.leads).toEqual({
      days: 30,
      by_source: [
        { source: 'referral', leads: 1, applications: 0, funded: 0 },
        { source: 'zillow', leads: 2, applications: 2, funded: 1 },
      ],
    });
    expect(r.json.tasks).toEqual({ due_today: laterTodayIsToday ? 2 : 1, overdue: 2 });
    expect(r.json.unread_conversations).toBe(1);
    expect(r.json.checklist).toEqual({ contacts: true, twilio: false, teammate: true, deal: true, done: false });
    // the owner is assigned none of those tasks
    expect((await dash(owner, A)).json.tasks).toEqual({ due_today: 0, overdue: 0 });
  });

  it('keeps the per-stage totals true through moves, edits and deletions, and stamps the funded date', async () => {
    const api = (path: string, method = 'GET', body?: unknown) =>
      request(`${server.url}/api/businesses/${A}${path}`, { method, token: owner.accessToken, body });
    const d1 = (await api('/deals', 'POST', { title: 'Totals one', amount_cents: 12_345 })).json;
    const d2 = (await api('/deals', 'POST', { title: 'Totals two', amount_cents: 50_000, stage: 'processing' })).json;
    const moved = await api(`/deals/${d1.id}/move`, 'POST', { stage: 'funded' });
    expect([moved.status, moved.json.stage, moved.json.milestones?.funded]).toEqual([
      200,
      'funded',
      expect.any(String),
    ]);
    await api(`/deals/${d2.id}`, 'PATCH', { amount_cents: 70_000 });
    const gone = (await api('/deals', 'POST', { title: 'Gone', amount_cents: 1 })).json;
    expect((await api(`/deals/${gone.id}`, 'DELETE')).status).toBe(204);
    const truth = await asOwner(server.engine, (c) =>
      c.query<{ stage: string; count: number; amount: string }>(
        `SELECT stage, count(*)::int AS count, sum(amount_cents)::text AS amount FROM app.deals WHERE business_id = $1 GROUP BY 1`,
        [A],
      ),
    );
    const r = await dash(owner, A);
    for (const row of truth.rows) {
      expect(r.json.pipeline.find((p: { stage: string }) => p.stage === row.stage)).toEqual({
        stage: row.stage,
        count: row.count,
        amount_cents: Number(row.amount),
      });
    }
    expect(r.json.pipeline.reduce((s: number, p: { count: number }) => s + p.count, 0)).toBe(
      truth.rows.reduce((s, x) => s + x.count, 0),
    );
    // entering "funded" stamped today's funded date, so this month grew by that deal
    expect(r.json.funded_by_month.at(-1)).toMatchObject({ count: 2, amount_cents: 40_012_345 });
    const funded = await api(`/deals/${d1.id}`);
    expect(funded.json.milestones.funded).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  });

  it('keeps each business to itself: B is 404 for A, and B sees only her own figures', async () => {
    await asOwner(server.engine, (c) =>
      c.query(`INSERT INTO app.deals (business_id, title, stage, amount_cents) VALUES ($1, 'b', 'lead', 777)`, [B]),
    );
    for (const u of [owner, member]) {
      const r = await dash(u, B);
      expect([r.status, r.json.error.code]).toEqual([404, 'not_found']);
    }
    expect((await dash(ownerB, A)).status).toBe(404);
    const mineB = await dash(ownerB, B);
    expect(mineB.json.pipeline.find((p: { stage: string }) => p.stage === 'lead')).toEqual({
      stage: 'lead',
      count: 1,
      amount_cents: 777,
    });
    expect(mineB.json.unread_conversations).toBe(0);
    expect((await request(`${server.url}/api/businesses/${A}/dashboard`)).status).toBe(401);
    expect(
      (await request(`${server.url}/api/businesses/${A}/dashboard?days=3`, { token: owner.accessToken })).status,
    ).toBe(400);
  });
});
