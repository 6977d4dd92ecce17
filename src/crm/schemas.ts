// Request and response schemas of the CRM routes (zod → validation + OpenAPI). Inputs
// are strict: an unknown key (say, a smuggled business_id) is a 400, not ignored.
// Phone and email are length-bounded here but checked by the service, so a bad one
// answers with its own stable code (invalid_phone / invalid_email).
import { z } from 'zod';
import { CONTACT_KINDS, CONTACT_SOURCES, CONTACT_STATUSES, NAME_MAX, NOTES_MAX } from './contact-fields.ts';
import { CONTACT_SORTS } from './contact-list.ts';
import { DEFAULT_PAGE, MAX_PAGE } from './cursor.ts';
import { CUSTOM_ENTITIES, CUSTOM_FIELD_TYPES, KEY_PATTERN } from './custom-fields.ts';
import { DEAL_STAGES, LOAN_PURPOSES, LOAN_TYPES, MAX_AMOUNT_CENTS, MILESTONES, type Milestone } from './deals.ts';
import { BULK_MAX, LIST_NAME_MAX } from './lists.ts';
import { NOTE_MAX } from './notes.ts';

// The status, source, kind, stage and loan-type lists, named in /openapi.json's components:
// the web app's types and option lists are generated from them (npm run gen:api).
export const contactStatus = z.enum(CONTACT_STATUSES).meta({ id: 'ContactStatus' });
export const contactSource = z.enum(CONTACT_SOURCES).meta({ id: 'ContactSource' });
export const contactKind = z.enum(CONTACT_KINDS).meta({ id: 'ContactKind' });
export const dealStage = z.enum(DEAL_STAGES).meta({ id: 'DealStage' });
export const loanType = z.enum(LOAN_TYPES).meta({ id: 'LoanType' });

export const uuid = z.uuid();
export const bidParams = z.object({ bid: uuid });
export const idParams = z.object({ bid: uuid, id: uuid });
export const pageQuery = z.object({
  cursor: z.string().max(1024).optional(),
  limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(DEFAULT_PAGE),
});
export const boolQuery = z.enum(['true', 'false']).transform((v) => v === 'true');
const userRef = z.union([z.literal('me'), uuid]);
const isoDate = z.iso.date();
const ts = z.string();
const nullableTs = z.string().nullable();
export const pageOf = <T extends z.ZodType>(item: T) =>
  z.object({ items: z.array(item), next_cursor: z.string().nullable() });

// --- custom fields (docs/ARCHITECTURE.md §12) ---------------------------
const customValue = z.union([z.string(), z.number(), z.boolean()]);
/** Values on a record, by key: text, number, money (cents), date (YYYY-MM-DD), choice, checkbox. */
export const customValues = z
  .record(z.string(), customValue)
  .describe('custom field values by key; money in cents, dates as YYYY-MM-DD');
/** A patch of values: a key set to null is removed. Keys are checked against the definitions. */
export const customPatch = z
  .record(z.string().max(40), customValue.nullable())
  .refine((o) => Object.keys(o).length <= 50, 'at most 50 custom values')
  .describe('custom field values to set, by key; null removes a value');
export const customFieldSchema = z.object({
  id: z.string(),
  business_id: z.string(),
  entity: z.enum(CUSTOM_ENTITIES),
  key: z.string().describe('stable; the merge field is {{ contact.custom.<key> }} or {{ deal.custom.<key> }}'),
  label: z.string(),
  type: z.enum(CUSTOM_FIELD_TYPES),
  options: z.array(z.string()),
  position: z.number(),
  created_at: z.string(),
  updated_at: z.string(),
});
const optionList = z.array(z.string().trim().min(1).max(80)).max(50);
export const customFieldCreate = z
  .object({
    entity: z.enum(CUSTOM_ENTITIES),
    key: z.string().regex(KEY_PATTERN, 'Key must start with a letter and use only a–z, 0–9 and _').optional(),
    label: z.string().trim().min(1).max(80),
    type: z.enum(CUSTOM_FIELD_TYPES),
    options: optionList.optional(),
    position: z.number().int().min(0).max(1000).optional(),
  })
  .strict();
export const customFieldUpdate = z
  .object({
    label: z.string().trim().min(1).max(80),
    options: optionList,
    position: z.number().int().min(0).max(1000),
  })
  .partial()
  .strict();
export const customFieldQuery = z.object({ entity: z.enum(CUSTOM_ENTITIES).optional() });

// --- contacts ----------------------------------------------------------------
export const contactSchema = z.object({
  id: z.string(),
  business_id: z.string(),
  first_name: z.string(),
  last_name: z.string(),
  phone: z.string().nullable(),
  email: z.string().nullable(),
  source: contactSource,
  status: contactStatus,
  kind: contactKind.describe("'person' (a borrower or lead), 'realtor' or 'partner' (referral partners)"),
  notes: z.string(),
  owner_id: z.string().nullable(),
  custom: customValues,
  created_at: ts,
  updated_at: ts,
  deleted_at: nullableTs,
});
export const contactFields = {
  first_name: z.string().max(NAME_MAX),
  last_name: z.string().max(NAME_MAX),
  phone: z.string().max(64).nullable(),
  email: z.string().max(320).nullable(),
  source: contactSource,
  status: contactStatus,
  kind: contactKind,
  notes: z.string().max(NOTES_MAX),
  owner_id: uuid.nullable(),
  custom: customPatch,
};
export const contactCreate = z.object(contactFields).partial().strict();
export const contactUpdate = z.object(contactFields).partial().strict();
export const contactQuery = pageQuery.extend({
  sort: z.enum(CONTACT_SORTS).optional(),
  status: contactStatus.optional(),
  source: contactSource.optional(),
  kind: z
    .string()
    .regex(
      new RegExp(`^(${CONTACT_KINDS.join('|')})(,(${CONTACT_KINDS.join('|')}))*$`),
      'kinds are person, realtor or partner',
    )
    .transform((s) => [...new Set(s.split(','))] as (typeof CONTACT_KINDS)[number][])
    .optional()
    .describe('comma-separated kinds, e.g. realtor,partner for the referral partners'),
  import_job_id: uuid.optional().describe('contacts created or updated by this CSV import'),
  list_id: uuid.optional(),
  owner_id: userRef.optional(),
  q: z.string().trim().max(200).optional(),
  deleted: boolQuery.optional(),
  custom: z
    .union([z.string().max(300), z.array(z.string().max(300)).max(5)])
    .optional()
    .describe('custom-field filter key:value (repeatable, up to 5); text matches case-insensitively'),
});
export const listRefSchema = z.object({ id: z.string(), name: z.string(), color: z.string() });
export const optOutSchema = z.object({ our_number: z.string(), keyword: z.string(), opted_out_at: ts });
export const contactDetailSchema = contactSchema.extend({
  lists: z.array(listRefSchema),
  sms_opt_outs: z.array(optOutSchema),
});

// --- lists ---------------------------------------------------------------------
const color = z.string().regex(/^#[0-9a-fA-F]{6}$/, 'a color is #rrggbb');
export const listSchema = z.object({
  id: z.string(),
  business_id: z.string(),
  name: z.string(),
  color: z.string(),
  member_count: z.number(),
  created_at: ts,
  updated_at: ts,
});
export const listCreate = z
  .object({ name: z.string().trim().min(1).max(LIST_NAME_MAX), color: color.optional() })
  .strict();
export const listUpdate = z
  .object({ name: z.string().trim().min(1).max(LIST_NAME_MAX), color })
  .partial()
  .strict();
export const memberIds = z.object({ contact_ids: z.array(uuid).min(1).max(BULK_MAX) }).strict();

// --- deals ---------------------------------------------------------------------
const milestoneDates = <T extends z.ZodType>(date: T) =>
  z.object(Object.fromEntries(MILESTONES.map((m) => [m, date])) as Record<Milestone, T>);
export const dealSchema = z.object({
  id: z.string(),
  business_id: z.string(),
  title: z.string(),
  contact_id: z.string().nullable().describe('the borrower'),
  contact_name: z.string().nullable(),
  co_borrower_id: z.string().nullable(),
  co_borrower_name: z.string().nullable(),
  partner_id: z.string().nullable().describe("the referral partner (a contact of kind 'realtor' or 'partner')"),
  partner_name: z.string().nullable(),
  amount_cents: z.number().describe('loan amount in cents'),
  loan_type: loanType,
  loan_purpose: z.enum(LOAN_PURPOSES).nullable(),
  rate_percent: z.number().nullable().describe('interest rate in percent, three decimals (6.875)'),
  property_address: z.string(),
  stage: dealStage,
  expected_close_date: z.string().nullable(),
  milestones: milestoneDates(z.string().nullable()).describe('the day each milestone happened (YYYY-MM-DD), or null'),
  position: z.number(),
  owner_id: z.string().nullable(),
  custom: customValues,
  created_at: ts,
  updated_at: ts,
});
const dealFields = {
  title: z.string().trim().min(1).max(200),
  contact_id: uuid.nullable(),
  co_borrower_id: uuid.nullable(),
  partner_id: uuid.nullable(),
  amount_cents: z.number().int().min(0).max(MAX_AMOUNT_CENTS),
  loan_type: loanType,
  loan_purpose: z.enum(LOAN_PURPOSES).nullable(),
  rate_percent: z.number().min(0).max(99.999).multipleOf(0.001).nullable(),
  property_address: z.string().max(300),
  stage: dealStage,
  expected_close_date: isoDate.nullable(),
  milestones: milestoneDates(isoDate.nullable()).partial().strict(),
  owner_id: uuid.nullable(),
  custom: customPatch,
};
export const newBorrower = z
  .object({
    first_name: z.string().max(NAME_MAX),
    last_name: z.string().max(NAME_MAX),
    phone: z.string().max(64).nullable(),
    email: z.string().max(320).nullable(),
  })
  .partial()
  .strict();
export const dealCreate = z
  .object({
    ...dealFields,
    borrower: newBorrower.describe('create the borrower with the deal (instead of contact_id), in one transaction'),
  })
  .partial()
  .required({ title: true })
  .strict()
  .refine((d) => !(d.borrower && d.contact_id), {
    message: 'Choose an existing borrower or create a new one, not both.',
    path: ['borrower'],
  });
export const dealUpdate = z.object(dealFields).partial().strict();
export const dealMove = z
  .object({ stage: dealStage.optional(), position: z.number().int().min(0).max(1_000_000).optional() })
  .strict();
export const dealQuery = pageQuery.extend({
  stage: dealStage.optional(),
  contact_id: uuid.optional().describe('deals whose borrower is this contact'),
  party_id: uuid.optional().describe('deals this contact is part of: borrower, co-borrower or referral partner'),
  owner_id: userRef.optional(),
});
export const stageChangeSchema = z.object({
  id: z.string(),
  from_stage: dealStage.nullable(),
  to_stage: dealStage,
  changed_by: z.string().nullable(),
  changed_at: ts,
});

// --- notes, tasks, timeline -----------------------------------------------------
export const noteSchema = z.object({
  id: z.string(),
  business_id: z.string(),
  contact_id: z.string().nullable(),
  deal_id: z.string().nullable(),
  body: z.string(),
  author_id: z.string().nullable(),
  created_at: ts,
  updated_at: ts,
});
export const noteBody = z.object({ body: z.string().trim().min(1).max(NOTE_MAX) }).strict();
export const taskSchema = z.object({
  id: z.string(),
  business_id: z.string(),
  title: z.string(),
  details: z.string(),
  due_date: z.string().nullable(),
  due_at: nullableTs.describe('due time'),
  remind_at: nullableTs.describe('when the "task due" notification goes out; default: at due_at'),
  overdue: z.boolean().describe("open and past due (date-only tasks: before today in the viewer's time zone)"),
  assignee_id: z.string().nullable(),
  contact_id: z.string().nullable(),
  deal_id: z.string().nullable(),
  done: z.boolean(),
  done_at: nullableTs,
  created_by: z.string().nullable(),
  created_at: ts,
  updated_at: ts,
});
const taskFields = {
  title: z.string().trim().min(1).max(200),
  details: z.string().max(5000),
  due_date: isoDate.nullable(),
  due_at: z.iso.datetime({ offset: true }).nullable(),
  remind_at: z.iso.datetime({ offset: true }).nullable(),
  assignee_id: uuid.nullable(),
  contact_id: uuid.nullable(),
  deal_id: uuid.nullable(),
  done: z.boolean(),
};
export const taskCreate = z.object(taskFields).partial().required({ title: true }).strict();
export const taskUpdate = z.object(taskFields).partial().strict();
export const taskQuery = pageQuery.extend({
  assignee: userRef.optional(),
  done: boolQuery.optional(),
  contact_id: uuid.optional(),
  deal_id: uuid.optional(),
});
export const timelineItemSchema = z.object({
  id: z.string(),
  kind: z.string(),
  at: ts,
  actor_id: z.string().nullable(),
  data: z.record(z.string(), z.unknown()),
});

// --- search ------------------------------------------------------------------------
export const searchQuery = z.object({
  q: z.string().trim().min(1).max(200),
  limit: z.coerce.number().int().min(1).max(50).default(10),
});
export const searchSchema = z.object({
  contacts: z.array(contactSchema),
  deals: z.array(
    z.object({
      id: z.string(),
      title: z.string(),
      stage: z.string(),
      amount_cents: z.number(),
      contact_id: z.string().nullable(),
    }),
  ),
  conversations: z.array(
    z.object({
      id: z.string(),
      contact_id: z.string(),
      contact_name: z.string(),
      our_number: z.string(),
      snippet: z.string().nullable(),
    }),
  ),
});
