// Writes generated demo data (seed.ts) into a fresh demo business: one multi-row
// INSERT … SELECT FROM unnest(…) per table, inside the caller's service transaction,
// so a demo appears whole or not at all.
import { randomUUID } from 'node:crypto';
import type { Tx } from '../db/index.ts';
import { DEMO_OUR_NUMBER, MILESTONE_ORDER, type DemoData } from './seed.ts';

const ids = (n: number) => Array.from({ length: n }, () => randomUUID());
const ago = (col: string) => `now() - make_interval(mins => ${col})`;

export async function writeDemoData(tx: Tx, businessId: string, userId: string, data: DemoData): Promise<void> {
  const contactIds = ids(data.contacts.length);
  const c = data.contacts;
  await tx.query(
    `INSERT INTO app.contacts (id, business_id, first_name, last_name, phone, email, source, status, notes, owner_id, created_at, updated_at, kind)
     SELECT id, $1, f, l, p, e, s::app.contact_source, st::app.contact_status, n, $2, ${ago('a')}, ${ago('a')}, k::app.contact_kind
       FROM unnest($3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::int[], $12::text[])
         AS t(id, f, l, p, e, s, st, n, a, k)`,
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
  const milestoneArgs = MILESTONE_ORDER.map((_, k) => `$${17 + k}::int[]`).join(', ');
  const milestoneNames = MILESTONE_ORDER.map((_, k) => `m${k}`).join(', ');
  await tx.query(
    `INSERT INTO app.deals (id, business_id, title, contact_id, amount_cents, loan_type, stage, expected_close_date, position, owner_id,
                            created_at, updated_at, co_borrower_id, partner_id, property_address, rate_percent, loan_purpose, ${milestoneCols})
     SELECT id, $1, ti, c, amt, lt::app.loan_type, st::app.deal_stage, current_date + cd, pos, $2, ${ago('a')}, ${ago('a')},
            co, pa, addr, rate, lp::app.loan_purpose, ${milestoneVals}
       FROM unnest($3::uuid[], $4::text[], $5::uuid[], $6::bigint[], $7::text[], $8::text[], $9::int[], $10::int[], $11::int[],
                   $12::uuid[], $13::uuid[], $14::text[], $15::numeric[], $16::text[], ${milestoneArgs})
         AS t(id, ti, c, amt, lt, st, cd, pos, a, co, pa, addr, rate, lp, ${milestoneNames})`,
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

  const t = data.tasks;
  await tx.query(
    `INSERT INTO app.tasks (business_id, title, due_date, assignee_id, contact_id, done, done_at, created_by)
     SELECT $1, ti, current_date + due, $2, c, dn, CASE WHEN dn THEN now() END, $2 FROM unnest($3::text[], $4::int[], $5::uuid[], $6::boolean[]) AS t(ti, due, c, dn)`,
    [
      businessId,
      userId,
      t.map((x) => x.title),
      t.map((x) => x.due_in_days),
      t.map((x) => contactIds[x.contact]),
      t.map((x) => x.done),
    ],
  );
}
