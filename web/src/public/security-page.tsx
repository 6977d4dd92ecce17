// P12: the Security page states what Capto actually does, and how to report a
// vulnerability. The reporting contact is read from /.well-known/security.txt (RFC 9116)
// at render time, so the page and the file can never disagree.
import { useQuery } from '@tanstack/react-query';

interface SecurityTxt {
  contacts: string[];
  expires?: string;
  policy?: string;
  canonical?: string;
}

export function parseSecurityTxt(text: string): SecurityTxt {
  const out: SecurityTxt = { contacts: [] };
  for (const line of text.split(/\r?\n/)) {
    const m = /^([A-Za-z-]+):\s*(.+)$/.exec(line.trim());
    if (!m) continue;
    const [, key, value] = m as unknown as [string, string, string];
    if (/^contact$/i.test(key)) out.contacts.push(value);
    else if (/^expires$/i.test(key)) out.expires = value;
    else if (/^policy$/i.test(key)) out.policy = value;
    else if (/^canonical$/i.test(key)) out.canonical = value;
  }
  return out;
}

function ContactLink({ value }: { value: string }) {
  const label = value.replace(/^mailto:/i, '');
  return /^(mailto:|https:)/i.test(value) ? <a href={value}>{label}</a> : <span>{label}</span>;
}

export function SecurityPage() {
  const txt = useQuery({
    queryKey: ['security.txt'],
    queryFn: async () => {
      const res = await fetch('/.well-known/security.txt', { headers: { accept: 'text/plain' } });
      if (!res.ok) throw new Error(`security.txt answered ${res.status}`);
      return parseSecurityTxt(await res.text());
    },
    staleTime: 3_600_000,
  });
  return (
    <article className="prose">
      <h1>Security at Capto</h1>
      <p>
        Capto holds your borrowers' names, numbers and conversations. This page lists what the product does to protect
        them — each item is enforced in code or in the database and covered by an automated test.
      </p>

      <h2>Report a vulnerability</h2>
      <div className="card" data-testid="security-contact">
        {txt.isPending && <p>Loading the security contact…</p>}
        {txt.isError && (
          <p>
            Our security contact is published in <a href="/.well-known/security.txt">/.well-known/security.txt</a>.
          </p>
        )}
        {txt.data && (
          <>
            <p>
              Send reports to{' '}
              {txt.data.contacts.map((c, i) => (
                <span key={c}>
                  {i > 0 ? ', ' : ''}
                  <ContactLink value={c} />
                </span>
              ))}
              . Please include the steps to reproduce, the affected URL or endpoint and your contact details.
            </p>
            <p className="small muted">
              Published in <a href="/.well-known/security.txt">security.txt</a> (RFC 9116)
              {txt.data.expires ? `, valid until ${new Date(txt.data.expires).toLocaleDateString()}` : ''}.
            </p>
          </>
        )}
        <p>
          We acknowledge reports within three business days, keep you informed while we fix the issue, and credit you if
          you wish. Please do not access other customers' data, degrade the service, or disclose the issue before a fix
          is released. Good-faith research under these rules will not meet legal action from us.
        </p>
      </div>

      <h2>What Capto does</h2>
      <ul>
        <li>
          <strong>Encrypted transport.</strong> Every connection uses HTTPS with TLS 1.2 or newer; older protocols are
          refused and browsers are told to always use HTTPS (HSTS).
        </li>
        <li>
          <strong>Tenant isolation in the database.</strong> Every table has PostgreSQL row-level security enabled and
          forced. A request runs as a restricted database role that can only see rows of businesses you belong to — even
          a bug in application code cannot return another team's data.
        </li>
        <li>
          <strong>Roles enforced by the database.</strong> Owner, admin and member permissions for integrations,
          invitations and team management are checked by database policies, not only by the user interface.
        </li>
        <li>
          <strong>Secrets encrypted at rest.</strong> Twilio auth tokens, Google OAuth tokens and our token-signing keys
          are stored only as AES-256-GCM ciphertext, under a per-business key wrapped by a master key. They are never
          returned by any API, shown in the app, logged or put in an error message. Backups are encrypted too.
        </li>
        <li>
          <strong>Audited integrations.</strong> Adding, removing or changing the default Twilio configuration, and
          connecting or disconnecting Google, writes an audit entry in the same transaction. Audit entries cannot be
          edited or deleted, and a hash chain makes tampering detectable. Admins see them in Settings → Integrations.
        </li>
        <li>
          <strong>Passwords.</strong> Hashed with argon2id. Passwords known from data breaches (checked against Have I
          Been Pwned with k-anonymity — your password never leaves our server, only the first five characters of its
          hash) are refused.
        </li>
        <li>
          <strong>Sessions.</strong> Access tokens are short-lived signed tokens kept only in your browser's memory.
          Refresh tokens live in an HttpOnly cookie, are rotated on every use, and reuse of an old one ends the whole
          session. You can see and revoke your sessions in Settings → Security.
        </li>
        <li>
          <strong>Logging.</strong> Sign-ins, failures, password changes and integration changes are logged with secrets
          redacted; you can review your own recent sign-in activity.
        </li>
        <li>
          <strong>Continuous checks.</strong> An automated scan of the live database fails the build and blocks server
          start if any table's access policy is misconfigured.
        </li>
        <li>
          <strong>Browser hardening.</strong> A strict Content Security Policy allows only our own scripts and styles,
          and pages cannot be framed by other sites.
        </li>
      </ul>
    </article>
  );
}
