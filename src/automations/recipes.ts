// Mortgage recipes (docs/ARCHITECTURE.md §25): one click makes a draft automation, with its
// text templates, that the owner then edits and activates. Created in the caller's transaction,
// so the policies decide (owners and admins) and the templates are hers.
import type { Tx } from '../db/index.ts';
import { createTemplate } from '../outreach/templates.ts';
import { forbidden, notFound } from '../shared/errors.ts';
import { createAutomation, type Automation, type AutomationInput } from './automations.ts';

type Texts = Record<string, string>;
interface Recipe {
  name: string;
  /** What it does, in a sentence for the person choosing one. */
  about: string;
  texts: Texts;
  build(t: Record<string, string>): Omit<AutomationInput, 'name'>;
}

export const RECIPES = {
  speed_to_lead: {
    name: 'Speed to lead',
    about: 'Text every new lead at once, a task to call if no reply in an hour, follow-up texts on day 2 and day 5.',
    texts: {
      first:
        'Hi {{ contact.first_name | default: "there" }}, this is {{ business.name }}. Thanks for reaching out! When is a good time for a quick call about your loan?',
      day2: 'Hi {{ contact.first_name | default: "there" }}, just following up from {{ business.name }}. Happy to answer any questions about rates or pre-approval.',
      day5: 'Hi {{ contact.first_name | default: "there" }}, {{ business.name }} here once more. Reply any time when you are ready to talk about your home loan.',
    },
    build: (t) => ({
      trigger: { type: 'contact_created' },
      conditions: [{ type: 'has_phone' }, { type: 'not_opted_out' }],
      steps: [
        { type: 'send_sms', template_id: t.first! },
        { type: 'wait', amount: 1, unit: 'hours' },
        { type: 'create_task', title: 'Call the new lead: no reply to the first text', due_in_days: 0 },
        { type: 'wait', amount: 1, unit: 'days' },
        { type: 'send_sms', template_id: t.day2! },
        { type: 'wait', amount: 3, unit: 'days' },
        { type: 'send_sms', template_id: t.day5! },
      ],
      exit: { on_reply: true, on_opt_out: true, reenroll_after_days: 30 },
    }),
  },
  application_nudge: {
    name: 'Application nudge',
    about: 'When a deal enters Application: reminder texts after 2 and 5 days until the stage changes.',
    texts: {
      nudge:
        'Hi {{ contact.first_name | default: "there" }}, a reminder from {{ business.name }}: your loan application is waiting for you. Any questions?',
      last: 'Hi {{ contact.first_name | default: "there" }}, {{ business.name }} again: shall we finish your application together this week?',
    },
    build: (t) => ({
      trigger: { type: 'deal_stage_changed', to: 'application' },
      steps: [
        { type: 'wait', amount: 2, unit: 'days' },
        { type: 'send_sms', template_id: t.nudge! },
        { type: 'wait', amount: 3, unit: 'days' },
        { type: 'send_sms', template_id: t.last! },
      ],
      exit: { on_reply: true, on_opt_out: true, on_deal_stage_change: true },
    }),
  },
  pre_approval_expiring: {
    name: 'Pre-approval expiring',
    about: 'Texts 30 and 7 days before the custom date field "pre_approval_expires_on".',
    texts: {
      month:
        'Hi {{ contact.first_name | default: "there" }}, your pre-approval with {{ business.name }} expires in 30 days. Want to refresh it?',
      week: 'Hi {{ contact.first_name | default: "there" }}, your pre-approval expires in a week. {{ business.name }} can renew it quickly.',
    },
    // The date is the contact's custom date field `pre_approval_expires_on`.
    build: (t) => ({
      trigger: { type: 'date', field: 'custom.pre_approval_expires_on', offset_days: -30, at: '10:00', yearly: false },
      steps: [
        { type: 'send_sms', template_id: t.month! },
        { type: 'wait', amount: 23, unit: 'days' },
        { type: 'send_sms', template_id: t.week! },
      ],
      exit: { on_reply: false, on_opt_out: true },
    }),
  },
  closing_anniversary: {
    name: 'Closing anniversary',
    about: 'A text every year on the day the loan funded.',
    texts: {
      greeting:
        'Happy home anniversary, {{ contact.first_name | default: "friend" }}! Thank you for trusting {{ business.name }} with your loan.',
    },
    build: (t) => ({
      trigger: { type: 'date', field: 'deal.funded_on', offset_days: 0, at: '10:00', yearly: true },
      steps: [{ type: 'send_sms', template_id: t.greeting! }],
      exit: { on_reply: false, on_opt_out: true },
    }),
  },
  birthday: {
    name: 'Birthday',
    about: 'A birthday text every year, from the custom date field "birthday".',
    texts: {
      greeting: 'Happy birthday, {{ contact.first_name | default: "friend" }}! Best wishes from {{ business.name }}.',
    },
    // The date is the contact's custom date field `birthday`.
    build: (t) => ({
      trigger: { type: 'date', field: 'custom.birthday', offset_days: 0, at: '09:00', yearly: true },
      steps: [{ type: 'send_sms', template_id: t.greeting! }],
      exit: { on_reply: false, on_opt_out: true },
    }),
  },
  review_after_funding: {
    name: 'Ask for a review after funding',
    about:
      'A week after the loan funded, a text with your Google review link (needs a Business Profile location; nobody is asked twice within 180 days).',
    texts: {
      ask: 'Hi {{ contact.first_name | default: "there" }}, congratulations again on your new home! If {{ business.name }} helped, would you leave us a quick Google review? {{ business.review_link }}',
    },
    // A week after the deal's funded date; skipped without a Business Profile location or when
    // the contact was asked within 180 days (docs/ARCHITECTURE.md §26 "Review requests").
    build: (t) => ({
      trigger: { type: 'date', field: 'deal.funded_on', offset_days: 7, at: '10:00', yearly: false },
      steps: [{ type: 'request_review', channel: 'sms', template_id: t.ask! }],
      exit: { on_reply: false, on_opt_out: true },
    }),
  },
} satisfies Record<string, Recipe>;

export type RecipeKey = keyof typeof RECIPES;
export const RECIPE_KEYS = Object.keys(RECIPES) as RecipeKey[];

/** The recipes on offer, for the screen that offers them. */
export function listRecipes(): { key: RecipeKey; name: string; about: string }[] {
  return RECIPE_KEYS.map((key) => ({ key, name: RECIPES[key].name, about: RECIPES[key].about }));
}

/** Make the recipe's templates and its draft automation, in the caller's transaction. */
export async function createFromRecipe(
  tx: Tx,
  user: { userId: string },
  businessId: string,
  key: string,
): Promise<Automation> {
  if (!(key in RECIPES)) throw notFound('recipe');
  const recipe: Recipe = RECIPES[key as RecipeKey];
  // The automation first: it is the owner/admin check (a member gets 403 before any template).
  const probe = await tx.query<{ ok: boolean }>(`SELECT app.has_role($1, 'admin') AS ok`, [businessId]);
  if (!probe.rows[0]?.ok) {
    throw forbidden('only owners and admins can create automations');
  }
  const ids: Record<string, string> = {};
  for (const [name, body] of Object.entries(recipe.texts)) {
    const t = await createTemplate(tx, businessId, user.userId, {
      name: `${recipe.name}: ${name}`,
      channel: 'sms',
      body,
    });
    ids[name] = t.id;
  }
  return createAutomation(tx, user, businessId, { name: recipe.name, ...recipe.build(ids) }, key);
}
