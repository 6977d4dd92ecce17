// Which CSV column feeds which contact field. The guess covers the spellings that
// real exports use (Google/Outlook contacts, Zillow, Excel sheets typed by hand);
// the user can edit it before starting. A mapping is target → column index, so a
// target is fed by at most one column and duplicate header names stay usable. Besides
// the contact's own fields, a target may be one of the business's contact custom fields,
// `custom.<key>` (docs/ARCHITECTURE.md §14).
import { z } from 'zod';
import { AppError } from '../../shared/errors.ts';
import type { FieldDef } from './custom-cells.ts';

export const IMPORT_TARGETS = [
  'first_name',
  'last_name',
  'full_name',
  'phone',
  'mobile',
  'email',
  'source',
  'status',
  'notes',
] as const;
export type ImportTarget = (typeof IMPORT_TARGETS)[number];
export type CustomTarget = `custom.${string}`;
export type HeaderMapping = Partial<Record<ImportTarget | CustomTarget, number>>;

export const CUSTOM_TARGET_PREFIX = 'custom.';
export const customTarget = (key: string): CustomTarget => `${CUSTOM_TARGET_PREFIX}${key}`;
export const customKeyOf = (target: string): string | undefined =>
  target.startsWith(CUSTOM_TARGET_PREFIX) ? target.slice(CUSTOM_TARGET_PREFIX.length) : undefined;

const columnIndex = z.number().int().min(0).max(999).nullable().optional();
export const headerMappingSchema = z
  .object(Object.fromEntries(IMPORT_TARGETS.map((t) => [t, columnIndex])) as Record<ImportTarget, typeof columnIndex>)
  // Any other key must be `custom.<key>` of a contact custom field (checked by checkMapping).
  .catchall(columnIndex)
  .describe('target → column index; targets are the fields above or custom.<key> of a contact custom field');

/** Header spellings per target, compared after normalising (lower case, letters and digits only). */
const SYNONYMS: Record<ImportTarget, string[]> = {
  first_name: [
    'firstname',
    'first',
    'fname',
    'givenname',
    'forename',
    'borrowerfirstname',
    'contactfirstname',
    'prenom',
    'nombre',
  ],
  last_name: ['lastname', 'last', 'lname', 'surname', 'familyname', 'borrowerlastname', 'contactlastname', 'apellido'],
  full_name: [
    'name',
    'fullname',
    'contactname',
    'contact',
    'displayname',
    'borrower',
    'borrowername',
    'clientname',
    'leadname',
  ],
  phone: [
    'phone',
    'phonenumber',
    'telephone',
    'tel',
    'homephone',
    'workphone',
    'businessphone',
    'primaryphone',
    'phone1',
    'phone1value',
    'landline',
    'officephone',
  ],
  mobile: ['mobile', 'mobilephone', 'mobilenumber', 'cell', 'cellphone', 'cellnumber', 'cellular', 'sms', 'textnumber'],
  email: ['email', 'emailaddress', 'email1', 'email1value', 'mail', 'emailaddr', 'primaryemail', 'e-mail', 'eaddress'],
  source: ['source', 'leadsource', 'origin', 'channel', 'referralsource', 'howdidyouhear'],
  status: ['status', 'leadstatus', 'stage', 'contactstatus', 'type', 'contacttype'],
  notes: ['notes', 'note', 'comments', 'comment', 'description', 'remarks', 'memo'],
};

const normalise = (h: string) => h.toLowerCase().replace(/[^a-z0-9]/g, '');

export function guessMapping(headers: readonly string[], fields: readonly FieldDef[] = []): HeaderMapping {
  const lookup = new Map<string, ImportTarget | CustomTarget>();
  // A custom field is found by its label, its key or custom.<key> (our export's header
  // when a label collides); the contact's own fields win a tie.
  for (const f of fields) {
    for (const s of [f.label, f.key, customTarget(f.key)]) lookup.set(normalise(s), customTarget(f.key));
  }
  for (const target of IMPORT_TARGETS) {
    for (const s of SYNONYMS[target]) lookup.set(normalise(s), target);
  }
  const mapping: HeaderMapping = {};
  headers.forEach((header, index) => {
    const target = lookup.get(normalise(header));
    // First column wins: "Phone 1" before "Phone 2" in Google's export.
    if (target && mapping[target] === undefined) mapping[target] = index;
  });
  // A sheet with both "Name" and "First Name" means the split columns; drop the guess.
  if (mapping.full_name !== undefined && (mapping.first_name !== undefined || mapping.last_name !== undefined)) {
    delete mapping.full_name;
  }
  return mapping;
}

/**
 * Checks a user-edited mapping against the file's columns and the business's contact
 * custom fields, and drops null entries.
 */
export function checkMapping(
  input: Record<string, number | null | undefined>,
  columnCount: number,
  fields: readonly FieldDef[] = [],
): HeaderMapping {
  const mapping: HeaderMapping = {};
  const used = new Map<number, string>();
  const keys = new Set(fields.map((f) => f.key));
  for (const [target, index] of Object.entries(input)) {
    if (index === null || index === undefined) continue;
    const key = customKeyOf(target);
    if (key !== undefined && !keys.has(key)) {
      throw new AppError('validation_failed', `There is no contact custom field "${key.slice(0, 40)}"`, {
        details: { key: key.slice(0, 40) },
      });
    }
    if (key === undefined && !(IMPORT_TARGETS as readonly string[]).includes(target)) {
      throw new AppError('validation_failed', `unknown mapping target "${target.slice(0, 60)}"`);
    }
    if (!Number.isInteger(index) || index < 0 || index >= columnCount) {
      throw new AppError(
        'validation_failed',
        `mapping.${target}: column ${index} does not exist (the file has ${columnCount} columns)`,
      );
    }
    const other = used.get(index);
    if (other) throw new AppError('validation_failed', `column ${index} is mapped to both ${other} and ${target}`);
    used.set(index, target);
    mapping[target as ImportTarget | CustomTarget] = index;
  }
  const identifies = ['first_name', 'last_name', 'full_name', 'phone', 'mobile', 'email'].some(
    (t) => mapping[t as ImportTarget] !== undefined,
  );
  if (!identifies) {
    throw new AppError('validation_failed', 'map at least one of name, phone, mobile or email to a column');
  }
  return mapping;
}

/**
 * The columns a mapping reads, in file order. Error rows keep only these cells: an
 * unmapped column (an SSN, a credit score) was never meant to enter Capto, so it is
 * not copied out of the staged file, which is deleted when the job ends.
 */
export function mappedColumns(mapping: HeaderMapping): number[] {
  return [...new Set(Object.values(mapping).filter((i): i is number => typeof i === 'number'))].sort((a, b) => a - b);
}
