// One CSV row → a contact draft plus the problems found, using the contacts module's
// own field rules (normalisePhone / normaliseEmail, the status and source sets) so an
// imported contact is exactly what the contact form would have stored.
import { AppError } from '../../shared/errors.ts';
import {
  CONTACT_SOURCES,
  CONTACT_STATUSES,
  NAME_MAX,
  NOTES_MAX,
  normaliseEmail,
  normalisePhone,
  type ContactSource,
  type ContactStatus,
} from '../contact-fields.ts';
import type { CustomValues } from '../custom-fields.ts';
import { readCustomCell, type FieldDef } from './custom-cells.ts';
import { restoreEscapedFormula } from './csv-writer.ts';
import { customKeyOf, type HeaderMapping, type ImportTarget } from './header-mapping.ts';

/** Fields of a contact as read from one row; null = not given (never overwrites on update). */
export interface ContactDraft {
  first_name: string | null;
  last_name: string | null;
  phone: string | null;
  email: string | null;
  source: ContactSource | null;
  status: ContactStatus | null;
  notes: string | null;
  /** Values of mapped custom fields given in this row (empty cells are not given). */
  custom: CustomValues | null;
}

export interface RowProblem {
  /** The header of the offending column, when one column is to blame. */
  column: string | null;
  code:
    | 'invalid_phone'
    | 'invalid_email'
    | 'invalid_status'
    | 'invalid_custom'
    | 'value_too_long'
    | 'missing_identity'
    | 'duplicate_in_file'
    | 'duplicate_conflict'
    | 'rejected';
  message: string;
}

export type ValidatedRow = { ok: true; draft: ContactDraft } | { ok: false; problems: RowProblem[] };

const token = (v: string) =>
  v
    .trim()
    .toLowerCase()
    .replace(/[\s-]+/g, '_');

const STATUS_ALIASES: Record<string, ContactStatus> = {
  new: 'lead',
  new_lead: 'lead',
  hot_lead: 'lead',
  cold_lead: 'lead',
  customer: 'client',
  closed: 'client',
  funded: 'client',
  past_customer: 'past_client',
  former_client: 'past_client',
  partner: 'referral_partner',
  realtor: 'referral_partner',
  agent: 'referral_partner',
  dnc: 'do_not_contact',
  do_not_call: 'do_not_contact',
  unsubscribed: 'do_not_contact',
  applicant: 'application',
  applied: 'application',
};

const SOURCE_ALIASES: Record<string, ContactSource> = {
  website: 'web',
  web_form: 'web',
  online: 'web',
  internet: 'web',
  landing_page: 'web',
  referred: 'referral',
  word_of_mouth: 'referral',
  text: 'sms',
  text_message: 'sms',
  zillow_com: 'zillow',
  'zillow.com': 'zillow',
  csv: 'import',
  walk_in: 'manual',
};

export function parseStatus(raw: string): ContactStatus | undefined {
  const t = token(raw);
  if ((CONTACT_STATUSES as readonly string[]).includes(t)) return t as ContactStatus;
  return STATUS_ALIASES[t];
}

/** Unknown sources ("Facebook", "Open house") are kept as 'other' rather than failing the row. */
export function parseSource(raw: string): ContactSource {
  const t = token(raw);
  if ((CONTACT_SOURCES as readonly string[]).includes(t)) return t as ContactSource;
  return SOURCE_ALIASES[t] ?? 'other';
}

/** "Doe, Jane" → Jane / Doe; "Mary Ann Smith" → Mary Ann / Smith. */
export function splitFullName(full: string): { first: string; last: string } {
  const text = full.trim().replace(/\s+/g, ' ');
  const comma = text.indexOf(',');
  if (comma > 0) return { first: text.slice(comma + 1).trim(), last: text.slice(0, comma).trim() };
  const space = text.lastIndexOf(' ');
  if (space < 0) return { first: text, last: '' };
  return { first: text.slice(0, space), last: text.slice(space + 1) };
}

export function validateRow(
  cells: readonly string[],
  mapping: HeaderMapping,
  headers: readonly string[],
  fields: readonly FieldDef[] = [],
): ValidatedRow {
  const problems: RowProblem[] = [];
  const col = (t: ImportTarget) =>
    mapping[t] === undefined ? null : (headers[mapping[t]!] ?? `Column ${mapping[t]! + 1}`);
  const cell = (t: ImportTarget): string => {
    const i = mapping[t];
    return i === undefined ? '' : restoreEscapedFormula((cells[i] ?? '').trim());
  };
  const draft: ContactDraft = {
    first_name: null,
    last_name: null,
    phone: null,
    email: null,
    source: null,
    status: null,
    notes: null,
    custom: null,
  };

  let first = cell('first_name');
  let last = cell('last_name');
  if (!first && !last && cell('full_name')) ({ first, last } = splitFullName(cell('full_name')));
  for (const [target, value] of [
    ['first_name', first],
    ['last_name', last],
  ] as const) {
    if (value.length > NAME_MAX) {
      problems.push({
        column: col(target) ?? col('full_name'),
        code: 'value_too_long',
        message: `longer than ${NAME_MAX} characters`,
      });
    } else if (value) draft[target] = value.replace(/[\u0000-\u001f\u007f]+/g, ' ');
  }

  // SMS is the product: the mobile number wins over a landline when both are given.
  const phoneTarget: ImportTarget = cell('mobile') ? 'mobile' : 'phone';
  const phone = cell(phoneTarget);
  if (phone) {
    try {
      draft.phone = normalisePhone(phone);
    } catch (e) {
      if (!(e instanceof AppError)) throw e;
      problems.push({
        column: col(phoneTarget),
        code: 'invalid_phone',
        message: `"${phone.slice(0, 40)}" is not a valid phone number`,
      });
    }
  }
  const email = cell('email');
  if (email) {
    try {
      draft.email = normaliseEmail(email);
    } catch (e) {
      if (!(e instanceof AppError)) throw e;
      problems.push({
        column: col('email'),
        code: 'invalid_email',
        message: `"${email.slice(0, 80)}" is not a valid email address`,
      });
    }
  }
  const status = cell('status');
  if (status) {
    const parsed = parseStatus(status);
    if (parsed) draft.status = parsed;
    else
      problems.push({
        column: col('status'),
        code: 'invalid_status',
        message: `"${status.slice(0, 40)}" is not a status (use one of ${CONTACT_STATUSES.join(', ')})`,
      });
  }
  const source = cell('source');
  if (source) draft.source = parseSource(source);
  const notes = cell('notes');
  if (notes.length > NOTES_MAX)
    problems.push({ column: col('notes'), code: 'value_too_long', message: `longer than ${NOTES_MAX} characters` });
  else if (notes) draft.notes = notes;

  for (const [target, index] of Object.entries(mapping)) {
    const key = customKeyOf(target);
    const field = key === undefined ? undefined : fields.find((f) => f.key === key);
    const raw = index === undefined ? '' : restoreEscapedFormula((cells[index] ?? '').trim());
    if (!field || raw === '') continue;
    const read = readCustomCell(field, raw);
    if (read.ok) (draft.custom ??= {})[field.key] = read.value;
    else
      problems.push({
        column: headers[index!] ?? `Column ${index! + 1}`,
        code: 'invalid_custom',
        message: read.message,
      });
  }

  if (problems.length === 0 && !draft.first_name && !draft.last_name && !draft.phone && !draft.email) {
    problems.push({ column: null, code: 'missing_identity', message: 'the row has no name, phone or email' });
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, draft };
}
