// Model output is text (docs/SECURITY.md "AI assistance"): the web app renders it escaped, never
// as HTML or Markdown. Before a person sees it, every phone number and email address
// in it is compared with the ones this context may mention — the contact's own and
// the business's (its Twilio numbers and what its FAQ states) — and any other is
// flagged: a model told to "list every contact's phone number" cannot know one, but a
// hallucinated or injected number must not reach a borrower unnoticed.
import { findPhoneNumbersInText } from 'libphonenumber-js';
import type { AiContext } from './context.ts';

export interface OutputFlag {
  kind: 'phone' | 'email';
  value: string;
  reason: 'not_the_contacts_or_business';
}

const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g;

function phonesIn(text: string): Array<{ raw: string; e164: string }> {
  return findPhoneNumbersInText(text, 'US').map((p) => ({
    raw: text.slice(p.startsAt, p.endsAt),
    e164: p.number.number,
  }));
}

const emailsIn = (text: string) => [...text.matchAll(EMAIL)].map((m) => m[0].toLowerCase());

/** Control characters other than newline and tab are removed: output is shown as plain text. */
export function plainText(text: string): string {
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f\u202a-\u202e\u2066-\u2069]/g, '').trim();
}

export function flagUnknownContacts(text: string, ctx: Pick<AiContext, 'knownContacts' | 'about'>): OutputFlag[] {
  const phones = new Set([...ctx.knownContacts.phones, ...phonesIn(ctx.about).map((p) => p.e164)]);
  const emails = new Set([...ctx.knownContacts.emails.map((e) => e.toLowerCase()), ...emailsIn(ctx.about)]);
  const flags: OutputFlag[] = [];
  const seen = new Set<string>();
  for (const p of phonesIn(text)) {
    if (!phones.has(p.e164) && !seen.has(p.e164)) {
      seen.add(p.e164);
      flags.push({ kind: 'phone', value: p.raw, reason: 'not_the_contacts_or_business' });
    }
  }
  for (const e of emailsIn(text)) {
    if (!emails.has(e) && !seen.has(e)) {
      seen.add(e);
      flags.push({ kind: 'email', value: e, reason: 'not_the_contacts_or_business' });
    }
  }
  return flags;
}
