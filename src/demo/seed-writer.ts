// Writes generated demo data (seed.ts) into a fresh demo business: one multi-row
// INSERT … SELECT FROM unnest(…) per table, inside the caller's service transaction,
// so a demo appears whole or not at all.
import { randomUUID } from 'node:crypto';
import type { Tx } from '../db/index.ts';
import { dueTimeText } from '../notifications/reminders.ts';
import { DEMO_OUR_NUMBER, MILESTONE_ORDER, type DemoData } from './seed.ts';

const ids = (n: number) => Array.from({ length: n }, () => randomUUID());
const ago = (col: string) => `now() - make_interval(mins => ${col})`;

export async function writeDemoData(tx: Tx, businessId: string, userId: string, data: DemoData): Promise<void> {
  // Custom fields first: the database checks every stored value against them.
  const cf = data.customFields;
  await tx.query(
    `INSERT INTO app.custom_fields (business_id, entity, key, label, type, options, position, created_by)
     SELECT $1, e, k, l, t, o::jsonb, p, $2 FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int[])
       AS u(e, k, l, t, o, p)`,
    [
      businessId,
      userId,
      cf.map((f) => f.entity),
      cf.map((f) => f.key),
      cf.map((f) => f.label),
      cf.map((f) => f.type),
      cf.map((f) => JSON.stringify(f.options)),
      cf.map((f) => cf.filter((g) => g.entity === f.entity).indexOf(f)),
    ],
  );

  const contactIds = ids(data.contacts.length);
  const c = data.contacts;
  await tx.query(
    `INSERT INTO app.contacts (id, business_id, first_name, last_name, phone, email, source, status, notes, owner_id, created_at, updated_at, kind, custom)
     SELECT id, $1, f, l, p, e, s::app.contact_source, st::app.contact_status, n, $2, ${ago('a')}, ${ago('a')}, k::app.contact_kind, cu::jsonb
       FROM unnest($3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::int[], $12::text[], $13::text[])
         AS t(id, f, l, p, e, s, st, n, a, k, cu)`,
    [
      businessId,
      userId,
      contactIds,
      c.map((x) => x.first_name),
      c.map((x) => x.last_name),
      c.map((x) => x.phone),
      c.map((x) => x.email),
      c.map((x) => x.source),
      c.map((x) => x.status),
      c.map((x) => x.notes),
      c.map((x) => x.age_min),
      c.map((x) => x.kind),
      c.map((x) => JSON.stringify(x.custom)),
    ],
  );
  await tx.query(
    `INSERT INTO app.contact_events (business_id, contact_id, kind, actor_id, created_at)
     SELECT $1, id, 'created', $2, ${ago('a')} FROM unnest($3::uuid[], $4::int[]) AS t(id, a)`,
    [businessId, userId, contactIds, c.map((x) => x.age_min)],
  );

  const listIds = ids(data.lists.length);
  await tx.query(
    `INSERT INTO app.lists (id, business_id, name, color, created_by) SELECT id, $1, n, col, $2 FROM unnest($3::uuid[], $4::text[], $5::text[]) AS t(id, n, col)`,
    [businessId, userId, listIds, data.lists.map((l) => l.name), data.lists.map((l) => l.color)],
  );
  const pairs = data.lists.flatMap((l, i) => l.contacts.map((ci) => [listIds[i]!, contactIds[ci]!] as const));
  await tx.query(
    `INSERT INTO app.list_members (business_id, list_id, contact_id, added_by) SELECT $1, l, c, $2 FROM unnest($3::uuid[], $4::uuid[]) AS t(l, c)`,
    [businessId, userId, pairs.map((p) => p[0]), pairs.map((p) => p[1])],
  );

  const dealIds = ids(data.deals.length);
  const d = data.deals;
  const ref = (i: number | null) => (i === null ? null : contactIds[i]);
  // Milestone days as a text[] per milestone column (offsets from today, NULL = not reached).
  const milestoneCols = MILESTONE_ORDER.map((m) => `${m}_on`).join(', ');
  const milestoneVals = MILESTONE_ORDER.map((_, k) => `current_date + m${k}`).join(', ');
  const milestoneArgs = MILESTONE_ORDER.map((_, k) => `$${18 + k}::int[]`).join(', ');
  const milestoneNames = MILESTONE_ORDER.map((_, k) => `m${k}`).join(', ');
  await tx.query(
    `INSERT INTO app.deals (id, business_id, title, contact_id, amount_cents, loan_type, stage, expected_close_date, position, owner_id,
                            created_at, updated_at, co_borrower_id, partner_id, property_address, rate_percent, loan_purpose, custom,
                            ${milestoneCols})
     SELECT id, $1, ti, c, amt, lt::app.loan_type, st::app.deal_stage, current_date + cd, pos, $2, ${ago('a')}, ${ago('a')},
            co, pa, addr, rate, lp::app.loan_purpose, cu::jsonb, ${milestoneVals}
       FROM unnest($3::uuid[], $4::text[], $5::uuid[], $6::bigint[], $7::text[], $8::text[], $9::int[], $10::int[], $11::int[],
                   $12::uuid[], $13::uuid[], $14::text[], $15::numeric[], $16::text[], $17::text[], ${milestoneArgs})
         AS t(id, ti, c, amt, lt, st, cd, pos, a, co, pa, addr, rate, lp, cu, ${milestoneNames})`,
    [
      businessId,
      userId,
      dealIds,
      d.map((x) => x.title),
      d.map((x) => contactIds[x.contact]),
      d.map((x) => x.amount_cents),
      d.map((x) => x.loan_type),
      d.map((x) => x.stage),
      d.map((x) => x.close_in_days),
      d.map((x) => x.position),
      d.map((x) => x.age_min),
      d.map((x) => ref(x.co_borrower)),
      d.map((x) => ref(x.partner)),
      d.map((x) => x.property_address),
      d.map((x) => x.rate_percent),
      d.map((x) => x.loan_purpose),
      d.map((x) => JSON.stringify(x.custom)),
      ...MILESTONE_ORDER.map((m) => d.map((x) => x.milestones[m] ?? null)),
    ],
  );

  const convIds = ids(data.conversations.length);
  const cv = data.conversations;
  await tx.query(
    `INSERT INTO app.conversations (id, business_id, contact_id, our_number, last_message_at, unread_count, created_at)
     SELECT id, $1, c, $2, ${ago('last')}, u, ${ago('first')}
       FROM unnest($3::uuid[], $4::uuid[], $5::int[], $6::int[], $7::int[]) AS t(id, c, last, first, u)`,
    [
      businessId,
      DEMO_OUR_NUMBER,
      convIds,
      cv.map((x) => contactIds[x.contact]),
      cv.map((x) => x.messages[x.messages.length - 1]!.age_min),
      cv.map((x) => x.messages[0]!.age_min),
      cv.map((x) => x.unread),
    ],
  );
  const msgs = cv.flatMap((x, i) =>
    x.messages.map((m, k) => ({ ...m, conv: convIds[i]!, unread: k >= x.messages.length - x.unread })),
  );
  // Demo messages never went through Twilio: no twilio_sid, statuses as if they had.
  await tx.query(
    `INSERT INTO app.messages (business_id, conversation_id, direction, body, status, sender_user_id, created_at, sent_at, delivered_at, read_at)
     SELECT $1, c, dir, b, CASE dir WHEN 'outbound' THEN 'delivered' ELSE 'received' END,
            CASE dir WHEN 'outbound' THEN $2::uuid END, ${ago('a')},
            CASE dir WHEN 'outbound' THEN ${ago('a')} END, CASE dir WHEN 'outbound' THEN ${ago('a')} END,
            CASE WHEN dir = 'inbound' AND NOT unread THEN ${ago('a')} END
       FROM unnest($3::uuid[], $4::text[], $5::text[], $6::int[], $7::boolean[]) AS t(c, dir, b, a, unread)`,
    [
      businessId,
      userId,
      msgs.map((m) => m.conv),
      msgs.map((m) => m.direction),
      msgs.map((m) => m.body),
      msgs.map((m) => m.age_min),
      msgs.map((m) => m.unread),
    ],
  );

  const n = data.notes;
  await tx.query(
    `INSERT INTO app.notes (business_id, contact_id, deal_id, body, author_id, created_at, updated_at)
     SELECT $1, c, d, b, $2, ${ago('a')}, ${ago('a')} FROM unnest($3::uuid[], $4::uuid[], $5::text[], $6::int[]) AS t(c, d, b, a)`,
    [
      businessId,
      userId,
      n.map((x) => (x.contact === undefined ? null : contactIds[x.contact])),
      n.map((x) => (x.deal === undefined ? null : dealIds[x.deal])),
      n.map((x) => x.body),
      n.map((x) => x.age_min),
    ],
  );

  // Due times on each task's day; an overdue open task has already reminded (its
  // notification is written below), a later one reminds through the task-due job.
  const t = data.tasks;
  const taskIds = ids(t.length);
  await tx.query(
    `INSERT INTO app.tasks (id, business_id, title, due_date, due_at, remind_at, reminded_at, assignee_id, contact_id, done, done_at, created_by)
     SELECT id, $1, ti, current_date + due, due_time, due_time - make_interval(mins => rb),
            CASE WHEN due < 0 AND NOT dn THEN due_time END, $2, c, dn, CASE WHEN dn THEN now() END, $2
       FROM unnest($3::uuid[], $4::text[], $5::int[], $6::int[], $7::int[], $8::uuid[], $9::boolean[]) AS t(id, ti, due, h, rb, c, dn),
            LATERAL (SELECT (current_date + due)::timestamp AT TIME ZONE 'UTC' + make_interval(hours => h) AS due_time) AS dt`,
    [
      businessId,
      userId,
      taskIds,
      t.map((x) => x.title),
      t.map((x) => x.due_in_days),
      t.map((x) => x.due_hour),
      t.map((x) => x.remind_before_min),
      t.map((x) => contactIds[x.contact]),
      t.map((x) => x.done),
    ],
  );

  // The bell: "task due" for each task that has reminded, at the time it reminded, and
  // the deals handed to the user. (Each inbound text above already notified through the
  // database's trigger, read or not as the text itself, migration 0074.)
  await tx.query(
    `INSERT INTO app.notifications (business_id, user_id, kind, title, body, link, subject_id, created_at)
     SELECT t.business_id, t.assignee_id, 'task_due', left('Task due: ' || t.title, 200),
            'It was due ' || ${dueTimeText('t.due_at', 't.assignee_id')}, '/b/' || t.business_id || '/contacts/' || t.contact_id,
            t.id, t.reminded_at
       FROM app.tasks t WHERE t.business_id = $1 AND t.reminded_at IS NOT NULL`,
    [businessId],
  );
  const nt = data.notifications;
  await tx.query(
    `INSERT INTO app.notifications (business_id, user_id, kind, title, body, link, subject_id, created_at, read_at)
     SELECT $1::uuid, $2, k, left(ti, 200), '', '/b/' || $1::uuid || '/deals/' || s, s, ${ago('a')},
            CASE WHEN r THEN ${ago('a')} + interval '5 minutes' END
       FROM unnest($3::text[], $4::text[], $5::uuid[], $6::int[], $7::boolean[]) AS u(k, ti, s, a, r)`,
    [
      businessId,
      userId,
      nt.map((n) => n.kind),
      nt.map((n) => `Deal assigned to you: ${d[n.subject]!.title}`),
      nt.map((n) => dealIds[n.subject]),
      nt.map((n) => n.age_min),
      nt.map((n) => n.read),
    ],
  );
}
