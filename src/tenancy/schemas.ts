// Request and response shapes of the workspace API (zod → validation and OpenAPI).
import { z } from 'zod';

export const roleSchema = z.enum(['owner', 'admin', 'member']);
export const businessParams = z.object({ bid: z.uuid() });
export const memberParams = z.object({ bid: z.uuid(), uid: z.uuid() });
export const invitationParams = z.object({ bid: z.uuid(), id: z.uuid() });

const name = z.string().trim().min(1).max(200);
// NMLS unique identifiers are digits only; "" clears the field.
const nmls = z
  .string()
  .trim()
  .regex(/^[0-9]{1,12}$/, 'NMLS number must be 1–12 digits')
  .nullable();

// An IANA time zone name, checked as it will be used: Intl (the automations' and quiet hours'
// arithmetic) must know it — Intl.supportedValuesOf would not do, as ICU lists only the names
// IANA replaced (Asia/Calcutta, not Asia/Kolkata). The shape is app.is_time_zone's, which the
// database checks again, so an offset such as +05:00 (no zone, no DST) is refused here too.
const TIME_ZONE_SHAPE = /^[A-Za-z][A-Za-z0-9_]*(\/[A-Za-z0-9_+-]+){0,2}$/;
const TIME_ZONE_HINT = 'an IANA time zone name such as America/New_York';
function isKnownTimeZone(tz: string): boolean {
  if (!TIME_ZONE_SHAPE.test(tz)) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false; // RangeError: a zone the runtime does not know
  }
}
export const timeZoneSchema = z.string().trim().max(64, TIME_ZONE_HINT).refine(isKnownTimeZone, TIME_ZONE_HINT);
// A mailing address for campaign footers (CAN-SPAM); "" or null clears it.
const postalAddress = z
  .string()
  .trim()
  .max(500)
  .transform((v) => (v === '' ? null : v))
  .nullable();

export const createBusinessBody = z.strictObject({ name, nmls_number: nmls.optional() });
export const updateBusinessBody = z.strictObject({
  name: name.optional(),
  nmls_number: nmls.optional(),
  time_zone: timeZoneSchema.optional(),
  postal_address: postalAddress.optional(),
});
export const deleteBusinessBody = z.strictObject({ confirm_name: z.string().max(400) });
export const changeRoleBody = z.strictObject({ role: roleSchema });
export const inviteBody = z.strictObject({
  email: z
    .string()
    .trim()
    .max(254)
    .pipe(z.email())
    .transform((e) => e.toLowerCase()),
  role: roleSchema.default('member'),
});
export const acceptBody = z.strictObject({ token: z.string().max(200) });

export const businessSchema = z.object({
  id: z.string(),
  name: z.string(),
  nmls_number: z.string().nullable(),
  time_zone: z.string(),
  postal_address: z.string().nullable(),
  role: roleSchema,
  is_demo: z.boolean(),
  created_at: z.string(),
  trial: z.object({ ends_at: z.string(), active: z.boolean(), days_left: z.number() }),
  demo_expires_at: z.string().nullable(),
});
export const memberSchema = z.object({
  user_id: z.string(),
  email: z.string(),
  role: roleSchema,
  joined_at: z.string(),
});
export const invitationSchema = z.object({
  id: z.string(),
  email: z.string(),
  role: roleSchema,
  invited_by: z.string().nullable(),
  created_at: z.string(),
  expires_at: z.string(),
  expired: z.boolean(),
});
export const meSchema = z.object({
  user: z.object({ id: z.string(), email: z.string(), email_verified: z.boolean(), created_at: z.string() }),
  businesses: z.array(businessSchema),
  flags: z.object({
    needs_onboarding: z.boolean(),
    email_verified: z.boolean(),
    is_demo: z.boolean(),
    demo_expires_at: z.string().nullable(),
    google_sign_in: z.boolean(),
  }),
});
export const createdInvitationSchema = z.object({
  invitation: invitationSchema,
  /** Shown once: the inviter may pass the link on herself. */
  token: z.string(),
  link: z.string(),
  mail_sent: z.boolean(),
});
