// Contact field rules shared by the contacts service and the CSV import: phone numbers
// are stored as E.164 (one spelling per number, so duplicate detection and SMS routing
// agree), emails trimmed and lower-cased. Invalid input is a 400 with a stable code.
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js';
import { AppError } from '../shared/errors.ts';

export const CONTACT_SOURCES = ['web', 'referral', 'zillow', 'sms', 'import', 'manual', 'other'] as const;
export const CONTACT_STATUSES = [
  'lead',
  'prospect',
  'application',
  'client',
  'past_client',
  'referral_partner',
  'do_not_contact',
] as const;
/** Who a contact is to the loan officer: a borrower or lead ('person'), or a referral partner. */
export const CONTACT_KINDS = ['person', 'realtor', 'partner'] as const;
export type ContactKind = (typeof CONTACT_KINDS)[number];
export type ContactSource = (typeof CONTACT_SOURCES)[number];
export type ContactStatus = (typeof CONTACT_STATUSES)[number];

export const DEFAULT_PHONE_REGION: CountryCode = 'US';
export const NAME_MAX = 100;
export const NOTES_MAX = 10_000;
export const EMAIL_MAX = 254; // RFC 5321 path limit

/** E.164 form of `raw`, read in `region` when it has no country code; throws `invalid_phone`. */
export function normalisePhone(raw: string, region: CountryCode = DEFAULT_PHONE_REGION): string {
  const text = raw.trim();
  // A 40-character cap keeps the parser away from pathological input; real numbers with
  // spacing and an extension fit easily.
  if (text.length === 0 || text.length > 40) throw new AppError('invalid_phone', 'the phone number is not valid');
  const parsed = parsePhoneNumberFromString(text, region);
  if (!parsed || !parsed.isValid())
    throw new AppError('invalid_phone', `"${text.slice(0, 40)}" is not a valid phone number`);
  return parsed.number;
}

// Deliberately simple (WHATWG's "valid e-mail address" shape): one @, a dotted domain,
// no spaces or control characters. Deliverability is not ours to judge here.
const EMAIL =
  /^[a-z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/;

/** Trimmed, lower-cased email; throws `invalid_email`. */
export function normaliseEmail(raw: string): string {
  const email = raw.trim().toLowerCase();
  if (email.length < 3 || email.length > EMAIL_MAX || !EMAIL.test(email)) {
    throw new AppError('invalid_email', 'the email address is not valid');
  }
  return email;
}

/** Only the digits of a search term, for matching phone numbers however they are typed. */
export function digitsOf(text: string): string {
  return text.replace(/\D/g, '');
}
