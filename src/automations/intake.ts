// Trigger intake (docs/ARCHITECTURE.md §25): turns the trigger events the CRM's writes left
// in app.automation_trigger_events (migration 0103) into enrollments. One service transaction
// per batch takes the events (`FOR UPDATE SKIP LOCKED`, so nodes split them), judges each
// against every active automation of its kind — the trigger's own parameters, the conditions,
// the re-enrollment window —, inserts the enrollments and deletes the events. A crash rolls the
// whole batch back; an event seen twice (a retried batch, a second node) meets the enrollment's
// unique key (automation, contact, trigger event) and enrolls nobody.
import type { Database, Tx } from '../db/index.ts';
import { localDate, localParts } from '../shared/local-time.ts';
import { parseStoredDefinition, type Condition, type Definition, type TriggerType } from './definition.ts';

interface EventRow {
  id: string;
  business_id: string;
  type: 'contact_created' | 'list_added' | 'deal_stage_changed' | 'contact_status_changed' | 'inbound_sms';
  contact_id: string;
  deal_id: string | null;
  source_id: string;
  details: Record<string, unknown>;
}

interface ActiveAutomation {
  id: string;
  version: number;
  definition: Definition;
}

const TRIGGER_OF: Record<EventRow['type'], TriggerType> = {
  contact_created: 'contact_created',
  list_added: 'list_added',
  deal_stage_changed: 'deal_stage_changed',
  contact_status_changed: 'contact_status_changed',
  inbound_sms: 'inbound_sms_keyword',
};

/** The enrollment's trigger event id: the same event always gives the same id. */
function eventKey(e: EventRow): string {
  if (e.type === 'list_added') return `list_added:${e.source_id}:${String(e.details.added_at ?? '0')}`;
  return `${e.type}:${e.source_id}`;
}

interface ContactFacts {
  status: string;
  source: string;
  has_phone: boolean;
  has_email: boolean;
  opted_out: boolean;
  lists: string[];
  deal_stage: string | null;
  deal_loan_type: string | null;
  deleted: boolean;
}

async function contactFacts(tx: Tx, e: EventRow): Promise<ContactFacts | undefined> {
  const r = await tx.query<ContactFacts>(
    `SELECT c.status::text AS status, c.source::text AS source, c.phone IS NOT NULL AS has_phone,
            c.email IS NOT NULL AS has_email, c.deleted_at IS NOT NULL AS deleted,
            (EXISTS (SELECT 1 FROM app.sms_opt_outs o WHERE o.business_id = c.business_id AND o.contact_id = c.id)
             OR EXISTS (SELECT 1 FROM app.email_suppressions s WHERE s.business_id = c.business_id
                         AND s.email = lower(c.email::text) AND s.reason = 'unsubscribed')) AS opted_out,
            array(SELECT m.list_id::text FROM app.list_members m WHERE m.business_id = c.business_id AND m.contact_id = c.id) AS lists,
            d.stage::text AS deal_stage, d.loan_type::text AS deal_loan_type
       FROM app.contacts c
       LEFT JOIN LATERAL (
         SELECT stage, loan_type FROM app.deals d
          WHERE d.business_id = c.business_id AND (d.id = $3 OR ($3::uuid IS NULL AND d.contact_id = c.id
                AND d.stage NOT IN ('funded', 'lost')))
          ORDER BY d.updated_at DESC LIMIT 1) d ON true
      WHERE c.business_id = $1 AND c.id = $2`,
    [e.business_id, e.contact_id, e.deal_id],
  );
  return r.rows[0];
}

function meets(c: Condition, f: ContactFacts): boolean {
  switch (c.type) {
    case 'contact_status':
      return (c.in as string[]).includes(f.status);
    case 'contact_source':
      return (c.in as string[]).includes(f.source);
    case 'in_list':
      return f.lists.includes(c.list_id);
    case 'not_in_list':
      return !f.lists.includes(c.list_id);
    case 'deal_loan_type':
      return f.deal_loan_type !== null && (c.in as string[]).includes(f.deal_loan_type);
    case 'deal_stage':
      return f.deal_stage !== null && (c.in as string[]).includes(f.deal_stage);
    case 'has_phone':
      return f.has_phone;
    case 'has_email':
      return f.has_email;
    case 'not_opted_out':
      return !f.opted_out;
  }
}

/** Does the event match the trigger's own parameters? (`body`: an inbound text's text.) */
function triggerMatches(def: Definition, e: EventRow, body: string | undefined): boolean {
  const t = def.trigger;
  switch (t.type) {
    case 'contact_created':
      return !t.via || (t.via as string[]).includes(String(e.details.via));
    case 'list_added':
      return e.source_id === t.list_id;
    case 'deal_stage_changed':
      return (t.from === undefined || e.details.from === t.from) && (t.to === undefined || e.details.to === t.to);
    case 'contact_status_changed':
      return t.to === undefined || e.details.to === t.to;
    case 'inbound_sms_keyword':
      return body !== undefined && body.trim().toLowerCase() === t.keyword.toLowerCase();
    case 'date':
      return false; // not an event: enrollDateTriggers finds due dates itself
  }
}

/** Insert one enrollment (and its `enrolled` event) unless the key or the window refuses it. */
async function enroll(
  tx: Tx,
  a: ActiveAutomation,
  e: Pick<EventRow, 'business_id' | 'contact_id' | 'deal_id'>,
  key: string,
  now: Date,
): Promise<boolean> {
  const days = a.definition.exit.reenroll_after_days;
  // "Don't enroll the same contact twice within N days" (null: no window).
  const r = await tx.query<{ id: string }>(
    `INSERT INTO app.automation_enrollments
       (business_id, automation_id, version, contact_id, deal_id, trigger_event_id, next_run_at, enrolled_at)
     SELECT $1, $2, $3, $4, $5, $6, $7, $7
      WHERE $8::int IS NULL OR NOT EXISTS (
        SELECT 1 FROM app.automation_enrollments p
         WHERE p.business_id = $1 AND p.automation_id = $2 AND p.contact_id = $4
           AND p.enrolled_at > $7::timestamptz - make_interval(days => $8::int))
     ON CONFLICT (business_id, automation_id, contact_id, trigger_event_id) DO NOTHING
     RETURNING id`,
    [e.business_id, a.id, a.version, e.contact_id, e.deal_id, key, now, days],
  );
  const id = r.rows[0]?.id;
  if (!id) return false;
  await tx.query(
    `INSERT INTO app.automation_enrollment_events (business_id, enrollment_id, contact_id, kind, details, created_at)
     VALUES ($1, $2, $3, 'enrolled', $4, clock_timestamp())`,
    [e.business_id, id, e.contact_id, { trigger: a.definition.trigger.type, version: a.version }],
  );
  return true;
}

export interface IntakeResult {
  events: number;
  enrolled: number;
}

/** Take up to `batch` pending trigger events and enroll; returns what was done. */
export async function intakeTriggerEvents(db: Database, now: Date, batch = 500): Promise<IntakeResult> {
  return db.asService('automations.intake', async (tx) => {
    const events = (
      await tx.query<EventRow>(
        `SELECT id::text, business_id, type, contact_id, deal_id, source_id, details
           FROM app.automation_trigger_events ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [batch],
      )
    ).rows;
    if (events.length === 0) return { events: 0, enrolled: 0 };
    const automations = new Map<string, ActiveAutomation[]>();
    const activeFor = async (businessId: string, trigger: TriggerType) => {
      const k = `${businessId}:${trigger}`;
      let list = automations.get(k);
      if (!list) {
        const r = await tx.query<{ id: string; version: number; definition: unknown }>(
          `SELECT a.id, a.version, v.definition FROM app.automations a
             JOIN app.automation_versions v ON v.business_id = a.business_id AND v.automation_id = a.id AND v.version = a.version
            WHERE a.business_id = $1 AND a.trigger_type = $2 AND a.status = 'active'`,
          [businessId, trigger],
        );
        list = r.rows.flatMap((a) => {
          const definition = parseStoredDefinition(a.definition);
          return definition ? [{ id: a.id, version: a.version, definition }] : [];
        });
        automations.set(k, list);
      }
      return list;
    };
    let enrolled = 0;
    for (const e of events) {
      const candidates = await activeFor(e.business_id, TRIGGER_OF[e.type]);
      if (candidates.length === 0) continue;
      let body: string | undefined;
      if (e.type === 'inbound_sms') {
        const m = await tx.query<{ body: string }>(
          `SELECT body FROM app.messages WHERE business_id = $1 AND id = $2 AND direction = 'inbound'`,
          [e.business_id, e.source_id],
        );
        body = m.rows[0]?.body;
      }
      const matching = candidates.filter((a) => triggerMatches(a.definition, e, body));
      if (matching.length === 0) continue;
      const facts = await contactFacts(tx, e);
      if (!facts || facts.deleted) continue;
      for (const a of matching) {
        if (!a.definition.conditions.every((c) => meets(c, facts))) continue;
        if (await enroll(tx, a, e, eventKey(e), now)) enrolled++;
      }
    }
    await tx.query('DELETE FROM app.automation_trigger_events WHERE id = ANY($1::bigint[])', [events.map((e) => e.id)]);
    return { events: events.length, enrolled };
  });
}

/** Take every pending trigger event (batch after batch). */
export async function intakeAll(db: Database, now: Date, signal?: AbortSignal): Promise<number> {
  let enrolled = 0;
  for (;;) {
    const r = await intakeTriggerEvents(db, now);
    enrolled += r.enrolled;
    if (r.events === 0 || signal?.aborted) return enrolled;
  }
}

// The deal date a trigger names, chosen by a parameter ($6) — no name from a definition
// becomes SQL text.
const DEAL_DATE = `(CASE $6 WHEN 'deal.expected_close_date' THEN d.expected_close_date
  WHEN 'deal.application_on' THEN d.application_on WHEN 'deal.clear_to_close_on' THEN d.clear_to_close_on
  WHEN 'deal.funded_on' THEN d.funded_on END)`;

/**
 * Date triggers: for each active automation with a `date` trigger whose local time of day has
 * come in its business's zone, enroll every contact whose date is `offset_days` before today
 * (or, `yearly`, whose date's month and day are — Feb 29 on Feb 28 in a non-leap year). The key
 * `date:<field>:<today>` makes this idempotent: every later tick of the same day finds the
 * enrollments made.
 */
export async function enrollDateTriggers(db: Database, now: Date): Promise<number> {
  return db.asService('automations.dates', async (tx) => {
    const r = await tx.query<{
      id: string;
      business_id: string;
      version: number;
      definition: unknown;
      time_zone: string;
    }>(
      `SELECT a.id, a.business_id, a.version, v.definition, b.time_zone FROM app.automations a
         JOIN app.automation_versions v ON v.business_id = a.business_id AND v.automation_id = a.id AND v.version = a.version
         JOIN app.businesses b ON b.id = a.business_id
        WHERE a.status = 'active' AND a.trigger_type = 'date'`,
    );
    let enrolled = 0;
    for (const row of r.rows) {
      const definition = parseStoredDefinition(row.definition);
      if (!definition || definition.trigger.type !== 'date') continue;
      const trigger = definition.trigger;
      const today = localDate(row.time_zone, now);
      if (localParts(row.time_zone, now).hh * 60 + localParts(row.time_zone, now).mm < minutesOf(trigger.at)) continue;
      const source = localDate(row.time_zone, now, -trigger.offset_days); // the date that falls due today
      const monthDays = anniversaryMonthDays(source);
      const customKey = trigger.field.startsWith('custom.') ? trigger.field.slice('custom.'.length) : null;
      const due = !customKey
        ? await tx.query<{ contact_id: string; deal_id: string | null }>(
            `SELECT d.contact_id, d.id AS deal_id FROM app.deals d
               JOIN app.contacts c ON c.business_id = d.business_id AND c.id = d.contact_id AND c.deleted_at IS NULL
              WHERE d.business_id = $1 AND ${DEAL_DATE} IS NOT NULL AND $5::text IS NULL
                AND (CASE WHEN $4 THEN to_char(${DEAL_DATE}, 'MM-DD') = ANY($3::text[]) AND ${DEAL_DATE} < $2::date
                          ELSE ${DEAL_DATE} = $2::date END)`,
            [row.business_id, source, monthDays, trigger.yearly, customKey, trigger.field],
          )
        : await tx.query<{ contact_id: string; deal_id: string | null }>(
            `SELECT c.id AS contact_id, NULL::uuid AS deal_id FROM app.contacts c
              WHERE c.business_id = $1 AND c.deleted_at IS NULL AND c.custom ? $5
                AND (CASE WHEN $4 THEN substr(c.custom ->> $5, 6, 5) = ANY($3::text[]) AND c.custom ->> $5 < $2
                          ELSE c.custom ->> $5 = $2 END)`,
            [row.business_id, source, monthDays, trigger.yearly, customKey],
          );
      const a = { id: row.id, version: row.version, definition };
      for (const d of due.rows) {
        const e = { business_id: row.business_id, contact_id: d.contact_id, deal_id: d.deal_id };
        if (definition.conditions.length > 0) {
          const facts = await contactFacts(tx, {
            ...e,
            id: '',
            type: 'contact_created',
            source_id: d.contact_id,
            details: {},
          });
          if (!facts || !definition.conditions.every((c) => meets(c, facts))) continue;
        }
        if (await enroll(tx, a, e, `date:${trigger.field}:${today}`, now)) enrolled++;
      }
    }
    return enrolled;
  });
}

/**
 * The month-days (MM-DD) whose yearly anniversary falls on `date`: its own, and in a non-leap
 * year Feb 28 also stands for Feb 29 — the common convention (docs/ARCHITECTURE.md §25), so a
 * loan funded on Feb 29 is remembered once a year, not once in four.
 */
function anniversaryMonthDays(date: string): string[] {
  const y = Number(date.slice(0, 4));
  const isLeap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  const monthDay = date.slice(5);
  return monthDay === '02-28' && !isLeap ? [monthDay, '02-29'] : [monthDay];
}

const minutesOf = (at: string) => Number(at.slice(0, 2)) * 60 + Number(at.slice(3, 5));
