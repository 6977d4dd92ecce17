// An automation's definition (docs/ARCHITECTURE.md §25): a trigger, conditions, ordered
// steps and exit rules. Stored as one JSON document per version (app.automation_versions),
// validated here on the way in and again when the scheduler reads it, so a step only ever
// runs a shape this file knows.
import { z } from 'zod';
import { CONTACT_SOURCES, CONTACT_STATUSES } from '../crm/contact-fields.ts';
import { DEAL_STAGES, LOAN_TYPES } from '../crm/deals.ts';
import { WEEKDAYS, type Weekday } from '../shared/local-time.ts';

/** How a contact came to exist, for the "contact created" trigger. */
export const CREATED_VIA = ['manual', 'import', 'inbound_sms'] as const;
/** Dates a date trigger can count from: the deal's milestones, or a custom date field. */
export const DEAL_DATE_FIELDS = ['expected_close_date', 'application_on', 'clear_to_close_on', 'funded_on'] as const;

const uuid = () => z.uuid();
/** A local time of day, HH:MM (24 h), in the business's time zone. */
const localTime = z.string().regex(/^([01][0-9]|2[0-3]):[0-5][0-9]$/, 'a time as HH:MM');

export const triggerSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('contact_created'), via: z.array(z.enum(CREATED_VIA)).min(1).max(3).optional() }).strict(),
  z.object({ type: z.literal('list_added'), list_id: uuid() }).strict(),
  z
    .object({
      type: z.literal('deal_stage_changed'),
      from: z.enum(DEAL_STAGES).optional(),
      to: z.enum(DEAL_STAGES).optional(),
    })
    .strict(),
  z.object({ type: z.literal('contact_status_changed'), to: z.enum(CONTACT_STATUSES).optional() }).strict(),
  z
    .object({
      type: z.literal('inbound_sms_keyword'),
      // One word, matched case-insensitively against the whole trimmed text.
      keyword: z.string().regex(/^[A-Za-z0-9]{1,30}$/, 'one word of letters and digits'),
    })
    .strict(),
  z
    .object({
      type: z.literal('date'),
      // `deal.<milestone>` or `custom.<key>` (a custom date field of the contact).
      field: z.union([
        z.enum(DEAL_DATE_FIELDS.map((f) => `deal.${f}` as const) as [string, ...string[]]),
        z.string().regex(/^custom\.[a-z][a-z0-9_]{0,39}$/),
      ]),
      /** Days after the date (negative: before). */
      offset_days: z.number().int().min(-365).max(365),
      at: localTime,
      /** Every year on the date's anniversary (birthdays, closing anniversaries). */
      yearly: z.boolean().default(false),
    })
    .strict(),
]);
export type Trigger = z.infer<typeof triggerSchema>;
export type TriggerType = Trigger['type'];

export const conditionSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('contact_status'), in: z.array(z.enum(CONTACT_STATUSES)).min(1) }).strict(),
  z.object({ type: z.literal('contact_source'), in: z.array(z.enum(CONTACT_SOURCES)).min(1) }).strict(),
  z.object({ type: z.literal('in_list'), list_id: uuid() }).strict(),
  z.object({ type: z.literal('not_in_list'), list_id: uuid() }).strict(),
  z.object({ type: z.literal('deal_loan_type'), in: z.array(z.enum(LOAN_TYPES)).min(1) }).strict(),
  z.object({ type: z.literal('deal_stage'), in: z.array(z.enum(DEAL_STAGES)).min(1) }).strict(),
  z.object({ type: z.literal('has_phone') }).strict(),
  z.object({ type: z.literal('has_email') }).strict(),
  z.object({ type: z.literal('not_opted_out') }).strict(),
]);
export type Condition = z.infer<typeof conditionSchema>;

const weekday = z.enum(WEEKDAYS);
export type { Weekday };

export const stepSchema = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('wait'),
      amount: z.number().int().min(1).max(10_000),
      unit: z.enum(['minutes', 'hours', 'days']),
    })
    .strict(),
  z
    .object({
      type: z.literal('wait_until'),
      /** The next of these weekdays (any day when omitted) at `at`, local time. */
      weekdays: z.array(weekday).min(1).max(7).optional(),
      at: localTime,
    })
    .strict(),
  z.object({ type: z.literal('send_sms'), template_id: uuid() }).strict(),
  z
    .object({
      type: z.literal('send_email'),
      /** An email template of the business. */
      template_id: uuid(),
      /** One of the business's email senders; its default sender when omitted. */
      sender_id: uuid().optional(),
    })
    .strict(),
  z
    .object({
      type: z.literal('create_task'),
      title: z.string().trim().min(1).max(200),
      /** A member's id, or the contact's owner (falls back to the automation's author). */
      assignee: z.union([z.literal('contact_owner'), uuid()]).default('contact_owner'),
      due_in_days: z.number().int().min(0).max(365).default(0),
    })
    .strict(),
  z.object({ type: z.literal('move_deal_stage'), stage: z.enum(DEAL_STAGES) }).strict(),
  z.object({ type: z.literal('set_contact_status'), status: z.enum(CONTACT_STATUSES) }).strict(),
  z.object({ type: z.literal('add_to_list'), list_id: uuid() }).strict(),
  z.object({ type: z.literal('remove_from_list'), list_id: uuid() }).strict(),
  z
    .object({
      type: z.literal('notify'),
      /**
       * Who gets the in-app notification: the contact's owner (falls back to the automation's
       * author), every owner and admin, or one member by id.
       */
      to: z.union([z.literal('contact_owner'), z.literal('admins'), uuid()]).default('contact_owner'),
      /** The notification's text; "<automation>: <contact>" when omitted. */
      message: z.string().trim().min(1).max(200).optional(),
    })
    .strict(),
  /**
   * Ask the contact for a Google review (docs/ARCHITECTURE.md §26): the template (of `channel`,
   * with `{{ business.review_link }}`) sent like send_sms / send_email, unless no location is
   * attached or the contact was asked within 180 days.
   */
  z
    .object({
      type: z.literal('request_review'),
      channel: z.enum(['sms', 'email']),
      template_id: uuid(),
      /** Email only: one of the business's email senders; its default sender when omitted. */
      sender_id: uuid().optional(),
    })
    .strict(),
  /** An AI-drafted reply to the contact, queued for a person to approve, edit or discard; never sent by itself. */
  z.object({ type: z.literal('draft_ai_reply') }).strict(),
]);
export type Step = z.infer<typeof stepSchema>;
export type StepType = Step['type'];

export const exitSchema = z
  .object({
    /** Any inbound text from the contact ends the run. */
    on_reply: z.boolean().default(true),
    /** A STOP (or an email unsubscribe) ends the run. */
    on_opt_out: z.boolean().default(true),
    /** For deal triggers: the deal leaving the stage it entered ends the run. */
    on_deal_stage_change: z.boolean().default(false),
    /** Do not enroll a contact again within this many days of their last enrollment. */
    reenroll_after_days: z.number().int().min(0).max(3650).nullable().default(null),
  })
  .strict();
export type ExitRules = z.infer<typeof exitSchema>;

export const definitionSchema = z
  .object({
    trigger: triggerSchema,
    conditions: z.array(conditionSchema).max(20).default([]),
    steps: z.array(stepSchema).min(1).max(50),
    exit: exitSchema.default({
      on_reply: true,
      on_opt_out: true,
      on_deal_stage_change: false,
      reenroll_after_days: null,
    }),
  })
  .strict();
export type Definition = z.infer<typeof definitionSchema>;
export type DefinitionInput = z.input<typeof definitionSchema>;

/** A stored definition, read back; a row this code cannot parse fails the enrollment, never runs. */
export function parseStoredDefinition(json: unknown): Definition | undefined {
  const r = definitionSchema.safeParse(json);
  return r.success ? r.data : undefined;
}
