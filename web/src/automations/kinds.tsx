// What the automation builder knows about each trigger, condition and step type
// (docs/ARCHITECTURE.md §25): a label, a fresh value for "Add", a one-line summary and the
// fields that edit it. The builder is driven by these tables only, so a new step type is one
// entry here — and the compiler asks for it: the tables are keyed by the generated types'
// unions (`npm run gen:api`), so a type the server gains is a type error until it has one.
import type { ReactNode } from 'react';
import type { ApiResponse } from '../api/typed.ts';
import { SelectField, TextField } from '../components/field.tsx';
import {
  CONTACT_SOURCES,
  CONTACT_STATUSES,
  contactSourceLabel,
  DEAL_STAGES,
  humanize,
  LOAN_TYPES,
  loanTypeLabel,
  type List,
} from '../crm/types.ts';
import type { Template } from '../outreach/templates.tsx';
import type { EmailSender } from '../settings/email-senders.tsx';

export type Automation = ApiResponse<'/api/businesses/{bid}/automations/{id}', 'get'>;
export type Trigger = Automation['trigger'];
export type Condition = Automation['conditions'][number];
export type Step = Automation['steps'][number];
export type ExitRules = Automation['exit'];
export type Definition = Pick<Automation, 'trigger' | 'conditions' | 'steps' | 'exit'>;

export interface Member {
  user_id: string;
  email: string;
  name?: string | null;
}

/** The business's records a definition can name. */
export interface Refs {
  templates: Template[];
  lists: List[];
  members: Member[];
  senders: EmailSender[];
}

interface EditorProps<T> {
  value: T;
  set: (next: T) => void;
  refs: Refs;
}

/** One type of trigger, condition or step. */
export interface Kind<T> {
  label: string;
  /** A new value of this type, as "Add" makes it. */
  make(refs: Refs): T;
  /** One line for lists and read-only views. */
  summary(value: T, refs: Refs): string;
  /** The fields that edit it (none for a type without parameters). */
  Editor?: (props: EditorProps<T>) => ReactNode;
  /** What is missing before it can be saved, as a sentence (the server checks it again). */
  missing?(value: T): string | null;
}

type Table<U extends { type: string }> = { [K in U['type']]: Kind<Extract<U, { type: K }>> };

/** The entry for a value's type, or undefined for a type this build does not know. */
export function kindOf<U extends { type: string }>(table: Table<U>, type: string): Kind<U> | undefined {
  return (table as unknown as Record<string, Kind<U> | undefined>)[type];
}

// --- Small shared editors -------------------------------------------------------------------

const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
const WEEKDAY_LABELS: Record<(typeof WEEKDAYS)[number], string> = {
  mon: 'Mon',
  tue: 'Tue',
  wed: 'Wed',
  thu: 'Thu',
  fri: 'Fri',
  sat: 'Sat',
  sun: 'Sun',
};
const DEAL_DATE_FIELDS = ['expected_close_date', 'application_on', 'clear_to_close_on', 'funded_on'] as const;
const DEAL_DATE_LABELS: Record<string, string> = {
  expected_close_date: 'Expected closing date',
  application_on: 'Application date',
  clear_to_close_on: 'Clear to close date',
  funded_on: 'Funded date',
};

/** A set of checkboxes in a fieldset: the legend names the group for screen readers. */
function CheckGroup<V extends string>({
  legend,
  options,
  label = humanize,
  value,
  onChange,
}: {
  legend: string;
  options: readonly V[];
  label?: (v: V) => string;
  value: readonly V[];
  onChange: (next: V[]) => void;
}) {
  return (
    <fieldset className="fieldset check-group">
      <legend>{legend}</legend>
      {options.map((o) => (
        <label key={o} className="checkbox">
          <input
            type="checkbox"
            checked={value.includes(o)}
            onChange={(e) => onChange(e.target.checked ? [...value, o] : value.filter((v) => v !== o))}
          />
          <span>{label(o)}</span>
        </label>
      ))}
    </fieldset>
  );
}

function ListPicker({
  value,
  set,
  refs,
  label = 'List',
}: {
  value: string;
  set: (id: string) => void;
  refs: Refs;
  label?: string;
}) {
  return (
    <SelectField label={label} required value={value} onChange={(e) => set(e.target.value)}>
      <option value="">Choose a list…</option>
      {refs.lists.map((l) => (
        <option key={l.id} value={l.id}>
          {l.name}
        </option>
      ))}
    </SelectField>
  );
}

const listName = (refs: Refs, id: string) => refs.lists.find((l) => l.id === id)?.name ?? 'a list';
const templateName = (refs: Refs, id: string) => refs.templates.find((t) => t.id === id)?.name ?? 'a template';
const memberName = (refs: Refs, id: string) => {
  const m = refs.members.find((x) => x.user_id === id);
  return m ? m.name || m.email : 'a team member';
};
const orList = (values: readonly string[], label: (v: string) => string = humanize) => values.map(label).join(' or ');
const plural = (n: number, unit: string) => `${n} ${n === 1 ? unit.replace(/s$/, '') : unit}`;
const intOf = (s: string, fallback: number) =>
  s.trim() === '' || Number.isNaN(Number(s)) ? fallback : Math.trunc(Number(s));

// --- Triggers -------------------------------------------------------------------------------

type T<K extends Trigger['type']> = Extract<Trigger, { type: K }>;
const VIA = ['manual', 'import', 'inbound_sms'] as const;
const VIA_LABELS: Record<string, string> = {
  manual: 'Added by hand',
  import: 'CSV import',
  inbound_sms: 'Inbound text',
};

function dateFieldLabel(field: string): string {
  if (field.startsWith('deal.')) return DEAL_DATE_LABELS[field.slice(5)] ?? humanize(field.slice(5));
  return `${humanize(field.replace(/^custom\./, ''))} (custom field)`;
}

export const TRIGGERS: Table<Trigger> = {
  contact_created: {
    label: 'Contact created',
    make: () => ({ type: 'contact_created' }),
    summary: (t: T<'contact_created'>) =>
      t.via?.length
        ? `A contact is created (${orList(t.via, (v) => VIA_LABELS[v] ?? v).toLowerCase()})`
        : 'A contact is created',
    Editor: ({ value, set }: EditorProps<T<'contact_created'>>) => (
      <CheckGroup
        legend="Created how (none checked: any way)"
        options={VIA}
        label={(v) => VIA_LABELS[v] ?? v}
        value={value.via ?? []}
        onChange={(via) => set(via.length ? { type: 'contact_created', via } : { type: 'contact_created' })}
      />
    ),
  },
  list_added: {
    label: 'Contact added to a list',
    make: (refs) => ({ type: 'list_added', list_id: refs.lists[0]?.id ?? '' }),
    summary: (t: T<'list_added'>, refs) => `A contact is added to ${listName(refs, t.list_id)}`,
    Editor: ({ value, set, refs }: EditorProps<T<'list_added'>>) => (
      <ListPicker value={value.list_id} set={(list_id) => set({ ...value, list_id })} refs={refs} />
    ),
    missing: (t) => (t.list_id ? null : 'Choose the list that starts the automation.'),
  },
  deal_stage_changed: {
    label: 'Deal stage changed',
    make: () => ({ type: 'deal_stage_changed', to: 'application' }),
    summary: (t: T<'deal_stage_changed'>) =>
      `A deal moves${t.from ? ` from ${humanize(t.from)}` : ''}${t.to ? ` to ${humanize(t.to)}` : ''}`,
    Editor: ({ value, set }: EditorProps<T<'deal_stage_changed'>>) => (
      <div className="grid-2">
        <SelectField
          label="From stage"
          value={value.from ?? ''}
          onChange={(e) => set({ ...value, from: (e.target.value || undefined) as T<'deal_stage_changed'>['from'] })}
        >
          <option value="">Any stage</option>
          {DEAL_STAGES.map((s) => (
            <option key={s} value={s}>
              {humanize(s)}
            </option>
          ))}
        </SelectField>
        <SelectField
          label="To stage"
          value={value.to ?? ''}
          onChange={(e) => set({ ...value, to: (e.target.value || undefined) as T<'deal_stage_changed'>['to'] })}
        >
          <option value="">Any stage</option>
          {DEAL_STAGES.map((s) => (
            <option key={s} value={s}>
              {humanize(s)}
            </option>
          ))}
        </SelectField>
      </div>
    ),
  },
  contact_status_changed: {
    label: 'Contact status changed',
    make: () => ({ type: 'contact_status_changed', to: 'client' }),
    summary: (t: T<'contact_status_changed'>) =>
      t.to ? `A contact's status becomes ${humanize(t.to)}` : "A contact's status changes",
    Editor: ({ value, set }: EditorProps<T<'contact_status_changed'>>) => (
      <SelectField
        label="New status"
        value={value.to ?? ''}
        onChange={(e) => set({ ...value, to: (e.target.value || undefined) as T<'contact_status_changed'>['to'] })}
      >
        <option value="">Any status</option>
        {CONTACT_STATUSES.map((s) => (
          <option key={s} value={s}>
            {humanize(s)}
          </option>
        ))}
      </SelectField>
    ),
  },
  inbound_sms_keyword: {
    label: 'Inbound text with a keyword',
    make: () => ({ type: 'inbound_sms_keyword', keyword: '' }),
    summary: (t: T<'inbound_sms_keyword'>) => `A contact texts "${t.keyword}"`,
    Editor: ({ value, set }: EditorProps<T<'inbound_sms_keyword'>>) => (
      <TextField
        label="Keyword"
        required
        maxLength={30}
        pattern="[A-Za-z0-9]{1,30}"
        hint="One word of letters and digits; the whole text must be this word (any case)."
        value={value.keyword}
        onChange={(e) => set({ ...value, keyword: e.target.value.trim() })}
      />
    ),
    missing: (t) =>
      /^[A-Za-z0-9]{1,30}$/.test(t.keyword) ? null : 'The keyword must be one word of letters and digits.',
  },
  date: {
    label: 'A date (birthday, closing, expiry)',
    make: () => ({ type: 'date', field: 'deal.funded_on', offset_days: 0, at: '10:00', yearly: true }),
    summary: (t: T<'date'>) => {
      const when =
        t.offset_days === 0
          ? 'On'
          : `${plural(Math.abs(t.offset_days), 'days')} ${t.offset_days < 0 ? 'before' : 'after'}`;
      return `${when} the ${dateFieldLabel(t.field).toLowerCase()}${t.yearly ? ', every year' : ''}, at ${t.at}`;
    },
    Editor: ({ value, set }: EditorProps<T<'date'>>) => {
      const custom = value.field.startsWith('custom.');
      return (
        <div className="grid-2">
          <SelectField
            label="Date"
            value={custom ? 'custom' : value.field}
            onChange={(e) => set({ ...value, field: e.target.value === 'custom' ? 'custom.birthday' : e.target.value })}
          >
            {DEAL_DATE_FIELDS.map((f) => (
              <option key={f} value={`deal.${f}`}>
                Deal: {DEAL_DATE_LABELS[f]}
              </option>
            ))}
            <option value="custom">A custom date field of the contact</option>
          </SelectField>
          {custom && (
            <TextField
              label="Custom field key"
              required
              pattern="[a-z][a-z0-9_]{0,39}"
              hint="As defined in Settings → Custom fields, e.g. birthday."
              value={value.field.slice('custom.'.length)}
              onChange={(e) => set({ ...value, field: `custom.${e.target.value.trim()}` })}
            />
          )}
          <TextField
            label="Days from the date"
            type="number"
            min={-365}
            max={365}
            hint="Negative: before the date (-30 is 30 days before)."
            value={String(value.offset_days)}
            onChange={(e) => set({ ...value, offset_days: intOf(e.target.value, 0) })}
          />
          <TextField
            label="At (local time)"
            type="time"
            required
            value={value.at}
            onChange={(e) => set({ ...value, at: e.target.value })}
          />
          <label className="checkbox">
            <input
              type="checkbox"
              checked={value.yearly ?? false}
              onChange={(e) => set({ ...value, yearly: e.target.checked })}
            />
            <span>Every year on the anniversary</span>
          </label>
        </div>
      );
    },
    missing: (t) =>
      /^custom\.[a-z][a-z0-9_]{0,39}$/.test(t.field) || t.field.startsWith('deal.')
        ? null
        : 'The custom field key must be lowercase letters, digits and underscores.',
  },
};

// --- Conditions -----------------------------------------------------------------------------

type C<K extends Condition['type']> = Extract<Condition, { type: K }>;

export const CONDITIONS: Table<Condition> = {
  contact_status: {
    label: 'Contact status is',
    make: () => ({ type: 'contact_status', in: ['lead'] }),
    summary: (c: C<'contact_status'>) => `Status is ${orList(c.in)}`,
    Editor: ({ value, set }: EditorProps<C<'contact_status'>>) => (
      <CheckGroup
        legend="Statuses"
        options={CONTACT_STATUSES}
        value={value.in}
        onChange={(v) => set({ ...value, in: v })}
      />
    ),
    missing: (c) => (c.in.length ? null : 'Check at least one status.'),
  },
  contact_source: {
    label: 'Contact source is',
    make: () => ({ type: 'contact_source', in: ['web'] }),
    summary: (c: C<'contact_source'>) => `Source is ${orList(c.in, contactSourceLabel)}`,
    Editor: ({ value, set }: EditorProps<C<'contact_source'>>) => (
      <CheckGroup
        legend="Sources"
        options={CONTACT_SOURCES}
        label={contactSourceLabel}
        value={value.in}
        onChange={(v) => set({ ...value, in: v })}
      />
    ),
    missing: (c) => (c.in.length ? null : 'Check at least one source.'),
  },
  in_list: {
    label: 'Is in a list',
    make: (refs) => ({ type: 'in_list', list_id: refs.lists[0]?.id ?? '' }),
    summary: (c: C<'in_list'>, refs) => `Is in ${listName(refs, c.list_id)}`,
    Editor: ({ value, set, refs }: EditorProps<C<'in_list'>>) => (
      <ListPicker value={value.list_id} set={(list_id) => set({ ...value, list_id })} refs={refs} />
    ),
    missing: (c) => (c.list_id ? null : 'Choose a list.'),
  },
  not_in_list: {
    label: 'Is not in a list',
    make: (refs) => ({ type: 'not_in_list', list_id: refs.lists[0]?.id ?? '' }),
    summary: (c: C<'not_in_list'>, refs) => `Is not in ${listName(refs, c.list_id)}`,
    Editor: ({ value, set, refs }: EditorProps<C<'not_in_list'>>) => (
      <ListPicker value={value.list_id} set={(list_id) => set({ ...value, list_id })} refs={refs} />
    ),
    missing: (c) => (c.list_id ? null : 'Choose a list.'),
  },
  deal_loan_type: {
    label: 'Deal loan type is',
    make: () => ({ type: 'deal_loan_type', in: ['fha'] }),
    summary: (c: C<'deal_loan_type'>) => `Loan type is ${orList(c.in, loanTypeLabel)}`,
    Editor: ({ value, set }: EditorProps<C<'deal_loan_type'>>) => (
      <CheckGroup
        legend="Loan types"
        options={LOAN_TYPES}
        label={loanTypeLabel}
        value={value.in}
        onChange={(v) => set({ ...value, in: v })}
      />
    ),
    missing: (c) => (c.in.length ? null : 'Check at least one loan type.'),
  },
  deal_stage: {
    label: 'Deal stage is',
    make: () => ({ type: 'deal_stage', in: ['application'] }),
    summary: (c: C<'deal_stage'>) => `Deal stage is ${orList(c.in)}`,
    Editor: ({ value, set }: EditorProps<C<'deal_stage'>>) => (
      <CheckGroup legend="Stages" options={DEAL_STAGES} value={value.in} onChange={(v) => set({ ...value, in: v })} />
    ),
    missing: (c) => (c.in.length ? null : 'Check at least one stage.'),
  },
  has_phone: { label: 'Has a phone', make: () => ({ type: 'has_phone' }), summary: () => 'Has a phone' },
  has_email: { label: 'Has an email', make: () => ({ type: 'has_email' }), summary: () => 'Has an email' },
  not_opted_out: {
    label: 'Has not opted out',
    make: () => ({ type: 'not_opted_out' }),
    summary: () => 'Has not opted out (no STOP, no unsubscribe)',
  },
};

// --- Steps ----------------------------------------------------------------------------------

type S<K extends Step['type']> = Extract<Step, { type: K }>;

function TemplatePicker({
  value,
  set,
  refs,
  channel,
}: {
  value: string;
  set: (id: string) => void;
  refs: Refs;
  channel: 'sms' | 'email';
}) {
  const options = refs.templates.filter((t) => t.channel === channel);
  const chosen = options.find((t) => t.id === value);
  return (
    <SelectField
      label={channel === 'sms' ? 'Text template' : 'Email template'}
      required
      value={value}
      onChange={(e) => set(e.target.value)}
      hint={
        chosen ? (
          <span className="template-peek">{chosen.body.slice(0, 160)}</span>
        ) : (
          'Templates are written under Templates.'
        )
      }
    >
      <option value="">Choose a template…</option>
      {options.map((t) => (
        <option key={t.id} value={t.id}>
          {t.name}
        </option>
      ))}
    </SelectField>
  );
}

export const STEPS: Table<Step> = {
  wait: {
    label: 'Wait',
    make: () => ({ type: 'wait', amount: 1, unit: 'days' }),
    summary: (s: S<'wait'>) => `Wait ${plural(s.amount, s.unit)}`,
    Editor: ({ value, set }: EditorProps<S<'wait'>>) => (
      <div className="inline-form">
        <TextField
          label="Wait for"
          type="number"
          min={1}
          max={10000}
          required
          value={String(value.amount)}
          onChange={(e) => set({ ...value, amount: intOf(e.target.value, 1) })}
        />
        <SelectField
          label="Unit"
          value={value.unit}
          onChange={(e) => set({ ...value, unit: e.target.value as S<'wait'>['unit'] })}
        >
          <option value="minutes">Minutes</option>
          <option value="hours">Hours</option>
          <option value="days">Days (same local time)</option>
        </SelectField>
      </div>
    ),
    missing: (s) => (s.amount >= 1 ? null : 'A wait must be at least 1.'),
  },
  wait_until: {
    label: 'Wait until a day and time',
    make: () => ({ type: 'wait_until', weekdays: ['mon', 'tue', 'wed', 'thu', 'fri'], at: '09:00' }),
    summary: (s: S<'wait_until'>) =>
      `Wait until ${s.weekdays?.length ? s.weekdays.map((d) => WEEKDAY_LABELS[d]).join(', ') : 'any day'} at ${s.at}`,
    Editor: ({ value, set }: EditorProps<S<'wait_until'>>) => (
      <>
        <CheckGroup
          legend="On (none checked: any day)"
          options={WEEKDAYS}
          label={(d) => WEEKDAY_LABELS[d]}
          value={value.weekdays ?? []}
          onChange={(weekdays) => set({ ...value, weekdays: weekdays.length ? weekdays : undefined })}
        />
        <TextField
          label="At (local time)"
          type="time"
          required
          value={value.at}
          onChange={(e) => set({ ...value, at: e.target.value })}
        />
      </>
    ),
  },
  send_sms: {
    label: 'Send a text',
    make: (refs) => ({ type: 'send_sms', template_id: refs.templates.find((t) => t.channel === 'sms')?.id ?? '' }),
    summary: (s: S<'send_sms'>, refs) => `Text "${templateName(refs, s.template_id)}"`,
    Editor: ({ value, set, refs }: EditorProps<S<'send_sms'>>) => (
      <TemplatePicker
        channel="sms"
        value={value.template_id}
        set={(template_id) => set({ ...value, template_id })}
        refs={refs}
      />
    ),
    missing: (s) => (s.template_id ? null : 'Choose the text template to send.'),
  },
  send_email: {
    label: 'Send an email',
    make: (refs) => ({ type: 'send_email', template_id: refs.templates.find((t) => t.channel === 'email')?.id ?? '' }),
    summary: (s: S<'send_email'>, refs) => {
      const sender = s.sender_id ? refs.senders.find((x) => x.id === s.sender_id) : undefined;
      return `Email "${templateName(refs, s.template_id)}"${sender ? ` from ${sender.from_email}` : ''}`;
    },
    Editor: ({ value, set, refs }: EditorProps<S<'send_email'>>) => (
      <>
        <TemplatePicker
          channel="email"
          value={value.template_id}
          set={(template_id) => set({ ...value, template_id })}
          refs={refs}
        />
        <SelectField
          label="From"
          value={value.sender_id ?? ''}
          onChange={(e) => set({ ...value, sender_id: e.target.value || undefined })}
          hint={refs.senders.length === 0 ? 'Add an email sender in Settings → Integrations first.' : undefined}
        >
          <option value="">The default sender</option>
          {refs.senders.map((x) => (
            <option key={x.id} value={x.id}>
              {x.from_name} &lt;{x.from_email}&gt;
            </option>
          ))}
        </SelectField>
      </>
    ),
    missing: (s) => (s.template_id ? null : 'Choose the email template to send.'),
  },
  request_review: {
    label: 'Ask for a Google review',
    make: (refs) => ({
      type: 'request_review',
      channel: 'sms',
      template_id: refs.templates.find((t) => t.channel === 'sms')?.id ?? '',
    }),
    summary: (s: S<'request_review'>, refs) => {
      const sender = s.sender_id ? refs.senders.find((x) => x.id === s.sender_id) : undefined;
      return `Ask for a review by ${s.channel === 'sms' ? 'text' : 'email'}: "${templateName(refs, s.template_id)}"${
        sender ? ` from ${sender.from_email}` : ''
      }`;
    },
    Editor: ({ value, set, refs }: EditorProps<S<'request_review'>>) => (
      <>
        <SelectField
          label="Channel"
          value={value.channel}
          onChange={(e) => set({ type: 'request_review', channel: e.target.value as 'sms' | 'email', template_id: '' })}
          hint="The template must include {{ business.review_link }}. Skipped without a Business Profile location, or when the contact was asked within 180 days."
        >
          <option value="sms">Text</option>
          <option value="email">Email</option>
        </SelectField>
        <TemplatePicker
          channel={value.channel}
          value={value.template_id}
          set={(template_id) => set({ ...value, template_id })}
          refs={refs}
        />
        {value.channel === 'email' && (
          <SelectField
            label="From"
            value={value.sender_id ?? ''}
            onChange={(e) => set({ ...value, sender_id: e.target.value || undefined })}
          >
            <option value="">The default sender</option>
            {refs.senders.map((x) => (
              <option key={x.id} value={x.id}>
                {x.from_name} &lt;{x.from_email}&gt;
              </option>
            ))}
          </SelectField>
        )}
      </>
    ),
    missing: (s) => (s.template_id ? null : 'Choose the template that asks for the review.'),
  },
  create_task: {
    label: 'Create a task',
    make: () => ({ type: 'create_task', title: 'Call the contact', assignee: 'contact_owner', due_in_days: 0 }),
    summary: (s: S<'create_task'>, refs) =>
      `Task "${s.title}" for ${s.assignee === 'contact_owner' ? "the contact's owner" : memberName(refs, s.assignee)}, due ${
        s.due_in_days ? `in ${plural(s.due_in_days, 'days')}` : 'the same day'
      }`,
    Editor: ({ value, set, refs }: EditorProps<S<'create_task'>>) => (
      <div className="grid-2">
        <TextField
          label="Task title"
          required
          maxLength={200}
          value={value.title}
          onChange={(e) => set({ ...value, title: e.target.value })}
        />
        <SelectField
          label="Assign to"
          value={value.assignee ?? 'contact_owner'}
          onChange={(e) => set({ ...value, assignee: e.target.value })}
        >
          <option value="contact_owner">The contact&apos;s owner</option>
          {refs.members.map((m) => (
            <option key={m.user_id} value={m.user_id}>
              {m.name || m.email}
            </option>
          ))}
        </SelectField>
        <TextField
          label="Due in (days)"
          type="number"
          min={0}
          max={365}
          value={String(value.due_in_days ?? 0)}
          onChange={(e) => set({ ...value, due_in_days: intOf(e.target.value, 0) })}
        />
      </div>
    ),
    missing: (s) => (s.title.trim() ? null : 'A task needs a title.'),
  },
  move_deal_stage: {
    label: "Move the deal's stage",
    make: () => ({ type: 'move_deal_stage', stage: 'processing' }),
    summary: (s: S<'move_deal_stage'>) => `Move the deal to ${humanize(s.stage)}`,
    Editor: ({ value, set }: EditorProps<S<'move_deal_stage'>>) => (
      <SelectField
        label="Stage"
        value={value.stage}
        onChange={(e) => set({ ...value, stage: e.target.value as S<'move_deal_stage'>['stage'] })}
      >
        {DEAL_STAGES.map((s) => (
          <option key={s} value={s}>
            {humanize(s)}
          </option>
        ))}
      </SelectField>
    ),
  },
  set_contact_status: {
    label: "Set the contact's status",
    make: () => ({ type: 'set_contact_status', status: 'prospect' }),
    summary: (s: S<'set_contact_status'>) => `Set the status to ${humanize(s.status)}`,
    Editor: ({ value, set }: EditorProps<S<'set_contact_status'>>) => (
      <SelectField
        label="Status"
        value={value.status}
        onChange={(e) => set({ ...value, status: e.target.value as S<'set_contact_status'>['status'] })}
      >
        {CONTACT_STATUSES.map((s) => (
          <option key={s} value={s}>
            {humanize(s)}
          </option>
        ))}
      </SelectField>
    ),
  },
  add_to_list: {
    label: 'Add to a list',
    make: (refs) => ({ type: 'add_to_list', list_id: refs.lists[0]?.id ?? '' }),
    summary: (s: S<'add_to_list'>, refs) => `Add to ${listName(refs, s.list_id)}`,
    Editor: ({ value, set, refs }: EditorProps<S<'add_to_list'>>) => (
      <ListPicker value={value.list_id} set={(list_id) => set({ ...value, list_id })} refs={refs} />
    ),
    missing: (s) => (s.list_id ? null : 'Choose a list.'),
  },
  remove_from_list: {
    label: 'Remove from a list',
    make: (refs) => ({ type: 'remove_from_list', list_id: refs.lists[0]?.id ?? '' }),
    summary: (s: S<'remove_from_list'>, refs) => `Remove from ${listName(refs, s.list_id)}`,
    Editor: ({ value, set, refs }: EditorProps<S<'remove_from_list'>>) => (
      <ListPicker value={value.list_id} set={(list_id) => set({ ...value, list_id })} refs={refs} />
    ),
    missing: (s) => (s.list_id ? null : 'Choose a list.'),
  },
  notify: {
    label: 'Notify a team member',
    make: () => ({ type: 'notify', to: 'contact_owner' }),
    summary: (s: S<'notify'>, refs) =>
      `Notify ${
        s.to === 'contact_owner'
          ? "the contact's owner"
          : s.to === 'admins'
            ? 'the owners and admins'
            : memberName(refs, s.to)
      }${s.message ? `: "${s.message}"` : ''}`,
    Editor: ({ value, set, refs }: EditorProps<S<'notify'>>) => (
      <div className="grid-2">
        <SelectField
          label="Notify"
          value={value.to ?? 'contact_owner'}
          onChange={(e) => set({ ...value, to: e.target.value })}
        >
          <option value="contact_owner">The contact&apos;s owner</option>
          <option value="admins">Every owner and admin</option>
          {refs.members.map((m) => (
            <option key={m.user_id} value={m.user_id}>
              {m.name || m.email}
            </option>
          ))}
        </SelectField>
        <TextField
          label="Message (optional)"
          maxLength={200}
          hint="Empty: the automation's name and the contact's."
          value={value.message ?? ''}
          onChange={(e) => set({ ...value, message: e.target.value.trim() ? e.target.value : undefined })}
        />
      </div>
    ),
  },
  draft_ai_reply: {
    label: 'Draft an AI reply for review',
    make: () => ({ type: 'draft_ai_reply' }),
    summary: () => 'Draft an AI reply for a person to approve (never sent by itself)',
  },
};

/** Sentences for whatever the form still lacks, each naming where it is. */
export function missingParts(def: Definition): string[] {
  const out: string[] = [];
  const t = kindOf(TRIGGERS, def.trigger.type)?.missing?.(def.trigger);
  if (t) out.push(`Trigger: ${t}`);
  def.conditions.forEach((c, i) => {
    const m = kindOf(CONDITIONS, c.type)?.missing?.(c);
    if (m) out.push(`Condition ${i + 1}: ${m}`);
  });
  if (def.steps.length === 0) out.push('Add at least one step.');
  def.steps.forEach((s, i) => {
    const m = kindOf(STEPS, s.type)?.missing?.(s);
    if (m) out.push(`Step ${i + 1}: ${m}`);
  });
  return out;
}
