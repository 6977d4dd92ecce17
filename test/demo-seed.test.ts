// The demo generator is deterministic and realistic; the writer puts it in one demo
// business; the purge removes exactly the expired demo data and nothing real.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../src/config/index.ts';
import { demoPurgeCommand } from '../src/demo/command.ts';
import type { Logger } from '../src/observability/logger.ts';
import { asOwner } from '../src/db/engine.ts';
import { assertNotDemo } from '../src/demo/guard.ts';
import { DEMO_EMAIL_DOMAIN, purgeExpiredDemos } from '../src/demo/purge.ts';
import { demoPurgeHandler, demoPurgeQueue } from '../src/jobs/demo-purge.ts';
import { testJobEngine } from './support/jobs.ts';
import { DEAL_STAGES, generateDemoData } from '../src/demo/seed.ts';
import { writeDemoData } from '../src/demo/seed-writer.ts';
import { createTestDatabase, ENGINE, type TestDatabase } from './support/engine.ts';
import { newBusiness, newUser } from './support/factories.ts';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => t?.close());

describe('demo data generator', () => {
  const data = generateDemoData();

  it('is deterministic: the same seed gives the same workspace, another seed another', () => {
    expect(generateDemoData()).toEqual(data);
    expect(generateDemoData(7).contacts[0]).not.toEqual(data.contacts[0]);
  });

  it('has the promised shape: ~200 contacts, 4 lists, 40 deals in every stage, SMS threads, notes', () => {
    expect(data.contacts).toHaveLength(200);
    expect(data.lists.map((l) => l.name)).toEqual([
      'Past Clients',
      'Hot Leads',
      'Referral Partners',
      'First-Time Buyers',
    ]);
    expect(data.lists.every((l) => l.contacts.length > 0)).toBe(true);
    expect(data.deals).toHaveLength(40);
    expect(new Set(data.deals.map((d) => d.stage))).toEqual(new Set(DEAL_STAGES));
    expect(data.conversations.length).toBeGreaterThanOrEqual(20);
    expect(data.conversations.every((c) => c.messages.length >= 2)).toBe(true);
    expect(data.notes.length).toBeGreaterThanOrEqual(50);
    expect(new Set(data.contacts.map((c) => c.status)).size).toBe(7);
    expect(new Set(data.contacts.map((c) => c.source)).size).toBeGreaterThanOrEqual(6);
  });

  it('can reach no real person: fictional 555-01xx numbers, example.com addresses, all unique', () => {
    expect(data.contacts.every((c) => /^\+1\d{3}55501\d{2}$/.test(c.phone))).toBe(true);
    expect(data.contacts.every((c) => c.email.endsWith('@example.com'))).toBe(true);
    expect(new Set(data.contacts.map((c) => c.phone)).size).toBe(200);
    expect(new Set(data.contacts.map((c) => c.email)).size).toBe(200);
  });
});

async function demoWorkspace(expired: boolean) {
  const userId = randomUUID();
  const businessId = randomUUID();
  await t.db.asService('test.demo', async (tx) => {
    await tx.query(
      `INSERT INTO auth.users (id, email, email_verified_at, created_at) VALUES ($1, $2, now(), now() - make_interval(hours => $3))`,
      [userId, `demo-${userId.slice(0, 8)}@${DEMO_EMAIL_DOMAIN}`, expired ? 25 : 0],
    );
    await tx.query(
      `INSERT INTO app.businesses (id, name, is_demo, demo_expires_at, created_by) VALUES ($1, 'Demo', true, now() + make_interval(hours => $2), $3)`,
      [businessId, expired ? -1 : 24, userId],
    );
    await tx.query(`INSERT INTO app.memberships (business_id, user_id, role) VALUES ($1, $2, 'owner')`, [
      businessId,
      userId,
    ]);
    await writeDemoData(tx, businessId, userId, generateDemoData());
  });
  return { userId, businessId };
}

const countWhere = (table: string, businessId: string) =>
  asOwner(t.engine, (c) =>
    c.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE business_id = $1`, [businessId]),
  ).then((r) => r.rows[0]!.n);

describe('demo writer and purge', () => {
  it('writes the whole demo in one service transaction', async () => {
    const demo = await demoWorkspace(false);
    expect(await countWhere('app.contacts', demo.businessId)).toBe(200);
    expect(await countWhere('app.lists', demo.businessId)).toBe(4);
    expect(await countWhere('app.deals', demo.businessId)).toBe(40);
    expect(await countWhere('app.deal_stage_changes', demo.businessId)).toBe(40);
    expect(await countWhere('app.conversations', demo.businessId)).toBeGreaterThanOrEqual(20);
    expect(await countWhere('app.messages', demo.businessId)).toBeGreaterThanOrEqual(40);
    expect(await countWhere('app.notes', demo.businessId)).toBe(60);
    // The demo user reads it through RLS like any member.
    const seen = await t.db.asUser({ sub: demo.userId }, (tx) => tx.query('SELECT 1 FROM app.contacts'));
    expect(seen.rowCount).toBe(200);
  });

  it('seeds the workbench: custom fields with values, due times and reminders, and a bell worth opening', async () => {
    const demo = await demoWorkspace(false);
    const data = generateDemoData();
    const q = <T extends object>(sql: string) =>
      asOwner(t.engine, (c) => c.query<T>(sql, [demo.businessId])).then((r) => r.rows);
    expect(await countWhere('app.custom_fields', demo.businessId)).toBe(data.customFields.length);
    const [valued] = await q<{ contacts: number; deals: number }>(
      `SELECT (SELECT count(*)::int FROM app.contacts WHERE business_id = $1 AND custom <> '{}') AS contacts,
              (SELECT count(*)::int FROM app.deals WHERE business_id = $1 AND custom <> '{}') AS deals`,
    );
    expect(valued!.contacts).toBeGreaterThanOrEqual(40);
    expect(valued!.deals).toBeGreaterThanOrEqual(20);
    // Every task has a due time; one overdue since an earlier day has reminded already
    // (the bell says so, at the time it was due); a later one is left to the reminder job.
    const tasks = await q<{ id: string; due_at: Date | null; reminded_at: Date | null; done: boolean; past: boolean }>(
      'SELECT id, due_at, reminded_at, done, due_date < current_date AS past FROM app.tasks WHERE business_id = $1',
    );
    expect(tasks.every((x) => x.due_at !== null)).toBe(true);
    const overdueOpen = tasks.filter((x) => !x.done && x.past);
    expect(overdueOpen.length).toBeGreaterThan(0);
    expect(overdueOpen.every((x) => x.reminded_at?.getTime() === x.due_at!.getTime())).toBe(true);
    expect(tasks.filter((x) => !overdueOpen.includes(x)).every((x) => x.reminded_at === null)).toBe(true);
    const dueNotes = await q<{ subject_id: string; created_at: Date }>(
      `SELECT subject_id, created_at FROM app.notifications WHERE business_id = $1 AND kind = 'task_due'`,
    );
    expect(dueNotes.map((n) => n.subject_id).sort()).toEqual(overdueOpen.map((x) => x.id).sort());
    const bell = await q<{ kind: string; unread: number; total: number; future: number }>(
      `SELECT kind, count(*) FILTER (WHERE read_at IS NULL)::int AS unread, count(*)::int AS total,
              count(*) FILTER (WHERE created_at > now())::int AS future
         FROM app.notifications WHERE business_id = $1 GROUP BY kind ORDER BY kind`,
    );
    const byKind = Object.fromEntries(bell.map((b) => [b.kind, b]));
    expect(Object.keys(byKind).sort()).toEqual(['assignment', 'inbound_text', 'task_due']);
    expect(byKind.task_due!.unread).toBe(overdueOpen.length);
    expect(byKind.assignment).toMatchObject({ total: 2, unread: 1 });
    // One per inbound text, unread exactly when the text is (0074), never from the future.
    const [texts] = await q<{ inbound: number; unread: number }>(
      `SELECT count(*)::int AS inbound, count(*) FILTER (WHERE read_at IS NULL)::int AS unread
         FROM app.messages WHERE business_id = $1 AND direction = 'inbound'`,
    );
    expect(byKind.inbound_text).toMatchObject({ total: texts!.inbound, unread: texts!.unread, future: 0 });
    expect(texts!.unread).toBeLessThan(texts!.inbound);
    // The demo user reads her bell through RLS like anyone.
    const mine = await t.db.asUser({ sub: demo.userId }, (tx) =>
      tx.query<{ n: number }>('SELECT count(*)::int AS n FROM app.notifications WHERE read_at IS NULL'),
    );
    expect(mine.rows[0]!.n).toBe(bell.reduce((s, b) => s + b.unread, 0));
  });

  it('purges expired demo businesses and users only', async () => {
    const expired = await demoWorkspace(true);
    const fresh = await demoWorkspace(false);
    const realOwner = await newUser(t.engine);
    const real = await newBusiness(t.engine, realOwner.id);
    // A real business whose creation date is long past stays, of course.
    await asOwner(t.engine, (c) =>
      c.query(`UPDATE auth.users SET created_at = now() - interval '30 days' WHERE id = $1`, [realOwner.id]),
    );

    const r = await purgeExpiredDemos(t.db);
    expect(r).toMatchObject({ ran: true });
    expect(r.businesses).toBeGreaterThanOrEqual(1);
    expect(r.users).toBeGreaterThanOrEqual(1);

    const exists = (sql: string, id: string) => asOwner(t.engine, (c) => c.query(sql, [id])).then((x) => x.rowCount);
    expect(await exists('SELECT 1 FROM app.businesses WHERE id = $1', expired.businessId)).toBe(0);
    expect(await exists('SELECT 1 FROM auth.users WHERE id = $1', expired.userId)).toBe(0);
    expect(await countWhere('app.contacts', expired.businessId)).toBe(0);
    expect(await countWhere('app.messages', expired.businessId)).toBe(0);
    // Positive controls: the live demo and the real business are untouched.
    expect(await countWhere('app.contacts', fresh.businessId)).toBe(200);
    expect(await exists('SELECT 1 FROM auth.users WHERE id = $1', fresh.userId)).toBe(1);
    expect(await exists('SELECT 1 FROM app.businesses WHERE id = $1', real.id)).toBe(1);
    expect(await exists('SELECT 1 FROM auth.users WHERE id = $1', realOwner.id)).toBe(1);
  });

  it.runIf(ENGINE === 'server')('skips when another node holds the purge lock', async () => {
    // (Embedded: one database session serves every connection, so an advisory lock
    // cannot exclude another "node" there — and there is only one node.)
    await asOwner(t.engine, async (c) => {
      await c.query('SELECT pg_advisory_xact_lock(7270104)');
      expect(await purgeExpiredDemos(t.db)).toEqual({ ran: false, businesses: 0, users: 0 });
    });
  });

  it('assertNotDemo refuses a demo business and lets a real one through', async () => {
    const demo = await demoWorkspace(false);
    const owner = await newUser(t.engine);
    const real = await newBusiness(t.engine, owner.id);
    await expect(t.db.asUser({ sub: demo.userId }, (tx) => assertNotDemo(tx, demo.businessId))).rejects.toMatchObject({
      code: 'demo_restricted',
      status: 403,
    });
    await expect(t.db.asService('test.guard', (tx) => assertNotDemo(tx, demo.businessId))).rejects.toMatchObject({
      code: 'demo_restricted',
    });
    await expect(t.db.asUser({ sub: owner.id }, (tx) => assertNotDemo(tx, real.id))).resolves.toBeUndefined();
  });

  it('the demo.purge job purges through the job engine', async () => {
    const expired = await demoWorkspace(true);
    const logger = { info: vi.fn(), error: vi.fn() } as unknown as Logger;
    const jobs = testJobEngine(t);
    jobs.register(demoPurgeQueue, demoPurgeHandler(t.db, logger));
    await jobs.start();
    try {
      expect(await jobs.send(demoPurgeQueue, {})).toEqual(expect.any(String));
      await vi.waitFor(async () => expect(await countWhere('app.contacts', expired.businessId)).toBe(0), {
        timeout: 15_000,
        interval: 100,
      });
    } finally {
      await jobs.stop();
    }
    expect(logger.info).toHaveBeenCalledWith(
      expect.objectContaining({ demo_businesses: expect.any(Number) }),
      'expired demo workspaces purged',
    );
  });

  it.runIf(ENGINE === 'server')('capto demo purge does the same from the command line', async () => {
    // (Server engine only: an embedded data dir may be opened by one process at a time.)
    const expired = await demoWorkspace(true);
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      const code = await demoPurgeCommand.run(
        {},
        loadConfig({ DATABASE_URL: t.env.DATABASE_URL, LOG_LEVEL: 'silent' }),
      );
      expect(code).toBe(0);
      expect(log).toHaveBeenCalledWith(
        expect.stringMatching(/^purged [1-9]\d* demo business\(es\) and [1-9]\d* demo user\(s\)$/),
      );
    } finally {
      log.mockRestore();
    }
    expect(await countWhere('app.contacts', expired.businessId)).toBe(0);
  });
});
