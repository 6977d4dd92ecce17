// Phone numbers are stored in E.164 (+12024561111); people read them in their national
// format ((202) 456-1111) and tap them to call or text. Numbers from another country
// keep their international form so the country code is not lost.
import { parsePhoneNumberFromString } from 'libphonenumber-js';

export function formatPhone(e164: string | null | undefined): string {
  if (!e164) return '—';
  const parsed = parsePhoneNumberFromString(e164);
  if (!parsed) return e164;
  return parsed.country === 'US' ? parsed.formatNational() : parsed.formatInternational();
}

/** The number with tap-to-call and tap-to-text links (tel:, sms: — RFC 3966 / RFC 5724). */
export function PhoneLinks({ phone }: { phone: string | null | undefined }) {
  if (!phone) return <span>—</span>;
  const shown = formatPhone(phone);
  // Accessible names start with the visible text (WCAG 2.5.3 label in name).
  return (
    <span className="phone-links">
      <a href={`tel:${phone}`} aria-label={`${shown}, call`}>
        {shown}
      </a>{' '}
      <a className="small" href={`sms:${phone}`} aria-label={`Text ${shown}`}>
        Text
      </a>
    </span>
  );
}
